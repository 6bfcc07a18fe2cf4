"""The streaming benchmark runs end to end in miniature (its figures are not checked here)."""

from __future__ import annotations

from toolvolley.bench import run_streaming_benchmark, streaming_scenarios


def test_scenarios_cover_three_to_eight_calls_in_three_shapes() -> None:
    scenarios = streaming_scenarios()
    assert {len(s.latencies) for s in scenarios} == {3, 5, 8}
    assert {s.name.split(", ")[1] for s in scenarios} == {"slowest first", "slowest last", "equal"}
    first = next(s for s in scenarios if s.name == "3 calls, slowest first")
    assert first.latencies[0] > first.latencies[-1]
    assert {s.provider for s in scenarios} == {"openai-chat", "gemini", "bedrock"}


def test_report_has_the_three_latencies_per_scenario() -> None:
    report = run_streaming_benchmark(repeat=1, scale=0.01, token_rate=2000, first_token_s=0)
    # 9 in Chat Completions, 1 in Gemini, 1 in Converse
    assert [r["scenario"] for r in report["scenarios"]][-2:] == [
        "3 calls, slowest first, Gemini",
        "3 calls, slowest first, Converse",
    ]
    assert len(report["scenarios"]) == 11
    for row in report["scenarios"]:
        assert row["early_dispatch_s"] > 0
        assert row["after_stream_s"] > 0
        assert 0 < row["lower_bound_s"] <= row["early_dispatch_s"] * 1.001
    assert isinstance(report["early_never_slower"], bool)
