"""``toolvolley serve-model``: the offline model over HTTP until stopped."""

from __future__ import annotations

from collections.abc import Sequence

import typer

__all__ = ["run_serve_model_command"]


def run_serve_model_command(
    *,
    host: str,
    port: int,
    token_rate: float,
    first_token: float,
    names: Sequence[str],
    max_body_bytes: int,
    script: str | None,
) -> None:
    """Check the options (a bad one: one line, exit 2), bind (cannot: exit 1), then serve."""
    from .._errors import UserError
    from ..testing import OfflineApp, OfflineModel
    from ..testing._script import Script
    from ..testing._serving import bind, serve_forever
    from .options import check_at_least, check_port, check_positive, check_seconds

    try:
        if not host.strip():
            raise UserError("--host must be an address, e.g. 127.0.0.1 (0.0.0.0: every interface).")
        check_port("--port", port)
        check_positive("--token-rate", token_rate, "number of tokens a second")
        check_seconds("--first-token", first_token)
        check_at_least("--max-body-bytes", max_body_bytes)
        if not all(name.strip() for name in names):
            raise UserError(
                f"--model must be a model name, not {next(n for n in names if not n.strip())!r}."
            )
        try:
            turns = None if script is None else Script(script)
        except UserError as exc:
            raise UserError(f"--script {script}: {exc}") from None
        model = OfflineModel(
            token_rate=token_rate,
            first_token_s=first_token,
            name=names[0],
            aliases=names[1:],
            script=turns,
        )
    except UserError as exc:  # a usage error: one line, exit 2
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        sock = bind(host, port)
    except (OSError, ValueError) as exc:  # ValueError: a host with a NUL in it
        typer.echo(f"error: cannot listen on {host}:{port}: {_reason(exc)}", err=True)
        raise typer.Exit(1) from None
    url = f"http://{f'[{host}]' if ':' in host else host}:{sock.getsockname()[1]}"
    typer.echo(
        f"Offline model {', '.join(model.models)} on {url}  "
        f"(OpenAI base_url {url}/v1, Anthropic and Gemini base_url {url})"
    )
    serve_forever(OfflineApp(model, max_body_bytes=max_body_bytes), sock=sock)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})"
    return str(exc)
