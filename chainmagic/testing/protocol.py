"""OpenAI payload shapes: chat completions, stream chunks, embeddings, models, errors.

Everything here is pure (no sockets, no clocks beyond ``created``) so the exact
shape the real API returns is written down in one place and the openai client's
pydantic models parse it as they would a real response.

Token counts are approximate on purpose: a "token" is a run of whitespace plus
the word after it, which keeps ``"".join(tokens) == text`` for streaming and needs
no tokenizer download.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chainmagic.testing.replies import message_text

JSON = dict[str, Any]
EmbeddingInput = str | list[int]

_TOKEN = re.compile(r"\s*\S+|\s+")
_WORD = re.compile(r"\w+")
_SLOTS = 2


def new_id(prefix: str) -> str:
    """An id in OpenAI's style, e.g. ``chatcmpl-…``."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def split_tokens(text: str) -> list[str]:
    """Word-ish tokens whose concatenation is exactly ``text``."""
    return _TOKEN.findall(text)


def prompt_tokens(messages: Sequence[object]) -> int:
    """Approximate prompt size: word-ish tokens across all message contents."""
    return sum(
        len(split_tokens(message_text(message.get("content"))))
        for message in messages
        if isinstance(message, dict)
    )


@dataclass(frozen=True)
class Completion:
    """A decided reply: its tokens (already cut to ``max_tokens``) and why it ended."""

    tokens: list[str]
    finish_reason: str
    prompt_tokens: int
    model: str
    id: str
    created: int

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def usage(self) -> JSON:
        completion = len(self.tokens)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def plan_completion(
    reply: str, messages: Sequence[object], model: str, max_tokens: int | None
) -> Completion:
    """Tokenize ``reply`` and cut it at ``max_tokens`` (finish_reason "length")."""
    tokens = split_tokens(reply)
    finish_reason = "stop"
    if max_tokens is not None and len(tokens) > max_tokens:
        tokens, finish_reason = tokens[:max_tokens], "length"
    return Completion(
        tokens=tokens,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens(messages),
        model=model,
        id=new_id("chatcmpl-"),
        created=int(time.time()),
    )


def chat_completion(completion: Completion) -> JSON:
    """The non-streaming ``chat.completion`` object."""
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.text, "refusal": None},
                "logprobs": None,
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": completion.usage,
    }


@dataclass(frozen=True)
class ChunkStream:
    """The SSE payloads of one streamed completion.

    ``body`` is the role chunk and the content chunks; ``tail`` is the chunk with
    ``finish_reason`` and (when asked) the usage chunk. A cut stream sends only a
    prefix of ``body``, so the client never sees a finish_reason or ``[DONE]``.
    """

    body: list[JSON]
    tail: list[JSON]


def chat_stream(completion: Completion, *, include_usage: bool) -> ChunkStream:
    """The ``chat.completion.chunk`` objects OpenAI sends for ``stream: true``."""

    def chunk(delta: JSON, finish_reason: str | None = None) -> JSON:
        payload: JSON = {
            "id": completion.id,
            "object": "chat.completion.chunk",
            "created": completion.created,
            "model": completion.model,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            payload["usage"] = None  # OpenAI sends null on every chunk but the last
        return payload

    body = [chunk({"role": "assistant", "content": "", "refusal": None})]
    body.extend(chunk({"content": token}) for token in completion.tokens)
    tail = [chunk({}, completion.finish_reason)]
    if include_usage:
        usage_chunk = chunk({})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = completion.usage
        tail.append(usage_chunk)
    return ChunkStream(body=body, tail=tail)


def embedding_inputs(raw: object) -> list[EmbeddingInput]:
    """Normalize ``input``: a string, strings, a token list, or token lists."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(item, int) for item in raw):
            return [list(raw)]
        if all(isinstance(item, str) for item in raw):
            return list(raw)
        if all(isinstance(item, list) and all(isinstance(t, int) for t in item) for item in raw):
            return [list(item) for item in raw]
    raise ValueError("'input' must be a string, a list of strings, or a list of token lists.")


def _features(item: EmbeddingInput) -> list[str]:
    if isinstance(item, str):
        return _WORD.findall(item.lower())
    return [f"#{token}" for token in item]


def embed(item: EmbeddingInput, dimensions: int) -> list[float]:
    """A deterministic unit vector: a signed, hashed bag of words.

    Texts sharing words get positive cosine similarity, so retrieval tests behave
    sensibly. Values are rounded through float32 so the "float" and "base64"
    encodings decode to identical numbers.
    """
    vector = [0.0] * dimensions
    for feature in _features(item) or [""]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8 * _SLOTS).digest()
        for slot in range(_SLOTS):  # two slots per word: one collision no longer merges words
            value = int.from_bytes(digest[8 * slot : 8 * slot + 8], "big")
            vector[value % dimensions] += 1.0 if value >> 63 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0.0:  # every feature cancelled out; fall back to a fixed unit vector
        vector, norm = [1.0] + [0.0] * (dimensions - 1), 1.0
    packed = struct.pack(f"<{dimensions}f", *(value / norm for value in vector))
    return list(struct.unpack(f"<{dimensions}f", packed))


def _token_count(item: EmbeddingInput) -> int:
    return len(split_tokens(item)) if isinstance(item, str) else len(item)


def embeddings(
    items: Sequence[EmbeddingInput], *, model: str, dimensions: int, encoding_format: str
) -> JSON:
    """The ``list`` of ``embedding`` objects; base64 is little-endian float32 like OpenAI's."""
    data = []
    for index, item in enumerate(items):
        vector = embed(item, dimensions)
        encoded: list[float] | str = vector
        if encoding_format == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(_token_count(item) for item in items)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def model_object(name: str, created: int) -> JSON:
    return {"id": name, "object": "model", "created": created, "owned_by": "chainmagic"}


def model_list(names: Sequence[str], created: int) -> JSON:
    return {"object": "list", "data": [model_object(name, created) for name in names]}


_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", None),
    408: ("timeout", None),
    409: ("conflict", None),
    429: ("requests", "rate_limit_exceeded"),
}


def error(status: int, message: str, *, param: str | None = None) -> JSON:
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""
    kind, code = _ERROR_KINDS.get(
        status, ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
