"""The README matches the code: its examples run as pasted, what it names exists, no section is
repeated."""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main

from toolvolley.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Options of other tools that the README quotes (ruff format --check, mypy --strict, --help).
OTHER_TOOLS_OPTIONS = {"--check", "--strict", "--help"}

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<language>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
# A Python block whose first line says so continues the Python block before it (same file).
FRAGMENT = re.compile(r"# continues the block above\b")
# A Python block whose first line names a file ("# server.py: ...") is that file; consecutive
# such blocks make one program, run through the last file.
FILE = re.compile(r"# (?P<name>[\w-]+\.py)\b")


@dataclass(frozen=True)
class Fenced:
    """A fenced block: the heading it sits under, its language, its text (dedented) and the
    document's text between the fenced block before it and this one."""

    heading: str
    language: str
    body: str
    before: str


@dataclass(frozen=True)
class Program:
    """Python blocks that run as one program: files written side by side, the last one run.
    ``output`` is what the document shows it printing, or None if it shows nothing."""

    name: str
    files: dict[str, str]
    output: str | None


def _fenced_blocks(text: str) -> list[Fenced]:
    """The document's fenced blocks in order, indented ones (inside lists) included."""
    blocks: list[Fenced] = []
    heading, end = "", 0
    for match in FENCE.finditer(text):
        before = text[end : match.start()]
        for title in re.findall(r"^#+ (.+)$", before, re.M):
            heading = title.strip()
        body = textwrap.dedent(match["body"])
        blocks.append(Fenced(heading, match["language"], body, before))
        end = match.end()
    return blocks


def _code_blocks(language: str) -> list[str]:
    """The README's fenced blocks in ``language``."""
    return [block.body for block in _fenced_blocks(README) if block.language == language]


def _prose() -> str:
    """The README without its fenced blocks, whose text is sample output, not claims."""
    return re.sub(r"^[ \t]*```.*?^[ \t]*```", "", README, flags=re.M | re.S)


def _shown_output(blocks: list[Fenced], index: int) -> str | None:
    """The output the document shows for ``blocks[index]``: the next fenced block if it has no
    language and follows at once or after one paragraph ending in a colon ("... prints:")."""
    if index + 1 == len(blocks) or blocks[index + 1].language:
        return None
    between = blocks[index + 1].before.strip()
    if between and ("\n\n" in between or not between.endswith(":")):
        return None
    return blocks[index + 1].body


def _then(first: str | None, second: str | None) -> str | None:
    return None if first is None and second is None else (first or "") + (second or "")


def _programs(text: str) -> list[Program]:
    """Every Python block of ``text`` as a program: a block on its own, a block with the blocks
    it continues (each fragment is a program of its own: its base followed by it), or
    consecutive file blocks together."""
    blocks = _fenced_blocks(text)
    programs: list[Program] = []
    previous: Program | None = None
    previous_is_file = False
    for index, block in enumerate(blocks):
        if block.language != "python":
            continue
        output = _shown_output(blocks, index)
        first_line = block.body.partition("\n")[0]
        file = FILE.match(first_line)
        if FRAGMENT.match(first_line):
            assert previous is not None, f"the first Python block ({block.heading}) continues none"
            *_, last = previous.files
            files = {**previous.files, last: f"{previous.files[last]}\n{block.body}"}
            program = Program(block.heading, files, _then(previous.output, output))
            programs.append(program)
        elif file and previous is not None and previous_is_file:
            files = {**previous.files, file["name"]: block.body}
            program = Program(block.heading, files, _then(previous.output, output))
            programs[-1] = program  # the earlier files only run with this one
        else:
            name = file["name"] if file else "example.py"
            program = Program(block.heading, {name: block.body}, output)
            programs.append(program)
        previous, previous_is_file = program, bool(file)
    return programs


