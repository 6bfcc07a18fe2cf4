"""The demo: a real weather tool, a local Open-Meteo-style service, and the measured exercise.

``toolvolley demo`` (and ``make demo``) runs it; the pieces are usable on their own::

    from toolvolley.demo import WeatherService, weather_tool

``toolvolley demo --plan`` runs the capitals exercise (:func:`run_plan_demo`): ``get_capital``
then ``get_weather``, flat against planned with references between calls.
"""

from ._capital_tool import capital_tool
from ._cities import CAPITALS, CITIES, City, capital_of
from ._plan import PLAN_PROMPT, PlanReport, PlanSettings, run_plan_demo
from ._runner import DEFAULT_PROMPT, DemoReport, DemoSettings, run_demo
from ._weather_service import WeatherService
from ._weather_tool import OPEN_METEO_FORECAST, OPEN_METEO_GEOCODING, weather_tool

__all__ = [
    "CAPITALS",
    "CITIES",
    "DEFAULT_PROMPT",
    "OPEN_METEO_FORECAST",
    "OPEN_METEO_GEOCODING",
    "PLAN_PROMPT",
    "City",
    "DemoReport",
    "DemoSettings",
    "PlanReport",
    "PlanSettings",
    "WeatherService",
    "capital_of",
    "capital_tool",
    "run_demo",
    "run_plan_demo",
    "weather_tool",
]
