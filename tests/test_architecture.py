"""The package's shape: no import cycles between its modules, type-only imports included, so each
concept can be read (and replaced) on its own."""

from __future__ import annotations

import ast
from dataclasses import dataclass
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
    adapters, the framework adapters, the runners (threads, processes, Ray) and their SDKs load
    only when asked for (run in a fresh interpreter, so nothing another test imported counts)."""
    import subprocess
    import sys

    code = "import sys, toolvolley; print('\\n'.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    ours = [m.split(".")[1] for m in loaded if m.startswith("toolvolley.")]
    outside = {
        "cli",
        "demo",
        "bench",
        "testing",
        "observe",
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
    # Runners: the interface and the table of names only; each runner's module on first use
    runners = {m for m in loaded if m.startswith("toolvolley.runners.")}
    assert sorted(runners - {"toolvolley.runners._base", "toolvolley.runners._registry"}) == []
    assert "toolvolley._executor" in loaded  # the check sees the package's own modules
    sdks = {"typer", "rich", "uvicorn", "starlette", "openai", "anthropic", "mcp", "ray"}
    sdks |= {"boto3", "botocore"}
    assert sorted(sdks & {m.split(".")[0] for m in loaded}) == []
    assert [m for m in loaded if m.startswith("google.genai")] == []


# The layers, from the bottom. The core is the package's own private modules at its root, minus
# the framework adapters' helpers and the runner implementations; everything above it may import
# it, it imports nothing above it.
_ADAPTERS = {
    "integrations",
    "agents",
    "langchain",
    "langgraph",
    "pydantic_ai",
}
_ABOVE_THE_CORE = {"cli", "demo", "bench", "testing", "observe", "mcp", *_ADAPTERS}
# Registries the core consults by name (a provider for `result_messages(results, "anthropic")`, a
# tool-call object's format), only inside a function: `import toolvolley` loads no provider.
_LAZY_ONLY = {"providers"}
# What `import toolvolley` must not pay for: the core reaches these only inside a function.
_HEAVY_RUNNERS = ("process", "ray")

# Imports that break a rule today and are being moved by the change that owns the module (issue
# 22); each entry goes when that change lands, and the test fails while a stale entry remains.
_PENDING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class _Import:
    source: str  # the importing module, dotted from the package ("cli.app", "_executor")
    target: str  # the imported module or package, dotted from the package
    lazy: bool  # inside a function, or only for the type checker


def _package_imports() -> list[_Import]:
    found: list[_Import] = []
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        package = parts if path.name == "__init__.py" else parts[:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += _walk_imports(tree, ".".join(parts), package, lazy=False)
    return found


def _walk_imports(node: ast.AST, source: str, package: list[str], *, lazy: bool) -> list[_Import]:
    found: list[_Import] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ImportFrom):
            if child.level:
                base = package[: len(package) - child.level + 1]
                module = [*base, *(child.module or "").split(".")] if child.module else base
            elif (child.module or "").startswith("toolvolley."):
                module = (child.module or "").split(".")[1:]
            else:
                continue
            targets = (
                [".".join(module)]
                if child.module
                else [".".join([*module, a.name]) for a in child.names]
            )
            found += [_Import(source, t, lazy) for t in targets if t]
        elif isinstance(child, ast.Import):
            found += [
                _Import(source, a.name.removeprefix("toolvolley."), lazy)
                for a in child.names
                if a.name.startswith("toolvolley.")
            ]
        else:
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True
            found += _walk_imports(child, source, package, lazy=inner)
    return found


def _is_core(module: str) -> bool:
    return (
        module.startswith("_")
        and not module.startswith("__")  # __main__ is the command line's
        and "." not in module
        and module not in _ADAPTERS
        and not any(word in module for word in _HEAVY_RUNNERS)  # the runners themselves
    )


def _layer_breaks() -> set[tuple[str, str]]:
    breaks: set[tuple[str, str]] = set()
    for imp in _package_imports():
        top = imp.target.split(".")[0]
        if not _is_core(imp.source):
            continue
        if top in _ABOVE_THE_CORE:
            breaks.add((imp.source, top))  # lazily or not: the core does not know them
        elif top in _LAZY_ONLY and not imp.lazy:
            breaks.add((imp.source, top))
        elif not imp.lazy and any(word in imp.target for word in _HEAVY_RUNNERS):
            breaks.add((imp.source, imp.target.split(".")[0]))
    return breaks


def test_the_core_imports_nothing_above_it_and_heavy_runners_only_lazily() -> None:
    """The core imports no CLI, demo, benchmark, test double, picture, MCP or framework
    adapter module, even lazily or for the type checker, and the provider registry and the
    process and Ray runners only inside a function (``import toolvolley`` stays light)."""
    breaks = _layer_breaks()
    assert sorted(breaks - set(_PENDING)) == []
    assert sorted(set(_PENDING) - breaks) == [], "done: remove these from _PENDING"


def test_the_layers_above_the_core_import_downwards_only() -> None:
    """Nothing imports the command line but the entry point; the test double, the pictures and
    the providers know no CLI, demo or benchmark; the core's modules import the core."""
    wrong: list[tuple[str, str]] = []
    for imp in _package_imports():
        source, top = imp.source.split(".")[0], imp.target.split(".")[0]
        if top == "cli" and source not in {"cli", "__main__"}:
            wrong.append((imp.source, imp.target))
        if source in {"testing", "observe", "providers"} and top in {"cli", "demo", "bench"}:
            wrong.append((imp.source, imp.target))
        if source == "testing" and top in {"providers", "observe", "mcp"}:
            wrong.append((imp.source, imp.target))
        if source in {"demo", "bench"} and top == "cli":
            wrong.append((imp.source, imp.target))
    assert wrong == []


def test_the_layer_check_sees_lazy_type_only_and_relative_imports(tmp_path: Path) -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from ..demo import x\n"
        "from . import _frames\n"
        "import toolvolley.cli\n"
        "if TYPE_CHECKING:\n    from .._ray import R\n"
        "def f():\n    from ._processes import P\n"
    )
    found = _walk_imports(tree, "observe._trace", ["observe"], lazy=False)
    assert found == [
        _Import("observe._trace", "demo", False),
        _Import("observe._trace", "observe._frames", False),
        _Import("observe._trace", "cli", False),
        _Import("observe._trace", "_ray", True),
        _Import("observe._trace", "observe._processes", True),
    ]


def test_the_commands_entry_point_is_the_cli_packages_main() -> None:
    """pyproject's ``[project.scripts]`` names a function that exists (it moves with the CLI)."""
    import importlib
    import re

    pyproject = (PACKAGE.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^toolvolley = "(?P<module>[\w.]+):(?P<name>\w+)"$', pyproject, re.M)
    assert found is not None
    assert (found["module"], found["name"]) == ("toolvolley.cli", "main")
    assert callable(getattr(importlib.import_module(found["module"]), found["name"]))


def test_importing_the_providers_loads_no_offline_model() -> None:
    """The provider adapters load the offline model (a test double) only inside ``.offline()``
    (in a fresh interpreter, so nothing another test imported counts)."""
    import subprocess
    import sys

    code = "import sys, toolvolley.providers; print('\\n'.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "toolvolley.providers.openai_chat" in loaded
    assert [m for m in loaded if m.startswith("toolvolley.testing")] == []
    assert "toolvolley.providers.gemini" in loaded
    assert [m for m in loaded if m.startswith("google.genai")] == []  # loaded on first use