def _documents() -> list[tuple[str, str]]:
    docs = sorted((ROOT / "docs").glob("**/*.md"))
    return [("", README), *((f"{p.relative_to(ROOT)}: ", p.read_text("utf-8")) for p in docs)]


PROGRAMS = [
    pytest.param(program, id=prefix + program.name)
    for prefix, text in _documents()
    for program in _programs(text)
]

# Installed as sitecustomize in the example's process and those that inherit its environment
# (Ray's; an MCP stdio server gets a minimal environment of its own): a connection to anything
# but loopback is refused and written down. Ray's head process asks the cloud metadata address
# which cloud it runs on whatever the settings (ray/_common/usage/usage_lib.py,
# get_cloud_from_metadata_requests, called by the dashboard's usage_stats_head.py): refused
# too, but not held against the example.
LOOPBACK_ONLY = """\
import ipaddress
import os
import socket
import traceback

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _check(address):
    if not isinstance(address, tuple):
        return  # AF_UNIX paths are local
    try:
        local = address[0] == "localhost" or ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        local = False
    if local:
        return
    ray_probe = any(
        frame.name == "get_cloud_from_metadata_requests" for frame in traceback.extract_stack()
    )
    if not ray_probe:
        with open(os.environ["README_EXAMPLE_NETWORK_LOG"], "a") as log:
            log.write(f"{address!r}\\n")
    raise OSError(f"README examples run offline: refused to reach {address!r}")


def connect(self, address):
    _check(address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
"""


def _normalised(output: str) -> str:
    """Output with what varies from run to run blanked: figures printed with two decimals
    (durations and the ratios made of them) and the bars drawn from durations."""
    output = re.sub(r"(?<![\d.])\d+\.\d\d(?!\d)", "#.##", output)
    output = re.sub(r"│[█▏▎▍▌▋▊▉ ]*│", "│…│", output)
    return "\n".join(line.rstrip() for line in output.strip().splitlines())


def test_the_extraction_rules() -> None:
    text = textwrap.dedent(
        """\
        # One
        ```python
        print(1)
        ```

        ```
        1
        ```
        ## Two
        ```python
        # continues the block above
        print(2)
        ```
        It prints:

        ```
        2
        ```
        ## Three
        ```python
        # server.py: serves
        ```
        Then:
        ```python
        # client.py: asks
        ```
        Between.

        More prose.
        ```
        not the client's output
        ```
        """
    )
    one, two, three = _programs(text)
    assert one == Program("One", {"example.py": "print(1)\n"}, "1\n")
    assert two == Program(
        "Two", {"example.py": "print(1)\n\n# continues the block above\nprint(2)\n"}, "1\n2\n"
    )
    assert three == Program(
        "Three", {"server.py": "# server.py: serves\n", "client.py": "# client.py: asks\n"}, None
    )


@pytest.mark.parametrize("program", PROGRAMS)
def test_python_examples_run_as_pasted(program: Program, tmp_path: Path) -> None:
    """Each example, written to files as a reader would paste it, runs with no API key and no
    network (the offline model), exits 0 and prints what the README shows."""
    for name, source in program.files.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(LOOPBACK_ONLY, encoding="utf-8")
    network_log = tmp_path / "network.log"
    secrets = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"}
    env = {key: value for key, value in os.environ.items() if key not in secrets}
    env |= {
        "PYTHONPATH": str(site),
        "PYTHONIOENCODING": "utf-8",
        "README_EXAMPLE_NETWORK_LOG": str(network_log),
        # A Ray example starts a Ray of its own (never another process's) bound to loopback,
        # without usage reports.
        "RAY_ADDRESS": "local",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    run = subprocess.run(
        [sys.executable, list(program.files)[-1]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=100,
        check=False,
    )
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert not network_log.exists(), f"reached the network: {network_log.read_text()}"
    if program.output is not None:
        assert _normalised(run.stdout) == _normalised(program.output)


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
        compile(block, "README.md", "exec")  # no top-level await: each block is a module


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
