"""Embeddings: text → vectors, for the vector store and retrievers.

Two with LangChain's interface (``embed_documents``/``embed_query`` and async twins):
:class:`OpenAIEmbeddings` over the Embeddings API (OpenAI or any compatible server), and
:class:`HashingEmbeddings`, the offline default: a signed, hashed bag of words. It needs no model
download and no network, gives the same vectors in every process (no salted ``hash()``), and is
lexical (texts sharing words are closer), which is what tutorials and tests need from it.

Both also offer ``embed_array(texts)``, a float32 matrix, so the vector store skips building and
unpacking lists of Python floats.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from chainmagic.core.aio import in_thread
from chainmagic.core.openai_client import DEFAULT_TIMEOUT, ClientSettings, Connection
from chainmagic.core.retries import acall_with_retries, call_with_retries
from chainmagic.errors import ModelError

__all__ = [
    "HashingEmbeddings",
    "OpenAIEmbeddings",
    "aembed_query",
    "aembed_texts",
    "embed_query",
    "embed_texts",
]

Matrix = npt.NDArray[np.float32]

_WORD = re.compile(r"[^\W_]+")
# Function words carry little meaning; they still count, a quarter as much.
_STOPWORDS = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from",
        "had", "has", "have", "how", "i", "in", "is", "it", "its", "of", "on", "or", "that",
        "the", "this", "to", "was", "were", "what", "when", "where", "which", "who", "why",
        "will", "with", "you",
    )
)  # fmt: skip
_SUFFIXES = ("ing", "ies", "ed", "s")
_BATCH = 4096  # texts per dense block: bounds the scratch memory of one bincount
_CACHE_LIMIT = 200_000


def _stem(word: str) -> str:
    """A crude suffix strip, so ``worked``/``works``/``working`` meet ``work``."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


class HashingEmbeddings:
    """Offline, deterministic, lexical embeddings: each word adds ±1 at two hashed positions.

    Words are lower-cased and crudely stemmed; the result is L2-normalized, so an inner product is
    a cosine. Two positions per word (from BLAKE2b, not Python's per-process ``hash``) keep one
    collision from making two unrelated words identical. ~10⁵ short texts/s, numpy only.
    """

    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 2:
            raise ValueError("HashingEmbeddings needs at least 2 dimensions")
        self.dimensions = dimensions
        self._features: dict[str, tuple[int, int, float, float]] = {}

    def __repr__(self) -> str:
        return f"HashingEmbeddings(dimensions={self.dimensions})"

    def _feature(self, word: str) -> tuple[int, int, float, float]:
        """Two (position, signed weight) pairs for ``word``; cached, the vocabulary repeats."""
        feature = self._features.get(word)
        if feature is None:
            digest = hashlib.blake2b(_stem(word).encode(), digest_size=16).digest()
            a = int.from_bytes(digest[:8], "little")
            b = int.from_bytes(digest[8:], "little")
            weight = 0.25 if word in _STOPWORDS else 1.0
            feature = (
                a % self.dimensions,
                b % self.dimensions,
                weight if a >> 63 else -weight,
                weight if b >> 63 else -weight,
            )
            if len(self._features) < _CACHE_LIMIT:
                self._features[word] = feature
        return feature

    def embed_array(self, texts: Sequence[str]) -> Matrix:
        """The unit vectors of ``texts`` as an ``(n, dimensions)`` float32 matrix."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            out[start : start + _BATCH] = self._block(texts[start : start + _BATCH])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _block(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        # Words become ids into this block's own vocabulary; numpy then scatters every word's
        # two signed weights into place with one bincount.
        vocabulary: dict[str, int] = {}
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            words = _WORD.findall(text.lower())
            lengths.append(len(words))
            for word in words:
                index = vocabulary.get(word)
                if index is None:
                    index = vocabulary[word] = len(vocabulary)
                ids.append(index)
        n, d = len(texts), self.dimensions
        if not ids:
            return np.zeros((n, d))
        table = np.array([self._feature(w) for w in vocabulary], dtype=np.float64)
        word = np.asarray(ids, dtype=np.intp)
        rows = np.repeat(np.arange(n, dtype=np.intp), lengths)[:, None]
        slots = rows * d + table[word, :2].astype(np.intp)
        counts = np.bincount(slots.ravel(), weights=table[word, 2:].ravel(), minlength=n * d)
        return counts.reshape(n, d)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()

    async def aembed_array(self, texts: Sequence[str]) -> Matrix:
        if len(texts) > _BATCH:  # ~30 ms or more of CPU: keep the event loop free meanwhile
            return await in_thread(partial(self.embed_array, texts))
        return self.embed_array(texts)  # a thread hop would cost more than the work

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return (await self.aembed_array(texts)).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)  # microseconds of CPU: no thread hop


class OpenAIEmbeddings:
    """Embeddings from OpenAI's Embeddings API, or any server that speaks it (``base_url``).

    Inputs are sent ``chunk_size`` at a time (OpenAI takes at most 2,048 per request); async calls
    send up to ``max_concurrency`` chunks at once. ``dimensions`` is sent only when set (only the
    ``text-embedding-3`` models accept it). Errors are :class:`~chainmagic.errors.ModelError`.

    Retries follow the chat models' policy (:mod:`chainmagic.core.retries`), not the ``openai``
    client's: rate limits, 5xx and refused connections are retried ``max_retries`` times per request
    with backoff honouring ``Retry-After``, but a timeout is not, so a server that never answers
    fails after ``timeout`` seconds rather than three times that.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        dimensions: int | None = None,
        chunk_size: int = 1000,
        max_concurrency: int = 4,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        base_url: str | None = None,
        api_key: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        provider: str = "openai",
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.model = model
        self.dimensions = dimensions
        self.chunk_size = chunk_size
        self.max_concurrency = max(1, max_concurrency)
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r}: a whole number, 0 or more")
        self.max_retries = max_retries
        self._connection = Connection(
            provider,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=0,  # retried here (see the class docstring), never by the client as well
            default_headers=default_headers,
        )

    def __repr__(self) -> str:
        base_url = self._connection.base_url
        where = f", base_url={base_url!r}" if base_url else ""
        return f"OpenAIEmbeddings({self.model!r}{where})"

    def _requests(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        # The API rejects empty strings; a space embeds as "nothing" just the same.
        inputs = [text or " " for text in texts]
        extra = {"dimensions": self.dimensions} if self.dimensions is not None else {}
        return [
            {"model": self.model, "input": inputs[i : i + self.chunk_size], **extra}
            for i in range(0, len(inputs), self.chunk_size)
        ]

    def embed_array(self, texts: Sequence[str]) -> Matrix:
        return _matrix(self.embed_documents(texts), self.dimensions)

    async def aembed_array(self, texts: Sequence[str]) -> Matrix:
        return _matrix(await self.aembed_documents(texts), self.dimensions)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        with self._connection.errors(model=self.model):
            for request in self._requests(texts):
                response = call_with_retries(
                    partial(self._connection.sync().embeddings.create, **request),
                    attempts=self.max_retries + 1,
                )
                vectors.extend(_vectors(response, self._connection.settings()))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        limit = asyncio.Semaphore(self.max_concurrency)

        async def one(request: dict[str, Any]) -> list[list[float]]:
            async with limit:
                client = await self._connection.async_()
                response = await acall_with_retries(
                    partial(client.embeddings.create, **request), attempts=self.max_retries + 1
                )
                return _vectors(response, self._connection.settings())

        with self._connection.errors(model=self.model):
            parts = await asyncio.gather(*(one(r) for r in self._requests(texts)))
        return [vector for part in parts for vector in part]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]


