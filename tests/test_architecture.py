"""The package's shape: no import cycles between its modules, type-only imports included, so each
concept can be read (and replaced) on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import toolvolley

PACKAGE = Path(toolvolley.__file__).parent


def _imports(path: Path) -> set[str]:
    """The sibling modules ``path`` imports, anywhere in the file (``TYPE_CHECKING`` too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_import_cycles_between_the_core_modules() -> None:
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("_*.py")}
    cycles: list[list[str]] = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for dep in sorted(graph.get(node, ())):
            if dep == start:
                cycles.append([*path, start])
            elif dep in graph and dep not in path and dep > start:  # each cycle once
                walk(start, dep, [*path, dep])

    for module in sorted(graph):
        walk(module, module, [module])
    assert cycles == []


def test_the_cycle_check_sees_type_only_imports(tmp_path: Path) -> None:
    module = tmp_path / "_a.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._b import B\n",
        encoding="utf-8",
    )
    assert _imports(module) == {"_b"}


def test_importing_the_package_loads_no_cli_demo_offline_or_adapter_module() -> None:
    """The core stays light: the CLI, the demos, the benchmarks, the offline model, the provider
    adapters, the framework adapters and their SDKs load only when asked for (run in a fresh
    interpreter, so nothing another test imported counts)."""
    import subprocess
    import sys

    code = "import sys, toolvolley; print('\\n'.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    ours = [m.split(".")[1] for m in loaded if m.startswith("toolvolley.")]
    outside = {
        "_cli",
        "_main",
        "_demo_cli",
        "_bench_cli",
        "_batch_cli",
        "_cli_options",
        "_serving",
        "_http_protocol",
        "demo",
        "bench",
        "offline",
        "providers",
        "mcp",
        "langchain",
        "langgraph",
        "_langgraph",
        "_lc_tools",
        "pydantic_ai",
        "agents",
        "_agents_sdk",
        "integrations",
        "ray",
    }
    assert sorted(set(ours) & outside) == []
    assert "toolvolley._executor" in loaded  # the check sees the package's own modules
    sdks = {"typer", "rich", "uvicorn", "starlette", "openai", "anthropic", "mcp", "ray"}
    assert sorted(sdks & {m.split(".")[0] for m in loaded}) == []
