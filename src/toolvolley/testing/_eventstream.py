"""The binary ``application/vnd.amazon.eventstream`` framing ConverseStream answers in.

botocore ships only the decoder; this writes what it reads. One message is::

    total length (4 bytes) | headers length (4) | CRC32 of those 8 bytes (4)
    | headers | payload | CRC32 of everything before it (4)

each header being its name's length (1 byte), the name, its type (7: a string), the value's
length (2 bytes) and the value; every number big-endian.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["event_message", "exception_message"]

_STRING = 7


def event_message(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """One event (``messageStart``, ``contentBlockDelta`` ...) with its JSON payload."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return _message(headers, json.dumps(payload).encode())


def exception_message(exception_type: str, message: str) -> bytes:
    """An error sent inside the stream (``modelStreamErrorException`` ...)."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return _message(headers, json.dumps({"message": message}).encode())


def _message(headers: Mapping[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


def _header(name: str, value: str) -> bytes:
    key, text = name.encode(), value.encode()
    return struct.pack("!B", len(key)) + key + struct.pack("!BH", _STRING, len(text)) + text
