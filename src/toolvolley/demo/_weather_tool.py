"""``get_weather``: a real async tool that calls an Open-Meteo-style HTTP API with httpx."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._errors import ToolError
from .._optional import require
from .._tools import Tool
from ._cities import CITIES
from ._weather_service import WMO_CODES

__all__ = ["OPEN_METEO_FORECAST", "OPEN_METEO_GEOCODING", "weather_tool"]

OPEN_METEO_GEOCODING = "https://geocoding-api.open-meteo.com"
OPEN_METEO_FORECAST = "https://api.open-meteo.com"
CURRENT = "temperature_2m,relative_humidity_2m,weather_code,wind_speed_10m"


def weather_tool(
    *,
    forecast_url: str = OPEN_METEO_FORECAST,
    geocoding_url: str = OPEN_METEO_GEOCODING,
    cities: Sequence[str] | None = None,
    timeout: float = 30.0,
    http_client: Any = None,
) -> Tool:
    """The ``get_weather(city)`` tool against an Open-Meteo-style API.

    The defaults are the public Open-Meteo service; point both URLs at the local
    :class:`WeatherService` to stay offline. ``cities`` are listed in the schema as examples
    (the bundled table by default), which is also what lets the offline model find them in a
    prompt. Pass an ``httpx.AsyncClient`` to reuse connections.
    """
    httpx: Any = require("httpx", "cli")
    names = list(cities) if cities is not None else [c.name for c in CITIES]

    async def get_weather(city: str) -> dict[str, Any]:
        if http_client is not None:
            return await _lookup(http_client, city)
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await _lookup(client, city)

    async def _lookup(client: Any, city: str) -> dict[str, Any]:
        search = await client.get(
            f"{geocoding_url.rstrip('/')}/v1/search",
            params={"name": city, "count": 1, "language": "en", "format": "json"},
        )
        search.raise_for_status()
        results = search.json().get("results") or []
        if not results:
            raise ToolError(
                f"No city named {city!r} was found. Check the spelling, or ask the user "
                "which city they mean."
            )
        place = results[0]
        forecast = await client.get(
            f"{forecast_url.rstrip('/')}/v1/forecast",
            params={
                "latitude": place["latitude"],
                "longitude": place["longitude"],
                "current": CURRENT,
            },
        )
        forecast.raise_for_status()
        current = forecast.json()["current"]
        return {
            "city": place["name"],
            "country": place.get("country", ""),
            "temperature_c": current["temperature_2m"],
            "relative_humidity_pct": current["relative_humidity_2m"],
            "wind_speed_kmh": current["wind_speed_10m"],
            "conditions": WMO_CODES.get(current["weather_code"], f"code {current['weather_code']}"),
            "observed_at": current["time"],
        }

    return Tool.from_schema(
        "get_weather",
        "Current weather for a city: temperature (°C), humidity, wind and conditions.",
        {
            "type": "object",
            "properties": {
                "city": {
                    "type": "string",
                    "description": 'City name in English, e.g. "Paris".',
                    "examples": names,
                }
            },
            "required": ["city"],
            "additionalProperties": False,
        },
        get_weather,
        timeout=timeout,
    )
