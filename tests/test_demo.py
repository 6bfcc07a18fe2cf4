"""The demo command run in-process, and the local weather service against the real API's shapes."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from toolvolley.cli.app import app
from toolvolley.demo import WeatherService
from toolvolley.demo._weather_service import Receive, Scope, Send
from toolvolley.testing import OfflineModel
from toolvolley.testing._wire import Frame

FAST = ["--latency", "0.2", "--jitter", "0", "--token-rate", "5000", "--first-token", "0"]


def run(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    result = CliRunner().invoke(app, ["demo", *args])
    try:
        report = json.loads(result.stdout) if "--json" in args else None
    except ValueError:
        report = None
    return result.exit_code, report, result.stderr


class WatchedService(WeatherService):
    """The demo's weather service, recording how many requests were in flight as each arrived.

    The first ``together`` requests (the parallel run's look-ups) are held until that many are
    in flight at once, so running them one after another fails instead of passing slowly.
    """

    def __init__(self, *, together: int = 3, **options: Any) -> None:
        super().__init__(**options)
        self.together = together
        self.in_flight = 0
        self.seen: list[int] = []  # requests in flight as each one arrived, this one included
        self.first_request = threading.Event()  # for the model, which runs in another thread
        self._all_in: anyio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        if self._all_in is None:
            self._all_in = anyio.Event()  # made on the service's own event loop
        self.in_flight += 1
        self.seen.append(self.in_flight)
        self.first_request.set()
        try:
            if len(self.seen) == self.together:
                self._all_in.set()
            if len(self.seen) <= self.together:
                with anyio.fail_after(30):  # guards a hang only
                    await self._all_in.wait()
            await super().__call__(scope, receive, send)
        finally:
            self.in_flight -= 1


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[WatchedService]:
    """The weather services the demo command starts, watched."""
    import toolvolley.cli.demo

    made: list[WatchedService] = []

    def make(**options: Any) -> WatchedService:
        made.append(WatchedService(**options))
        return made[-1]

    monkeypatch.setattr(toolvolley.cli.demo, "WeatherService", make)
    return made


def test_default_run_has_three_calls_in_one_response_and_runs_them_at_once(
    watched: list[WatchedService],
) -> None:
    code, report, _ = run("--json", *FAST)
    assert code == 0
    assert report is not None
    assert report["tool_calls_in_first_response"] == 3
    assert report["model_turns"] == 2
    assert [c["status"] for c in report["calls"]] == ["ok", "ok", "ok"]
    # Two requests a look-up: the parallel run's three look-ups were in flight together, then
    # the sequential run's requests each arrived with nothing else in flight.
    (service,) = watched
    assert service.seen[:3] == [1, 2, 3]
    assert service.seen[6:] == [1] * 6
    # The report's figures agree with its own measurements (how fast belongs in benchmarks).
    sequential = [c["sequential_duration_s"] for c in report["calls"]]
    assert report["sequential_s"] >= sum(sequential) - 0.001  # one after another
    parallel = [c["parallel_duration_s"] for c in report["calls"]]
    assert report["ideal_speedup"] == pytest.approx(
        report["sequential_s"] / max(parallel), abs=0.01
    )
    assert report["speedup"] <= report["ideal_speedup"]  # the ideal bounds what was measured
    assert report["speedup"] == pytest.approx(
        report["sequential_s"] / report["parallel_s"], abs=0.01
    )
    for city in ("Seoul", "Tokyo", "Paris"):
        assert city in report["final_answer"]


def test_the_gemini_format_runs_offline_with_three_calls_at_once(
    watched: list[WatchedService],
) -> None:
    code, report, _ = run("--json", "--provider", "gemini", *FAST)
    assert code == 0
    assert report is not None
    assert (report["provider"], report["model"]) == ("gemini", "toolvolley-offline")
    assert report["tool_calls_in_first_response"] == 3
    assert report["model_turns"] == 2
    assert [c["status"] for c in report["calls"]] == ["ok", "ok", "ok"]
    (service,) = watched
    assert service.seen[:3] == [1, 2, 3]  # the three look-ups in flight together


def test_bedrock_runs_offline_over_converse_with_three_calls_at_once(
    watched: list[WatchedService],
) -> None:
    """``--provider bedrock``: the offline model speaking ConverseStream to boto3."""
    code, report, stderr = run("--json", "--provider", "bedrock", *FAST)
    assert code == 0, stderr
    assert report is not None
    assert report["tool_calls_in_first_response"] == 3
    assert report["model_turns"] == 2
    assert report["calls_started_while_streaming"] == 3
    assert [c["status"] for c in report["calls"]] == ["ok", "ok", "ok"]
    (service,) = watched
    assert service.seen[:3] == [1, 2, 3]
    for city in ("Seoul", "Tokyo", "Paris"):
        assert city in report["final_answer"]


def test_the_gemini_format_in_serial_mode_runs_one_call_a_turn() -> None:
    """Gemini has no switch: its later calls are declined, made again, and not counted as
    failures of the demo."""
    code, report, _ = run("--json", "--serial", "--provider", "gemini", *FAST)
    assert code == 0
    assert report is not None
    assert report["model_turns"] == 4
    assert [c["status"] for c in report["calls"]] == ["ok"] * 3
    assert report["failed_calls"] == 0


def test_bedrock_serial_takes_one_model_turn_per_call_kept_on_the_client(
    counted: type[CountingService],
) -> None:
    """Converse has no switch: the first response holds all three calls, one runs and the
    others are declined, made again, and not counted as failures of the demo."""
    code, report, stderr = run("--json", "--serial", "--provider", "bedrock", *FAST)
    assert code == 0, stderr
    assert report is not None
    assert report["tool_calls_in_first_response"] == 3
    assert report["model_turns"] == 4
    assert [c["status"] for c in report["calls"]] == ["ok"] * 3
    assert report["failed_calls"] == 0
    # Two requests a look-up: each call run once in the serial conversation (one a turn) and
    # once in the parallel one it is compared with.
    assert counted.requests == 12


def test_serial_takes_one_model_turn_per_call() -> None:
    code, report, _ = run("--json", "--serial", *FAST)
    assert code == 0
    assert report is not None
    assert report["mode"] == "serial"
    assert report["tool_calls_in_first_response"] == 1
    assert report["model_turns"] == 4
    assert report["parallel_conversation_turns"] == 2


def test_serial_headline_compares_the_conversations_end_to_end() -> None:
    code, report, _ = run("--json", "--serial", *FAST)
    assert code == 0
    assert report is not None
    assert report["speedup"] == pytest.approx(
        report["end_to_end_s"] / report["parallel_conversation_s"], abs=0.01
    )
    assert report["tools_speedup"] == pytest.approx(
        report["sequential_s"] / report["parallel_s"], abs=0.01
    )
    assert report["tools_speedup"] <= report["ideal_speedup"]
    result = CliRunner().invoke(app, ["demo", "--serial", *FAST], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    (headline,) = [line for line in result.stdout.splitlines() if line.startswith("Speedup")]
    assert " end to end" in headline


def test_failed_calls_are_a_line_each_and_no_speedup() -> None:
    args = [*FAST, "--prompt", "Weather in Seoul, Atlantis and Paris?", "--extra-city", "Atlantis"]
    result = CliRunner().invoke(app, ["demo", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "Speedup" not in result.stdout
    failed = result.stderr.splitlines()
    assert len(failed) == 2, result.stderr  # the failed call, and what it means for the figures
    assert failed[0].startswith("failed: ")
    assert "No city named 'Atlantis'" in failed[0]
    assert "no speedup" in failed[1]
    code, report, _ = run("--json", *args)
    assert code == 1
    assert report is not None
    assert report["failed_calls"] == 1
    assert report["speedup"] is None
    assert report["ideal_speedup"] is None


def test_a_service_that_is_down_fails_every_call_in_a_line_each() -> None:
    result = CliRunner().invoke(
        app, ["demo", *FAST, "--weather-url", "http://127.0.0.1:9"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert "Speedup" not in result.stdout
    lines = result.stderr.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["failed:"] * 3, result.stderr
    assert all("ConnectError" in line for line in lines[:3])
    assert len(lines) == 4


def test_unknown_city_is_an_error_result_and_the_others_succeed() -> None:
    code, report, stderr = run(
        "--json",
        *FAST,
        "--prompt",
        "Weather in Seoul, Atlantis and Paris?",
        "--extra-city",
        "Atlantis",
    )
    assert code == 1  # the run completed, but a call failed: say so in the exit code
    assert report is not None
    by_status = [(c["status"], c["content"]) for c in report["calls"]]
    assert [status for status, _ in by_status] == ["ok", "error", "ok"]
    assert [json.loads(by_status[i][1])["city"] for i in (0, 2)] == ["Seoul", "Paris"]
    failed = next(c for c in report["calls"] if c["status"] == "error")
    assert failed["content"].startswith("No city named 'Atlantis' was found.")
    assert "Atlantis" in report["final_answer"]
    assert "failed:" in stderr


def test_human_output_shows_calls_timelines_and_speedup() -> None:
    result = CliRunner().invoke(app, ["demo", *FAST], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    out = result.stdout
    assert "3 tool_calls in one response" in out
    assert out.count("get_weather(Seoul) │") == 2  # one bar in each timeline
    assert "Speedup" in out
    assert "ideal" in out


def test_service_down_is_one_clear_line_not_a_traceback() -> None:
    code, _, stderr = run(*FAST, "--weather-url", "http://127.0.0.1:9")
    assert code == 1
    assert "Traceback" not in stderr
    assert "ConnectError" in stderr


def test_a_real_provider_without_a_key_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, stderr = run("--provider", "openai")
    assert code == 2
    assert "OPENAI_API_KEY" in stderr
    code, _, stderr = run("--provider", "bogus")
    assert code == 2
    assert "--provider must be" in stderr


# --- the local weather service answers the public API's request shapes ----------------------


@pytest.fixture
def service() -> httpx.AsyncClient:
    app = WeatherService(latency_s=0, jitter_s=0)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://weather")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_geocoding_search(service: httpx.AsyncClient) -> None:
    async with service:
        found = await service.get(
            "/v1/search", params={"name": "Seoul", "count": 1, "language": "en", "format": "json"}
        )
        assert found.status_code == 200
        (seoul,) = found.json()["results"]
        assert {
            "id",
            "name",
            "latitude",
            "longitude",
            "country_code",
            "timezone",
            "country",
        } <= set(seoul)
        assert (seoul["name"], seoul["country_code"]) == ("Seoul", "KR")
        prefix = (await service.get("/v1/search", params={"name": "San", "count": 10})).json()
        assert {r["name"] for r in prefix["results"]} == {"San Francisco", "Santiago"}
        unknown = (await service.get("/v1/search", params={"name": "Atlantis"})).json()
        assert "results" not in unknown  # no matches: no results key, like the public service
        bad = await service.get("/v1/search", params={"name": "Paris", "count": 0})
        assert bad.status_code == 400
        assert bad.json()["error"] is True


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_forecast_current(service: httpx.AsyncClient) -> None:
    variables = "temperature_2m,relative_humidity_2m,weather_code,wind_speed_10m"
    async with service:
        response = await service.get(
            "/v1/forecast", params={"latitude": 37.57, "longitude": 126.98, "current": variables}
        )
        assert response.status_code == 200
        body = response.json()
        assert {"latitude", "longitude", "timezone", "current_units", "current"} <= set(body)
        assert set(body["current"]) == {"time", "interval", *variables.split(",")}
        assert body["current_units"]["temperature_2m"] == "°C"
        again = await service.get(
            "/v1/forecast", params={"latitude": 37.57, "longitude": 126.98, "current": variables}
        )
        assert again.json()["current"] == body["current"]  # deterministic
        missing = await service.get("/v1/forecast", params={"current": variables})
        assert missing.status_code == 400
        unknown = await service.get(
            "/v1/forecast", params={"latitude": 1, "longitude": 1, "current": "sunshine_minutes"}
        )
        assert unknown.status_code == 400


def test_latency_has_fixed_jitter_per_request() -> None:
    service = WeatherService(latency_s=1.0, jitter_s=0.25)
    first = service.delay_for("/v1/search?name=Seoul")
    assert first == service.delay_for("/v1/search?name=Seoul")
    delays = {service.delay_for(f"/v1/search?name={c}") for c in ("Seoul", "Tokyo", "Paris")}
    assert all(0.75 <= d <= 1.25 for d in delays)
    assert len(delays) == 3


def test_calls_start_while_the_model_is_still_writing(
    watched: list[WatchedService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model stops writing before the second call until the weather service has had the
    first call's request: only a call started from the stream can send it."""
    import toolvolley.demo._runner

    class HeldModel(OfflineModel):
        async def _paced(self, frames: Sequence[Frame]) -> AsyncIterator[bytes]:
            async for data in super()._paced(frames):
                if b'"tool_calls": [{"index": 1, "id"' in data:
                    (service,) = watched
                    await anyio.to_thread.run_sync(service.first_request.wait, 10)
                yield data

    monkeypatch.setattr(toolvolley.demo._runner, "OfflineModel", HeldModel)
    code, report, _ = run("--json", *FAST)
    assert code == 0
    assert report is not None
    assert report["calls_started_while_streaming"] >= 1
    assert report["first_call_started_s"] < report["first_model_turn_s"]


def test_timeline_file_has_a_bar_per_call_and_the_model(tmp_path: Any) -> None:
    import xml.etree.ElementTree as ET

    path = tmp_path / "demo.svg"
    code, _, stderr = run(*FAST, "--timeline", str(path))
    assert code == 0
    assert "timeline written" in stderr
    rects = ET.parse(path).getroot().iter("{http://www.w3.org/2000/svg}rect")
    assert len([r for r in rects if r.get("class") == "bar"]) == 3 + 4  # twice 3 calls, + model


class CountingService(WeatherService):
    """The demo's weather service, counting the requests it answers."""

    requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            type(self).requests += 1
        await super().__call__(scope, receive, send)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[CountingService]:
    import toolvolley.cli.demo

    CountingService.requests = 0
    monkeypatch.setattr(toolvolley.cli.demo, "WeatherService", CountingService)
    return CountingService


def test_serial_reports_only_what_it_ran(counted: type[CountingService]) -> None:
    code, report, _ = run("--json", "--serial", *FAST)
    assert code == 0
    assert report is not None
    # Two requests a look-up: three look-ups in the serial conversation and three in the
    # parallel one it is compared with; no other run of the calls.
    assert counted.requests == 12
    assert [c["name"] for c in report["calls"]] == ["get_weather"] * 3
    assert all(c["sequential_duration_s"] is not None for c in report["calls"])
    result = CliRunner().invoke(app, ["demo", "--serial", *FAST], env={"COLUMNS": "120"})
    assert "Parallel tool calls off, one call per model turn" in result.stdout
    assert "All at once" not in result.stdout


def test_an_unwritable_output_path_fails_before_the_demo_runs(
    counted: type[CountingService],
) -> None:
    for flag in ("--timeline", "--trace"):
        code, _, stderr = run(
            *FAST, flag, f"/no/such/dir/x.{'svg' if flag == '--timeline' else 'json'}"
        )
        assert code == 2
        assert stderr.count("\n") == 1
        assert "does not exist" in stderr
    assert counted.requests == 0  # checked before any work


def test_help_says_serial_asks_the_model_not_the_executor() -> None:
    # --serial is run_loop's parallel_tool_calls=False, not the executor's mode="serial"
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.replace("│", " ").split())
    said = text[text.index("--serial") :]
    assert said.startswith("--serial Ask the model for one tool call per response")
    assert "(parallel_tool_calls=False" in said


def test_help_shows_boolean_options_as_flags() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    flags = [line for line in result.stdout.splitlines() if "--json" in line or "--serial" in line]
    assert flags
    assert not [line for line in flags if "<bool>" in line]  # --json, not --json <bool>
