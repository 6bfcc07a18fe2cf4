"""A tool's options: :class:`ToolOptions`, one frozen value checked when it is made.

They are spelled out here once. A :class:`~toolvolley.Tool` is made of them (plus its name,
function and parameters); ``@tool``, ``Tool.from_schema`` and ``Tool.with_options`` take them
as keyword arguments typed by :class:`ToolOptionArgs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ._errors import UserError
from ._options import check_count, check_flag, check_seconds
from ._policies import Hedge, Retry
from .runners._base import Runner

if TYPE_CHECKING:
    from ._calls import ToolCall

__all__ = ["OPTION_NAMES", "RunIn", "ToolOptionArgs", "ToolOptions", "option_changes"]

RunIn = Literal["thread", "process"] | str | Runner
"""Where a sync tool runs: ``"thread"`` (default), ``"process"`` (CPU-bound work), the name of
another runner the executor has, or a :class:`Runner` object. Async tools run on the event loop
unless they name a runner object."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToolOptions:
    """How a tool's calls run. Every option has a default; ``None`` means "not limited"/"none".

    * ``timeout``: seconds one call may run; overrides the executor's ``timeout``.
    * ``max_concurrency``: how many calls of this tool may run at once within a batch.
    * ``sequential``: each call a barrier. Calls before it finish first, it runs alone, calls
      after it start once it has finished (the executor's ``mode="serial"`` makes every call
      one). For tools with side effects that others depend on.
    * ``run_in``: ``"thread"`` (default) or ``"process"`` for CPU-bound sync functions, which must
      then be importable by name (defined at module level); or the name of another runner of
      the executor, or a :class:`Runner` object.
    * Side effects, in MCP's vocabulary (``readOnlyHint``, ``destructiveHint``, ``idempotentHint``):
      ``read_only`` (changes nothing), ``destructive`` (may destroy or overwrite state), and
      ``idempotent`` (calling it again with the same arguments has no further effect). Nothing is
      assumed when they are left unset.
    * ``retry``, ``hedge``: a :class:`Retry` or :class:`Hedge` policy, for ``idempotent`` tools
      only (a UserError otherwise): they send the body again.
    * ``allowed_callers``: who may call the tool, sent with its definition (programmatic tool
      calling): ``"direct"`` (the model) and ``"code"`` (code the model writes and the provider
      runs: Anthropic's code-execution tool, OpenAI Responses' ``programmatic``); any other
      text is sent as it is (``"code_execution_20260120"``). ``None``: not stated (the model).
    * ``reconcile``: after a crash, for a call that started and has no recorded result, a
      function (sync or async) given the :class:`ToolCall` that looks its effect up and returns
      the result, ``NOT_DONE`` (the call runs) or ``UNKNOWN`` (it is answered ``in_doubt``);
      see ``toolvolley.stores.journal``.
    """

    timeout: float | None = None
    max_concurrency: int | None = None
    sequential: bool = False
    run_in: RunIn = "thread"
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    retry: Retry | None = None
    hedge: Hedge | None = None
    allowed_callers: tuple[str, ...] | None = None
    reconcile: Callable[[ToolCall], Any] | None = None

    def __post_init__(self) -> None:
        self._check_options("ToolOptions")

    def _check_options(self, owner: str) -> None:
        """Check the options, naming ``owner`` (e.g. ``Tool 'search'``) in what is wrong."""
        check_seconds(f"{owner}: timeout", self.timeout)
        _check_callers(owner, self)
        check_count(f"{owner}: max_concurrency", self.max_concurrency)
        for flag in ("sequential", "read_only", "destructive", "idempotent"):
            check_flag(f"{owner}: {flag}", getattr(self, flag))
        if self.read_only and self.destructive:
            raise UserError(f"{owner} cannot be both read_only and destructive.")
        for label, policy, kind in (("retry", self.retry, Retry), ("hedge", self.hedge, Hedge)):
            if policy is None:
                continue
            if not isinstance(policy, kind):
                raise UserError(f"{owner}: {label} must be a {kind.__name__} or None.")
            if not self.idempotent:
                raise UserError(
                    f"{owner} has a {label} policy but is not idempotent: sending its "
                    "body again could repeat its effect. Mark it idempotent=True if calling it "
                    f"twice with the same arguments is harmless, or drop the {label}."
                )
        if self.reconcile is not None and not callable(self.reconcile):
            raise UserError(f"{owner}: reconcile must be a function of the call, or None.")
        if not isinstance(self.run_in, Runner) and (
            not isinstance(self.run_in, str) or not self.run_in
        ):
            raise UserError(
                f"{owner}: run_in must be 'thread', 'process', the name of a runner "
                f"or a Runner, not {self.run_in!r}."
            )


def _check_callers(owner: str, options: ToolOptions) -> None:
    callers: object = options.allowed_callers  # what was passed: any value, checked here
    if callers is None:
        return
    if not isinstance(callers, list | tuple) or not all(isinstance(c, str) and c for c in callers):
        raise UserError(
            f"{owner}: allowed_callers must be a list of caller names such as "
            f'["direct", "code"], not {callers!r}.'
        )
    if not callers:
        raise UserError(f'{owner}: allowed_callers is empty; name at least one ("direct").')
    object.__setattr__(options, "allowed_callers", tuple(callers))  # a list, kept as a tuple


class ToolOptionArgs(TypedDict, total=False):
    """:class:`ToolOptions` as keyword arguments; a key left out keeps the option as it was."""

    timeout: float | None
    max_concurrency: int | None
    sequential: bool
    run_in: RunIn
    read_only: bool
    destructive: bool
    idempotent: bool
    retry: Retry | None
    hedge: Hedge | None
    allowed_callers: Sequence[str] | None
    reconcile: Callable[[ToolCall], Any] | None


OPTION_NAMES = tuple(field.name for field in dataclasses.fields(ToolOptions))


def option_changes(where: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as changes to a tool's fields, once each name is found to be an option."""
    unknown = sorted(set(options).difference(OPTION_NAMES))
    if unknown:
        raise TypeError(
            f"{where} got unexpected keyword arguments {', '.join(map(repr, unknown))}; "
            f"a tool's options are {', '.join(sorted(OPTION_NAMES))}."
        )
    return dict(options)
