"""LangGraph's own ToolNode tests, run against ``toolvolley.langgraph.ToolNode``.

::

    python benchmarks/langgraph_suite.py PATH/TO/langgraph/libs/prebuilt/tests
    python benchmarks/langgraph_suite.py PATH --also test_react_agent.py  # create_react_agent too

``PATH`` is LangGraph's ``libs/prebuilt/tests`` at the version of ``langgraph-prebuilt``
installed (a clone at its tag, or the ``tests/`` of its sdist:
``pip download --no-deps --no-binary :all: langgraph-prebuilt==X.Y.Z``). Nothing of it is kept
here: its ``test_tool_node*.py``, ``test_on_tool_call.py`` and the helpers they import are
copied to a temporary directory with a conftest of our own (in-memory checkpointer, asyncio,
no Postgres), and pytest runs them twice: with LangGraph's node, and with
``langgraph.prebuilt.ToolNode`` replaced by ours. It prints both counts and every test that
passes with LangGraph's node but not with ours, with its error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

TESTS = ("test_tool_node*.py", "test_on_tool_call.py")
HELPERS = ("__init__.py", "any_str.py", "messages.py", "model.py", "memory_assert.py")

CONFTEST = """
import os

import pytest

pytest.register_assert_rewrite("tests.memory_assert")

if os.environ["LANGGRAPH_SUITE_NODE"] == "toolvolley":
    import sys

    import langgraph.prebuilt
    import langgraph.prebuilt.tool_node

    from toolvolley.langgraph import ToolNode

    original = langgraph.prebuilt.tool_node.ToolNode
    for name, module in list(sys.modules.items()):
        if name.startswith("langgraph.prebuilt") and getattr(module, "ToolNode", None) is original:
            module.ToolNode = ToolNode

from tests.memory_assert import MemorySaverAssertImmutable


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def sync_checkpointer():
    yield MemorySaverAssertImmutable()


@pytest.fixture
async def async_checkpointer():
    yield MemorySaverAssertImmutable()
"""


def _copy(source: Path, into: Path, also: list[str]) -> list[str]:
    tests = into / "tests"
    tests.mkdir()
    names = sorted({p.name for pattern in (*TESTS, *also) for p in source.glob(pattern)})
    if not names:
        raise SystemExit(f"no {' or '.join(TESTS)} in {source}")
    for name in (*HELPERS, *names):
        shutil.copy(source / name, tests / name)
    (tests / "conftest.py").write_text(CONFTEST)
    (into / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    return names


def _run(root: Path, node: str) -> dict[str, tuple[str, str]]:
    """Outcome ("passed", "failed", "skipped") and message of each test, by node id."""
    report = root / f"{node}.xml"
    env = {**os.environ, "LANGGRAPH_SUITE_NODE": node}
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
         "-W", "ignore::DeprecationWarning", f"--junitxml={report}"],
        cwd=root, env=env, check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                message = next(iter((child.get("message") or "").splitlines()), "")
            elif child.tag == "skipped":
                outcome = "skipped"
        outcomes[test] = (outcome, message)
    return outcomes


def _tally(outcomes: dict[str, tuple[str, str]]) -> dict[str, int]:
    kinds = [o for o, _ in outcomes.values()]
    return {k: kinds.count(k) for k in ("passed", "failed", "skipped")}


def _counts(outcomes: dict[str, tuple[str, str]]) -> str:
    return ", ".join(f"{n} {k}" for k, n in _tally(outcomes).items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON, not text")
    parser.add_argument("tests", type=Path, help="langgraph's libs/prebuilt/tests directory")
    parser.add_argument(
        "--also", action="append", default=[], help="more test files (glob) from that directory"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="langgraph-suite-") as tmp:
        root = Path(tmp)
        names = _copy(args.tests, root, args.also)
        theirs = _run(root, "langgraph")
        ours = _run(root, "toolvolley")
    lost = sorted(t for t, (o, _) in theirs.items() if o == "passed" and ours[t][0] != "passed")
    if args.json:
        report = {
            "versions": {p: version(p) for p in ("langgraph-prebuilt", "langgraph")},
            "files": names,
            "langgraph": _tally(theirs),
            "toolvolley": _tally(ours),
            "not_passing_with_ours": {t: ours[t][1] for t in lost},
        }
        print(json.dumps(report, indent=2))
        sys.exit(1 if lost else 0)
    print(f"langgraph-prebuilt {version('langgraph-prebuilt')}, langgraph {version('langgraph')}")
    print(f"files: {', '.join(names)}")
    print(f"LangGraph's ToolNode:  {_counts(theirs)}")
    print(f"toolvolley's ToolNode: {_counts(ours)}")
    for test in lost:
        print(f"  not passing with ours: {test}: {ours[test][1]}")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
