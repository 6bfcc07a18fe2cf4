"""The ``toolvolley`` command line (the ``cli`` extra: typer and rich)."""

from __future__ import annotations

from typing import Annotated

__all__ = ["app", "main"]

try:
    import typer
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "The toolvolley command needs typer and rich: pip install 'toolvolley[cli]'"
    ) from exc

app = typer.Typer(
    name="toolvolley",
    help="Run an LLM's tool calls concurrently, with one answer per call.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command("serve-model")
def serve_model(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token_rate: Annotated[float, typer.Option(help="Tokens generated per second.")] = 50.0,
    first_token_s: Annotated[float, typer.Option(help="Seconds before the first token.")] = 0.2,
) -> None:
    """Serve the offline model over HTTP: OpenAI Chat Completions and Responses under /v1,
    Anthropic Messages at /v1/messages. It is a deterministic planner, not an LLM."""
    from ._serving import serve_forever
    from .offline import OfflineApp, OfflineModel

    model = OfflineModel(token_rate=token_rate, first_token_s=first_token_s)
    typer.echo(
        f"Offline model on http://{host}:{port}  "
        f"(OpenAI base_url http://{host}:{port}/v1, Anthropic base_url http://{host}:{port})"
    )
    serve_forever(OfflineApp(model), host=host, port=port)


def main() -> None:
    app()
