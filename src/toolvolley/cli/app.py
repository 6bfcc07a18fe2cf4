"""The ``toolvolley`` command line (the ``cli`` extra: typer and rich)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from .options import FirstToken, ModelName, TokenRate, TraceFile, json_flag

__all__ = ["app"]


def _untyped_flags(params: list[Any]) -> list[Any]:
    # Typer shows a value type for every option, a flag's too (`--json <bool>`), though a flag
    # takes no value; an empty metavar shows none.
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    return params


# click's UsageError (a wrong value, an unknown option or command), whether typer vendors click
# (0.29) or uses click itself: typer.BadParameter derives from it in both.
_UsageError: type[Any] = typer.BadParameter.__mro__[1]


def _one_line(exc: Any, command: str) -> typer.Exit:
    """A usage error as one line (typer would draw a box under the usage text), and exit 2."""
    typer.echo(f"error: {exc.format_message()} (see toolvolley {command}--help)", err=True)
    return typer.Exit(2)


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _UsageError as exc:
            raise _one_line(exc, f"{self.name} ") from None


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except _UsageError as exc:  # no such command
            raise _one_line(exc, "") from None


app = typer.Typer(
    name="toolvolley",
    help="Run an LLM's tool calls concurrently, with one answer per call.",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"toolvolley {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


@app.command("serve-model", cls=_Command)
def serve_model(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
    token_rate: Annotated[float, typer.Option(help="Tokens generated per second.")] = 50.0,
    first_token: Annotated[float, typer.Option(help="Seconds before the first token.")] = 0.2,
    first_token_s: Annotated[
        float | None,
        typer.Option("--first-token-s", hidden=True, help="Old name of --first-token."),
    ] = None,
    model_name: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="A model name to answer to (repeat; default toolvolley-offline)."
        ),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body accepted (413 past it).")
    ] = 8 * 1024 * 1024,
    script: Annotated[
        str | None,
        typer.Option(
            help="Replay this JSON list of turns, one per request, instead of planning: "
            '{"text": ...}, {"tool_calls": [{"name": ..., "arguments": {...}}]}, '
            '{"error": {"status": ..., "message": ...}}, "cut_after": N events.'
        ),
    ] = None,
) -> None:
    """Serve the offline model over HTTP: OpenAI Chat Completions and Responses under /v1,
    Anthropic Messages at /v1/messages. It is a deterministic planner, not an LLM."""
    from .serve_model import run_serve_model_command

    run_serve_model_command(
        host=host,
        port=port,
        token_rate=token_rate,
        first_token=first_token if first_token_s is None else first_token_s,
        names=model_name or ["toolvolley-offline", "offline"],
        max_body_bytes=max_body_bytes,
        script=script,
    )


@app.command(cls=_Command)
def demo(
    prompt: Annotated[str, typer.Option(help="What to ask the model.")] = (
        "What's the weather in Seoul, Tokyo and Paris?"
    ),
    serial: Annotated[
        bool,
        typer.Option(
            "--serial",
            help="Ask the model for one tool call per response (parallel_tool_calls=False; not "
            'the executor\'s mode="serial"), then have the same conversation with parallel tool '
            "calls on, to compare.",
        ),
    ] = False,
    json_output: Annotated[bool, json_flag("report")] = False,
    provider: Annotated[
        str,
        typer.Option(
            help="offline (default), or openai, responses, anthropic for a real model; gemini "
            "or bedrock: the offline model in that format (Gemini's, Converse over boto3), or "
            "the server at --base-url."
        ),
    ] = "offline",
    base_url: Annotated[
        str | None, typer.Option(help="The provider's base URL (any OpenAI-compatible server).")
    ] = None,
    model: ModelName = None,
    weather_url: Annotated[
        str | None,
        typer.Option(help="An Open-Meteo-style API (default: a local service on loopback)."),
    ] = None,
    geocoding_url: Annotated[
        str | None, typer.Option(help="Its geocoding API, if not at --weather-url.")
    ] = None,
    latency: Annotated[float, typer.Option(help="Local weather service: seconds a request.")] = 1.0,
    jitter: Annotated[float, typer.Option(help="Local weather service: +/- seconds.")] = 0.25,
    token_rate: TokenRate = 50.0,
    first_token: FirstToken = 0.2,
    extra_city: Annotated[
        list[str] | None,
        typer.Option(help="Also list this name in the tool's schema (try an unknown city)."),
    ] = None,
    timeline: Annotated[
        str | None, typer.Option(help="Also write the timelines to this .svg or .html file.")
    ] = None,
    trace: TraceFile = None,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On an error, print the full traceback instead of one line."),
    ] = False,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan",
            help="The capitals exercise: flat (3 model turns) against planned with references "
            "(2 turns), offline model.",
        ),
    ] = False,
) -> None:
    """The three-city weather exercise, measured: one response carrying several tool calls, run
    one after another and then at once, and every result sent back in one follow-up."""
    from .demo import run_demo_command

    code = run_demo_command(
        prompt=prompt,
        serial=serial,
        json_output=json_output,
        provider=provider,
        base_url=base_url,
        model=model,
        weather_url=weather_url,
        geocoding_url=geocoding_url,
        latency=latency,
        jitter=jitter,
        token_rate=token_rate,
        first_token=first_token,
        extra_cities=tuple(extra_city or ()),
        debug=debug,
        timeline=timeline,
        trace=trace,
        plan=plan,
    )
    raise typer.Exit(code)


@app.command(cls=_Command)
def bench(
    repeat: Annotated[int, typer.Option(help="Runs per figure (the median is reported).")] = 5,
    scale: Annotated[
        float, typer.Option(help="Multiply every scenario's latencies (below 1: fewer calls too).")
    ] = 1.0,
    only: Annotated[
        str, typer.Option(help="Executor scenarios to run, e.g. ACE ('' for none).")
    ] = "ABCDE",
    streaming: Annotated[
        bool, typer.Option(help="Run the streaming (early dispatch) scenarios.")
    ] = True,
    json_output: Annotated[bool, json_flag("report")] = False,
    plot: Annotated[
        str | None,
        typer.Option(help="Also sweep 1 to 1,000 calls and chart speedup and efficiency (SVG)."),
    ] = None,
    sweep_latency: Annotated[float, typer.Option(help="Seconds per call in the sweep.")] = 0.02,
    max_calls: Annotated[int, typer.Option(help="Largest batch in the sweep.")] = 1000,
    timeline: Annotated[
        str | None, typer.Option(help="Write scenario A's timelines to this .svg or .html file.")
    ] = None,
    trace: Annotated[
        str | None,
        typer.Option(
            help="Write scenario A (and the streaming runs) as a Chrome trace to this .json."
        ),
    ] = None,
    token_rate: Annotated[
        float, typer.Option(help="Streaming and --plans: the offline model's tokens a second.")
    ] = 50.0,
    first_token: Annotated[
        float, typer.Option(help="Streaming and --plans: seconds to the first token.")
    ] = 0.2,
    mcp: Annotated[
        bool, typer.Option(help="Run the MCP benchmark (64 calls over stdio and HTTP; mcp extra).")
    ] = False,
    scale_bench: Annotated[
        bool,
        typer.Option(help="Run the scale benchmark (run_many against its ideal, memory, Ray)."),
    ] = False,
    plans: Annotated[
        bool,
        typer.Option(help="Run the plans benchmark (hedging, retries, references, capitals)."),
    ] = False,
    journal: Annotated[
        bool,
        typer.Option(help="Run the journal benchmark (no-op batches, journal off and SQLite)."),
    ] = False,
) -> None:
    """Measure toolvolley parallel, toolvolley serial and the textbook gather code side by side
    (and early dispatch while streaming), all in this run."""
    from .bench import run_bench_command

    raise typer.Exit(
        run_bench_command(
            repeat=repeat,
            scale=scale,
            only=only,
            streaming=streaming,
            json_output=json_output,
            plot=plot,
            timeline=timeline,
            trace=trace,
            sweep_latency=sweep_latency,
            max_calls=max_calls,
            token_rate=token_rate,
            first_token_s=first_token,
            mcp=mcp,
            scale_bench=scale_bench,
            plans=plans,
            journal=journal,
        )
    )


@app.command("batch", cls=_Command)
def batch(
    input_path: Annotated[
        str,
        typer.Argument(
            metavar="INPUT.jsonl",
            help='One conversation a line: {"id": ..., "prompt": ...} or "messages": [...].',
        ),
    ],
    output: Annotated[
        str, typer.Option("-o", "--output", help="JSONL results (appended; re-run to resume).")
    ],
    tools: Annotated[
        str | None,
        typer.Option(
            help="MODULE:ATTR: a Toolbox, Executor or list of tools (default: demo weather)."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Conversations at once.")] = 16,
    max_turns: Annotated[int, typer.Option(help="Model turns per conversation at most.")] = 10,
    provider: Annotated[
        str,
        typer.Option(
            help="offline (default), or openai, responses, anthropic; gemini or bedrock: the "
            "offline model in that format, or the --base-url endpoint."
        ),
    ] = "offline",
    base_url: Annotated[str | None, typer.Option(help="The provider's base URL.")] = None,
    model: ModelName = None,
    token_rate: TokenRate = 50.0,
    first_token: FirstToken = 0.2,
    latency: Annotated[float, typer.Option(help="Default weather tool: seconds a request.")] = 0.2,
    mcp: Annotated[
        list[str] | None,
        typer.Option(
            "--mcp",
            help="An MCP server's tools too: an http(s) URL, or a command line (repeatable).",
        ),
    ] = None,
    json_output: Annotated[bool, json_flag("summary")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            metavar="auto|ADDRESS",
            help="Spread the conversations over a Ray cluster (auto: RAY_ADDRESS or a local Ray).",
        ),
    ] = None,
    trace: TraceFile = None,
    journal: Annotated[
        str | None,
        typer.Option(
            metavar="PATH|postgresql://...",
            help="Where tool calls are journaled, so a resumed conversation never runs a call "
            "twice (default: OUTPUT.journal.sqlite).",
        ),
    ] = None,
    no_journal: Annotated[
        bool, typer.Option("--no-journal", help="Keep no journal: a resume starts over.")
    ] = False,
) -> None:
    """Run many conversations from a JSONL file, concurrently; each is written as it ends, and
    re-running with the same output resumes where it stopped."""
    from .batch import run_batch_command

    raise typer.Exit(
        run_batch_command(
            input_path=input_path,
            output=output,
            tools_spec=tools,
            concurrency=concurrency,
            max_turns=max_turns,
            provider=provider,
            base_url=base_url,
            model=model,
            token_rate=token_rate,
            first_token=first_token,
            latency=latency,
            json_summary=json_output,
            ray=ray,
            trace=trace,
            mcp=tuple(mcp or ()),
            journal=journal,
            no_journal=no_journal,
        )
    )
