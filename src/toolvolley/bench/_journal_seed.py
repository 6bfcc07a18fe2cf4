"""The seed exercise with the journal off and on: the three-city weather demo (three calls in one
response, against the offline model and the local weather service, see ``toolvolley.demo``),
end to end, each conversation under a fresh id of the journal measured. The variants alternate
within each round, so the machine's noise falls on all of them alike."""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

from .._events import CallStarted, TurnEvent
from .._loop import run_loop
from .._toolbox import Toolbox
from ..demo import DEFAULT_PROMPT, DemoSettings, weather_tool
from ..demo._cities import CITIES
from ..demo._runner import make_model
from ..stores import Journal

__all__ = ["measure_seed"]


async def measure_seed(
    weather_url: str,
    journals: dict[str, Journal],
    *,
    rounds: int,
    token_rate: float,
    first_token_s: float,
) -> dict[str, Any]:
    """Median end-to-end seconds of the exercise per variant (``off`` and each journal)."""
    from .._optional import require

    httpx: Any = require("httpx", "cli")
    model = make_model(DemoSettings(token_rate=token_rate, first_token_s=first_token_s))
    variants = ["off", *journals]
    walls: dict[str, list[float]] = {name: [] for name in variants}
    firsts: dict[str, list[float]] = {name: [] for name in variants}
    run = uuid.uuid4().hex[:8]  # a journal kept from an earlier run must not replay this one
    first: list[float] = []

    def watch(event: TurnEvent) -> None:
        if isinstance(event, CallStarted) and not first:
            first.append(time.perf_counter())

    async with model, httpx.AsyncClient(timeout=30) as http:
        tool = weather_tool(
            forecast_url=weather_url,
            geocoding_url=weather_url,
            cities=[c.name for c in CITIES],
            http_client=http,
        )
        toolbox = Toolbox([tool])
        for r in range(-1, rounds):  # round -1 warms up
            for i, variant in enumerate(variants if r % 2 else variants[::-1]):
                journal = journals.get(variant)
                first.clear()
                started = time.perf_counter()
                outcome = await run_loop(
                    model,
                    DEFAULT_PROMPT,
                    toolbox,
                    max_turns=8,
                    on_event=watch,
                    journal=journal,
                    conversation_id=None if journal is None else f"seed-{run}-{r}-{i}",
                )
                wall = time.perf_counter() - started
                assert outcome.turns[0].calls == 3, outcome.final_text
                assert all(x.ok for t in outcome.turns for x in t.results)
                if r >= 0:
                    walls[variant].append(wall)
                    firsts[variant].append(first[0] - started)
    median = {name: statistics.median(w) for name, w in walls.items()}
    off = median["off"]
    return {
        "prompt": DEFAULT_PROMPT,
        "rounds": rounds,
        "end_to_end_s": {k: round(v, 4) for k, v in median.items()},
        # With a journal the calls start once the response is recorded, so after the model's
        # last token; without one each starts as soon as its own arguments are complete.
        "first_call_started_s": {k: round(statistics.median(v), 4) for k, v in firsts.items()},
        "journal_cost_ms": {k: round((v - off) * 1e3, 3) for k, v in median.items()},
        "over_off": {k: round(v / off, 4) for k, v in median.items()},
    }
