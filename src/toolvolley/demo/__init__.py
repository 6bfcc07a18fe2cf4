"""The demo: a real weather tool, a local Open-Meteo-style service, and the measured exercise.

``toolvolley demo`` (and ``make demo``) runs it; the pieces are usable on their own::

    from toolvolley.demo import WeatherService, weather_tool
"""

from ._cities import CITIES, City
from ._runner import DEFAULT_PROMPT, DemoReport, DemoSettings, run_demo
from ._weather_service import WeatherService
from ._weather_tool import OPEN_METEO_FORECAST, OPEN_METEO_GEOCODING, weather_tool

__all__ = [
    "CITIES",
    "DEFAULT_PROMPT",
    "OPEN_METEO_FORECAST",
    "OPEN_METEO_GEOCODING",
    "City",
    "DemoReport",
    "DemoSettings",
    "WeatherService",
    "run_demo",
    "weather_tool",
]