def _vectors(response: Any, server: ClientSettings) -> list[list[float]]:
    """The vectors of an Embeddings response, in input order (``index`` says which is which).

    A server without a pooling step (llama.cpp with a model that declares none) sends one vector
    per *token*, a list of lists, which the client accepts and numpy later rejects with an
    "inhomogeneous shape": it is caught here, where the server can still be named.
    """
    vectors = [item.embedding for item in sorted(response.data, key=lambda item: item.index)]
    for vector in vectors:
        if not isinstance(vector, list) or (vector and not isinstance(vector[0], (int, float))):
            shape = (
                "one vector per token" if vector and isinstance(vector[0], list) else "no vector"
            )
            raise ModelError(
                server.scrub(
                    f"{server.who} returned {shape} instead of one vector per text: the model "
                    "is served without pooling (for llama.cpp, set its pooling type, e.g. mean)"
                ),
                provider=server.provider,
            )
    return vectors


def _matrix(vectors: list[list[float]], dimensions: int | None) -> Matrix:
    if not vectors:
        return np.zeros((0, dimensions or 0), dtype=np.float32)
    return np.asarray(vectors, dtype=np.float32)


# -- any embedder → float32 matrices (what the vector store needs) -----------------------------------
# LangChain's interface returns lists of floats; ours also offer (a)embed_array, which skips them.


def embed_texts(embedder: Any, texts: list[str]) -> Matrix:
    fast = getattr(embedder, "embed_array", None)
    vectors = fast(texts) if fast is not None else embedder.embed_documents(texts)
    return np.asarray(vectors, dtype=np.float32)


def embed_query(embedder: Any, query: str) -> Matrix:
    fast = getattr(embedder, "embed_array", None)
    vector = fast([query])[0] if fast is not None else embedder.embed_query(query)
    return np.asarray(vector, dtype=np.float32)


async def aembed_texts(embedder: Any, texts: list[str]) -> Matrix:
    embed = getattr(embedder, "aembed_array", None) or getattr(embedder, "aembed_documents", None)
    if embed is None:  # a sync-only embedder: keep the event loop free while it works
        return await in_thread(partial(embed_texts, embedder, texts))
    return np.asarray(await embed(texts), dtype=np.float32)


async def aembed_query(embedder: Any, query: str) -> Matrix:
    fast = getattr(embedder, "aembed_array", None)
    if fast is not None:
        return np.asarray((await fast([query]))[0], dtype=np.float32)
    embed = getattr(embedder, "aembed_query", None)
    if embed is None:
        return await in_thread(partial(embed_query, embedder, query))
    return np.asarray(await embed(query), dtype=np.float32)
