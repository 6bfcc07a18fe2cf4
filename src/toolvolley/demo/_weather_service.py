"""A local stand-in for the Open-Meteo API: the geocoding search and current-weather endpoints.

Same paths, parameters and response fields as the public service, for a bundled table of world
cities, with deterministic weather and a per-request latency, so a weather tool does real
network I/O that takes real time without leaving the machine::

    GET /v1/search?name=Seoul&count=1&language=en&format=json
    GET /v1/forecast?latitude=37.57&longitude=126.98&current=temperature_2m,weather_code
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import anyio

from .._errors import UserError
from ._cities import CITIES, City

__all__ = ["WMO_CODES", "WeatherService"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

WMO_CODES = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    61: "slight rain",
    63: "moderate rain",
    71: "slight snow",
    80: "rain showers",
    95: "thunderstorm",
}
_UNITS = {
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "apparent_temperature": "°C",
    "weather_code": "wmo code",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
    "precipitation": "mm",
    "cloud_cover": "%",
    "is_day": "",
}


class WeatherService:
    """ASGI app answering ``/v1/search`` and ``/v1/forecast`` like Open-Meteo.

    * ``latency_s``: seconds each request takes (default 1.0);
    * ``jitter_s``: up to this much more or less, fixed per request URL, so figures reproduce.
    """

    def __init__(
        self,
        *,
        latency_s: float = 1.0,
        jitter_s: float = 0.25,
        cities: Sequence[City] = CITIES,
    ) -> None:
        if not (0 <= jitter_s <= latency_s < math.inf):
            raise UserError("WeatherService needs 0 <= jitter_s <= latency_s.")
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self.cities = tuple(cities)
        self._by_name = {c.name.lower(): c for c in self.cities}

    def delay_for(self, target: str) -> float:
        """The latency of a request for ``target`` (path and query): the same every time."""
        unit = _unit(target)
        return self.latency_s + self.jitter_s * (2 * unit - 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        query = scope.get("query_string", b"").decode()
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        path = scope["path"].rstrip("/")
        await anyio.sleep(self.delay_for(f"{path}?{query}"))
        if scope["method"] != "GET":
            status, body = 405, {"error": True, "reason": "Only GET is supported."}
        elif path == "/v1/search":
            status, body = self.search(params)
        elif path == "/v1/forecast":
            status, body = self.forecast(params)
        else:
            status, body = 404, {"error": True, "reason": f"No endpoint {path}."}
        payload = json.dumps(body, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def search(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        name = params.get("name", "").strip()
        try:
            count = int(params.get("count", "10"))
        except ValueError:
            return 400, {"error": True, "reason": "Parameter 'count' must be an integer."}
        if not 1 <= count <= 100:
            return 400, {"error": True, "reason": "Parameter 'count' must be between 1 and 100."}
        found = []
        if len(name) >= 2:
            exact = self._by_name.get(name.lower())
            if exact is not None:
                found = [exact]
            elif len(name) >= 3:  # three or more characters: prefix matching
                found = [c for c in self.cities if c.name.lower().startswith(name.lower())]
        body: dict[str, Any] = {"generationtime_ms": 0.4}
        if found:
            # No matches means no "results" key at all, as the public service answers.
            body["results"] = [_location(c) for c in found[:count]]
        return 200, body

    def forecast(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            latitude = float(params["latitude"])
            longitude = float(params["longitude"])
        except (KeyError, ValueError):
            return 400, {
                "error": True,
                "reason": "Parameters 'latitude' and 'longitude' are required numbers.",
            }
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return 400, {"error": True, "reason": "Latitude must be in range of -90 to 90°."}
        wanted = [v for v in params.get("current", "").split(",") if v]
        unknown = [v for v in wanted if v not in _UNITS]
        if unknown:
            return 400, {"error": True, "reason": f"Cannot initialize from '{unknown[0]}'."}
        now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        now = now.replace(minute=now.minute - now.minute % 15)
        body: dict[str, Any] = {
            "latitude": latitude,
            "longitude": longitude,
            "generationtime_ms": 0.05,
            "utc_offset_seconds": 0,
            "timezone": "GMT",
            "timezone_abbreviation": "GMT",
            "elevation": round(20 + 400 * _unit(f"elevation {latitude:.2f} {longitude:.2f}")),
        }
        if wanted:
            values = _weather(latitude, longitude)
            body["current_units"] = {"time": "iso8601", "interval": "seconds"} | {
                v: _UNITS[v] for v in wanted
            }
            body["current"] = {"time": now.strftime("%Y-%m-%dT%H:%M"), "interval": 900} | {
                v: values[v] for v in wanted
            }
        return 200, body


def _unit(key: str) -> float:
    """A number in [0, 1) fixed by ``key``."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 16**8


def _location(city: City) -> dict[str, Any]:
    return {
        "id": city.id,
        "name": city.name,
        "latitude": city.latitude,
        "longitude": city.longitude,
        "elevation": round(20 + 400 * _unit(f"elevation {city.latitude:.2f} {city.longitude:.2f}")),
        "feature_code": "PPLC",
        "country_code": city.country_code,
        "timezone": city.timezone,
        "country": city.country,
    }


def _weather(latitude: float, longitude: float) -> dict[str, Any]:
    def vary(what: str) -> float:
        return _unit(f"{what} {latitude:.2f} {longitude:.2f}")

    temperature = round(29 - 0.45 * abs(latitude) + 10 * vary("temperature") - 5, 1)
    codes = list(WMO_CODES)
    return {
        "temperature_2m": temperature,
        "apparent_temperature": round(temperature - 3 * vary("apparent"), 1),
        "relative_humidity_2m": round(30 + 60 * vary("humidity")),
        "weather_code": codes[int(vary("code") * len(codes))],
        "wind_speed_10m": round(30 * vary("wind"), 1),
        "wind_direction_10m": round(360 * vary("direction")),
        "precipitation": round(5 * vary("precipitation") ** 3, 1),
        "cloud_cover": round(100 * vary("cloud")),
        "is_day": 1,
    }
