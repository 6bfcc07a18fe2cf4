"""The README matches the code: its examples parse, what it names exists, no section is repeated."""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
from pathlib import Path

import typer.main

from toolvolley._cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Options of other tools that the README quotes (ruff format --check, mypy --strict, --help).
OTHER_TOOLS_OPTIONS = {"--check", "--strict", "--help"}


def _code_blocks(language: str) -> list[str]:
    """The README's fenced blocks in ``language``, indented ones (inside lists) included."""
    pattern = re.compile(
        rf"^(?P<indent>[ \t]*)```{language}\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
    )
    return [textwrap.dedent(match["body"]) for match in pattern.finditer(README)]


def _prose() -> str:
    """The README without its fenced blocks, whose text is sample output, not claims."""
    return re.sub(r"^[ \t]*```.*?^[ \t]*```", "", README, flags=re.M | re.S)


def test_no_heading_is_repeated_within_its_section() -> None:
    seen: set[tuple[str, ...]] = set()
    path: list[str] = []
    for line in _prose().splitlines():
        match = re.match(r"^(#+) (.+)$", line)
        if match is None:
            continue
        level = len(match[1])
        path = [*path[: level - 1], match[2].strip()]
        key = tuple(path)
        assert key not in seen, f"README repeats the section {' > '.join(key)!r}"
        seen.add(key)


def test_python_examples_parse() -> None:
    blocks = _code_blocks("python")
    assert blocks, "the README has Python examples"
    for block in blocks:
        # README examples await at top level, as in a notebook or `python -m asyncio`.
        compile(block, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_names_the_examples_import_exist() -> None:
    imported = 0
    for block in _code_blocks("python"):
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("toolvolley")
            ):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module}.{alias.name}"
                    imported += 1
    assert imported, "the README's examples import from toolvolley"


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-zA-Z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", README))
    assert {"demo", "test"} <= named
    assert named <= targets, f"README names missing make targets: {sorted(named - targets)}"


def test_files_it_points_to_exist() -> None:
    paths = set(re.findall(r"`((?:benchmarks|examples|docs|src|tests)/[^`\s]+)`", README))
    paths |= set(re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README))  # images
    paths |= set(re.findall(r"python ((?:benchmarks|examples)/\S+\.py)", README))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"README points to files that do not exist: {missing}"


def test_command_line_options_exist() -> None:
    """Every ``--option`` the README mentions belongs to the toolvolley command or a benchmark."""
    known = set(OTHER_TOOLS_OPTIONS)
    group = typer.main.get_command(app)  # the dev extra installs the cli extra
    for param in group.params:  # the command's own: --version
        known.update(param.opts, param.secondary_opts)
    for command in getattr(group, "commands", {}).values():
        for param in command.params:
            known.update(param.opts, param.secondary_opts)
    for script in [*ROOT.glob("benchmarks/*.py"), *ROOT.glob("benchmarks/*/*.py")]:
        known.update(re.findall(r"add_argument\(\s*\"(--[a-z][\w-]*)\"", script.read_text()))
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", README))
    assert mentioned
    unknown = sorted(mentioned - known)
    assert not unknown, f"README mentions options nothing accepts: {unknown}"
