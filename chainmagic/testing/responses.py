"""Writing responses: whole JSON bodies in one write, SSE streams as chunked events.

One ``writer.write`` per response (or per stream event) is the point: split small
writes stall on Nagle's algorithm and delayed ACKs, which made the old
``http.server`` mock ~40 ms slower per request than the latency it simulated.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from chainmagic.testing import protocol, wire
from chainmagic.testing.state import Failure

DONE_EVENT = b"data: [DONE]\n\n"


def _request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def _sse(chunk: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


async def send_json(
    writer: asyncio.StreamWriter,
    status: int,
    body: Any,
    keep: bool,
    headers: dict[str, str] | None = None,
) -> bool:
    """Write a complete JSON response; return ``keep`` (may the connection be reused)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    extra = {"x-request-id": _request_id(), **(headers or {})}
    writer.write(wire.render_response(status, data, keep_alive=keep, headers=extra))
    await writer.drain()
    return keep


async def send_error(
    writer: asyncio.StreamWriter,
    status: int,
    message: str,
    keep: bool,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> bool:
    """An error in OpenAI's envelope, which the client maps to its exception classes."""
    body = protocol.error(status, message, param=param)
    return await send_json(writer, status, body, keep, headers)


async def send_failure(writer: asyncio.StreamWriter, failure: Failure, keep: bool) -> bool:
    """An injected failure, with ``Retry-After`` and ``retry-after-ms`` when asked."""
    headers = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = f"{failure.retry_after:g}"
        headers["retry-after-ms"] = str(round(failure.retry_after * 1000))
    if failure.body is None:
        return await send_error(writer, failure.status, failure.message, keep, headers=headers)
    if isinstance(failure.body, str):  # a plain-text error page, as proxies and some servers send
        extra = {"Content-Type": "text/plain; charset=utf-8", **headers}
        data = failure.body.encode()
        writer.write(wire.render_response(failure.status, data, keep_alive=keep, headers=extra))
        await writer.drain()
        return keep
    return await send_json(writer, failure.status, failure.body, keep, headers)


async def send_stream(
    writer: asyncio.StreamWriter,
    stream: protocol.ChunkStream,
    keep: bool,
    *,
    chunk_delay: float,
    cut_after: int | None,
    spoil: str | None = None,
    written: list[float] | None = None,
) -> bool:
    """Server-sent events in a chunked body, the chunks of text ``chunk_delay`` apart.

    With ``cut_after`` only that many body events are sent and the caller must
    drop the connection (we return False): no finish_reason, no ``[DONE]``, no
    terminating chunk, which is what a network failure mid-stream looks like.
    ``written`` gets the loop's time of each write.
    """
    events = [(_sse(chunk), _has_text(chunk)) for chunk in stream.body]
    if spoil == "no_choices":  # chunks of another shape: never a choice, never a finish_reason
        cut_after = None
        empty = {"id": "chatcmpl-spoiled", "object": "chat.completion.chunk", "choices": []}
        events = [(_sse(empty), True)] * 3 + [(DONE_EVENT, False)]
    elif cut_after is None:
        events += [(_sse(chunk), False) for chunk in stream.tail]
        events.append((DONE_EVENT, False))
    else:
        events = events[: max(0, cut_after)]
    if spoil == "malformed":  # a broken event after the first one, where the text would be
        events.insert(1, (b'data: {"id": "broken", "choices": [\n\n', True))
    frames = [(wire.render_chunk(event), paced) for event, paced in events]
    if cut_after is None:
        frames.append((wire.LAST_CHUNK, False))
    head = wire.render_head(
        200,
        {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            "Connection": "keep-alive" if keep else "close",
            "x-request-id": _request_id(),
        },
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    for slot, data in enumerate(_bursts(head, frames)):
        # Each burst is due at an absolute time, start + slot · chunk_delay: a relative sleep
        # overshoots (the selector rounds its timeout up to the millisecond, a busy machine adds
        # more) and the overshoots would add up, so the stream would be slower than it was told.
        wait = start + slot * chunk_delay - loop.time()
        if slot and wait > 0:
            await asyncio.sleep(wait)
        writer.write(data)
        if written is not None:
            written.append(loop.time())
        await writer.drain()
    return keep and cut_after is None


def _has_text(chunk: dict[str, Any]) -> bool:
    """Whether a chunk carries text: those are the ones ``chunk_delay`` spaces out."""
    choices = chunk.get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


def _bursts(head: bytes, frames: list[tuple[bytes, bool]]) -> list[bytes]:
    """The bytes to write at each tick of the stream, one write per tick.

    ``chunk_delay`` is the time between chunks of text, as a server's decoding step would space
    them: the head and the role chunk travel with the first text chunk (so the first token comes
    ``latency`` after the request, not ``latency + chunk_delay``), and the finish, usage and
    ``[DONE]`` frames with the last one.
    """
    bursts = [head]
    text_seen = False
    for data, paced in frames:
        if paced and text_seen:
            bursts.append(data)
        else:
            bursts[-1] += data
        text_seen = text_seen or paced
    return bursts
