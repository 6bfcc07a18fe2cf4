"""Three slow tools, one batch: run them one after another, then all at once, and compare.

Run with ``.venv/bin/python examples/executor_demo.py`` (after ``make test`` or ``make demo``
has set up ``.venv``). No network, no API key, no model: just the executor.
"""

from __future__ import annotations

import time

import anyio

from toolvolley import Executor, Toolbox, ToolCall, tool

LATENCY = {"Seoul": 1.0, "Tokyo": 1.5, "Paris": 2.0}


@tool(timeout=5)
async def get_weather(city: str) -> dict[str, object]:
    """Current weather for a city (a stand-in that takes as long as a real API would).

    Args:
        city: City name, e.g. "Paris".
    """
    await anyio.sleep(LATENCY.get(city, 0.5))
    return {"city": city, "temperature_c": 12.0 + len(city), "conditions": "clear"}


@tool
def convert(celsius: float) -> float:
    """Celsius to Fahrenheit (a sync tool: it runs in a worker thread)."""
    return celsius * 9 / 5 + 32


async def main() -> None:
    toolbox = Toolbox([get_weather, convert])
    calls = [ToolCall(f"call_{i}", "get_weather", {"city": city}) for i, city in enumerate(LATENCY)]
    calls.append(ToolCall("call_3", "teleport", "{}"))  # a call the model got wrong

    timings: dict[str, float] = {}
    for mode in ("serial", "parallel"):
        executor = Executor(toolbox, mode=mode)
        start = time.perf_counter()
        results = await executor.run(calls)
        timings[mode] = time.perf_counter() - start
        print(f"{mode:>8}: {timings[mode]:.2f} s")

    for result in results:
        print(f"  {result.call_id} {result.status:<12} {result.content}")
    print(
        f"speedup {timings['serial'] / timings['parallel']:.2f}x "
        f"(ideal {sum(LATENCY.values()) / max(LATENCY.values()):.2f}x)"
    )


if __name__ == "__main__":
    anyio.run(main)
