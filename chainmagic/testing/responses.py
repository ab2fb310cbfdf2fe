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
) -> bool:
    """Server-sent events in a chunked body, ``chunk_delay`` apart.

    With ``cut_after`` only that many body events are sent and the caller must
    drop the connection (we return False): no finish_reason, no ``[DONE]``, no
    terminating chunk, which is what a network failure mid-stream looks like.
    """
    events = [_sse(chunk) for chunk in stream.body]
    if spoil == "no_choices":  # chunks of another shape: never a choice, never a finish_reason
        cut_after = None
        empty = {"id": "chatcmpl-spoiled", "object": "chat.completion.chunk", "choices": []}
        events = [_sse(empty)] * 3 + [DONE_EVENT]
    elif cut_after is None:
        events += [_sse(chunk) for chunk in stream.tail]
        events.append(DONE_EVENT)
    else:
        events = events[: max(0, cut_after)]
    if spoil == "malformed":  # a broken event after the first one, where the text would be
        events.insert(1, b'data: {"id": "broken", "choices": [\n\n')
    frames = [wire.render_chunk(event) for event in events]
    if cut_after is None:
        frames.append(wire.LAST_CHUNK)
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
    frames[0:0] = [head]
    if len(frames) > 1:  # the head travels with the first event
        frames[0:2] = [frames[0] + frames[1]]
    for index, frame in enumerate(frames):
        if index and chunk_delay > 0:
            await asyncio.sleep(chunk_delay)
        writer.write(frame)
        await writer.drain()
    return keep and cut_after is None
