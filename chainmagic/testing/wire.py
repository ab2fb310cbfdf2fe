"""Just enough HTTP/1.1 for the mock OpenAI server, on top of asyncio streams.

Why not ``http.server``: ``ThreadingHTTPServer`` listens with a backlog of 5, so a
burst of concurrent clients gets connections refused, and it writes the status
line/headers and the body in separate small writes, which Nagle's algorithm and
delayed ACKs turn into a ~40 ms stall per request. Here every plain response is
rendered into one ``bytes`` object and written at once, requests are read with
``Content-Length`` (or chunked) bodies, and connections are kept alive the way
the openai client expects (it pools and reuses them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_HEADERS = 128
LAST_CHUNK = b"0\r\n\r\n"
_BLANK = (b"\r\n", b"\n")


class WireError(Exception):
    """A request we cannot parse; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request. Header names are lower-cased."""

    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 only on request."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read the next request, or return None when the peer closed the connection cleanly."""
    line = await reader.readline()
    while line in _BLANK:  # RFC 9112 §2.2: ignore stray empty lines between requests
        line = await reader.readline()
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise WireError(400, "Malformed HTTP request line.")
    method, target, version = parts
    headers = await _read_headers(reader)
    if headers is None:
        return None
    body = await _read_body(reader, headers)
    path, _, query = target.partition("?")
    return Request(method.upper(), path, query, version, headers, body)


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if not raw:
            return None
        if raw in _BLANK:
            return headers
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise WireError(400, "Malformed HTTP header line.")
        key, value = name.strip().lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if len(headers) > MAX_HEADERS:
            raise WireError(431, "Too many request headers.")


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = headers.get("content-length")
    if length is None:
        return b""
    try:
        size = int(length)
    except ValueError:
        raise WireError(400, "Invalid Content-Length header.") from None
    if size < 0:
        raise WireError(400, "Invalid Content-Length header.")
    if size > MAX_BODY_BYTES:
        raise WireError(413, "Request body too large.")
    return await reader.readexactly(size)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readline()
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise WireError(400, "Malformed chunk size in request body.") from None
        if size == 0:
            while (await reader.readline()) not in (*_BLANK, b""):
                pass  # discard trailers
            return b"".join(parts)
        total += size
        if total > MAX_BODY_BYTES:
            raise WireError(413, "Request body too large.")
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk


def reason(status: int) -> str:
    """The standard reason phrase, so status lines look like a real server's."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def render_head(status: int, headers: Mapping[str, str]) -> bytes:
    """Status line plus headers plus the blank line, as one bytes object."""
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def render_response(
    status: int,
    body: bytes,
    *,
    keep_alive: bool,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A complete response (head and body) for a single ``writer.write``."""
    head = {
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
        "Connection": "keep-alive" if keep_alive else "close",
        **(headers or {}),
    }
    return render_head(status, head) + body


def render_chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body."""
    return b"%x\r\n%s\r\n" % (len(data), data)
