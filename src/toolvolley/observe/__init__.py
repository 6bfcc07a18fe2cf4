"""What a run looks like afterwards: a batch's report, timelines (text, SVG, HTML) and Chrome
traces (``chrome://tracing``, Perfetto). OpenTelemetry spans need nothing from here: every
Executor records them when an SDK is configured (``tracing=``, the ``otel`` extra).

::

    from toolvolley.observe import Timeline

    print(Timeline.from_results(results).render())  # one bar per call
"""

from .._report import BatchReport
from ._timeline import Bar, Timeline, save_timelines, timelines_svg
from ._trace import StreamRecorder, TraceSection, TraceTurn, trace_events, write_trace

__all__ = [
    "Bar",
    "BatchReport",
    "StreamRecorder",
    "Timeline",
    "TraceSection",
    "TraceTurn",
    "save_timelines",
    "timelines_svg",
    "trace_events",
    "write_trace",
]
