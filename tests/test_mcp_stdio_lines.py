"""The stdio transport's line reader: a huge line costs time in proportion to its size.

Measured by what the reader allocates while it takes each chunk of one long line (every byte it
copies is a byte allocated), not by time: a reader that joins the line so far on every chunk
allocates the whole line again each time, so its cost grows with the square of the line's size.
"""

from __future__ import annotations

import tracemalloc

import anyio
import anyio.abc
import pytest

from toolvolley.mcp._stdio import _lines

pytestmark = pytest.mark.anyio

CHUNK = 64 * 1024


class Chunks(anyio.abc.ByteReceiveStream):
    """Gives ``chunks`` one by one, noting the most memory allocated since the previous one."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.peaks: list[int] = []
        self.base = 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        peak = tracemalloc.get_traced_memory()[1]
        self.peaks.append(peak - self.base)
        if not self.chunks:
            raise anyio.EndOfStream
        chunk = self.chunks.pop(0)
        tracemalloc.reset_peak()
        self.base = tracemalloc.get_traced_memory()[0]
        return chunk

    async def aclose(self) -> None:
        pass


async def read(stream: Chunks) -> list[bytes]:
    tracemalloc.start()
    try:
        return [line async for line in _lines(stream)]
    finally:
        tracemalloc.stop()


async def test_a_huge_line_is_not_copied_again_for_each_chunk(anyio_backend: str) -> None:
    pieces = [bytes([65 + i % 26]) * CHUNK for i in range(64)]  # one 4 MiB line
    stream = Chunks([*pieces, b"\nnext"])
    lines = await read(stream)
    assert lines == [b"".join(pieces), b"next"]
    # taking a chunk of the line allocates about that chunk, however long the line already is
    taking_the_line = stream.peaks[1 : len(pieces)]
    assert max(taking_the_line) < 4 * CHUNK, taking_the_line


async def test_lines_split_across_and_within_chunks(anyio_backend: str) -> None:
    stream = Chunks([b"a", b"b\nc", b"\n\nd\ne", b"f", b"\n", b"g"])
    assert await read(stream) == [b"ab", b"c", b"", b"d", b"ef", b"g"]
