"""Split a docstring into the tool description and per-parameter descriptions.

Understands the three styles people write: Google (``Args:``), Sphinx (``:param x:``) and NumPy
(``Parameters`` underlined with dashes). Anything it does not recognise stays in the description.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_PARAMS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_GOOGLE_OTHER = {
    "returns",
    "return",
    "yields",
    "raises",
    "examples",
    "example",
    "notes",
    "note",
    "attributes",
    "see also",
    "warnings",
    "references",
}
_SECTION = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_GOOGLE_ITEM = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_SPHINX_ANY = re.compile(r"^:\w+")
_NUMPY_UNDERLINE = re.compile(r"^-{3,}\s*$")
_NUMPY_ITEM = re.compile(r"^(\w+)\s*(?::.*)?$")


@dataclass(frozen=True)
class Docstring:
    description: str
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    """Parse ``doc``; an empty or missing docstring gives an empty description."""
    if not doc:
        return Docstring("")
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        header = _SECTION.match(stripped)
        if header and not line.startswith((" ", "\t")):
            name = header.group(1).strip().lower()
            i, items = _read_indented_block(lines, i + 1)
            if name in _GOOGLE_PARAMS:
                params.update(_google_items(items))
            elif name not in _GOOGLE_OTHER:
                description.append(line)
                description.extend(items)
            continue
        if i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1].strip()) and stripped:
            name = stripped.lower()
            i, items = _read_numpy_section(lines, i + 2)
            if name in _GOOGLE_PARAMS:
                params.update(_numpy_items(items))
            continue
        if _SPHINX_ANY.match(stripped):
            i, text = _read_sphinx_field(lines, i)
            param = _SPHINX_PARAM.match(text)
            if param:
                params[param.group(1)] = param.group(2).strip()
            continue
        description.append(line)
        i += 1
    return Docstring("\n".join(description).strip(), params)


def _read_indented_block(lines: list[str], start: int) -> tuple[int, list[str]]:
    items: list[str] = []
    i = start
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
        items.append(lines[i])
        i += 1
    return i, items


def _google_items(block: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    indent = min((len(x) - len(x.lstrip()) for x in block if x.strip()), default=0)
    current: str | None = None
    for raw in block:
        if not raw.strip():
            continue
        level = len(raw) - len(raw.lstrip())
        item = _GOOGLE_ITEM.match(raw.strip())
        if level == indent and item:
            current = item.group(1)
            result[current] = item.group(3).strip()
        elif current is not None:
            result[current] = f"{result[current]} {raw.strip()}".strip()
    return result


def _read_numpy_section(lines: list[str], start: int) -> tuple[int, list[str]]:
    items: list[str] = []
    i = start
    while i < len(lines):
        if i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1].strip()) and lines[i].strip():
            break
        items.append(lines[i])
        i += 1
    return i, items


def _numpy_items(block: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    current: str | None = None
    for raw in block:
        if not raw.strip():
            continue
        item = _NUMPY_ITEM.match(raw)
        if not raw.startswith((" ", "\t")) and item:
            current = item.group(1)
            result[current] = ""
        elif current is not None:
            result[current] = f"{result[current]} {raw.strip()}".strip()
    return result


def _read_sphinx_field(lines: list[str], start: int) -> tuple[int, str]:
    text = lines[start].strip()
    i = start + 1
    while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
        text = f"{text} {lines[i].strip()}"
        i += 1
    return i, text
