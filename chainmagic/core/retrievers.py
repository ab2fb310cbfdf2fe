"""``VectorStoreRetriever``: a vector store's search as a step, query string in, documents out.

It is what ``FAISS(...).as_retriever()`` returns and what the retrieval chain puts under
``"context"``. Searching waits on an embedding call (for API embeddings, the network), so it is not
``inline``: in a parallel map it runs beside its siblings rather than before them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from chainmagic.core.documents import Document
from chainmagic.core.events import Run
from chainmagic.core.messages import BaseMessage
from chainmagic.core.runnable import Runnable

__all__ = ["SEARCH_TYPES", "VectorStoreRetriever"]

SEARCH_TYPES = ("similarity", "mmr", "similarity_score_threshold")


class SearchableStore(Protocol):
    """What a retriever needs from a store (FAISS, or any with these methods)."""

    def similarity_search(self, query: str, k: int = ..., **kwargs: Any) -> list[Document]: ...

    def similarity_search_with_score(
        self, query: str, k: int = ..., **kwargs: Any
    ) -> list[tuple[Document, float]]: ...

    def max_marginal_relevance_search(
        self, query: str, k: int = ..., **kwargs: Any
    ) -> list[Document]: ...

    async def asimilarity_search(
        self, query: str, k: int = ..., **kwargs: Any
    ) -> list[Document]: ...

    async def asimilarity_search_with_score(
        self, query: str, k: int = ..., **kwargs: Any
    ) -> list[tuple[Document, float]]: ...

    async def amax_marginal_relevance_search(
        self, query: str, k: int = ..., **kwargs: Any
    ) -> list[Document]: ...


class VectorStoreRetriever(Runnable):
    """Runs one kind of search on a store for each query.

    ``search_type``: ``"similarity"`` (the ``k`` nearest), ``"mmr"`` (nearest but diverse:
    ``fetch_k``, ``lambda_mult``) or ``"similarity_score_threshold"`` (only results whose score
    passes ``score_threshold``). ``search_kwargs`` go to the store's search (``k``, ``filter``...).
    """

    def __init__(
        self,
        vectorstore: SearchableStore,
        search_type: str = "similarity",
        search_kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if search_type not in SEARCH_TYPES:
            raise ValueError(
                f"search_type must be one of {', '.join(map(repr, SEARCH_TYPES))}, "
                f"got {search_type!r}"
            )
        kwargs = dict(search_kwargs or {})
        if search_type == "similarity_score_threshold" and "score_threshold" not in kwargs:
            raise ValueError("search_type='similarity_score_threshold' needs a score_threshold")
        self.vectorstore = vectorstore
        self.search_type = search_type
        self.search_kwargs = kwargs
        self.label = name

    def _default_name(self) -> str:
        return "VectorStoreRetriever"

    def _invoke(self, input: Any, run: Run | None) -> list[Document]:
        query = _query(input)
        store, kwargs = self.vectorstore, dict(self.search_kwargs)
        if self.search_type == "mmr":
            return store.max_marginal_relevance_search(query, **kwargs)
        if self.search_type == "similarity_score_threshold":
            threshold = kwargs.pop("score_threshold")
            return _passing(store.similarity_search_with_score(query, **kwargs), threshold, store)
        return store.similarity_search(query, **kwargs)

    async def _ainvoke(self, input: Any, run: Run | None) -> list[Document]:
        query = _query(input)
        store, kwargs = self.vectorstore, dict(self.search_kwargs)
        if self.search_type == "mmr":
            return await store.amax_marginal_relevance_search(query, **kwargs)
        if self.search_type == "similarity_score_threshold":
            threshold = kwargs.pop("score_threshold")
            found = await store.asimilarity_search_with_score(query, **kwargs)
            return _passing(found, threshold, store)
        return await store.asimilarity_search(query, **kwargs)


def _query(input: Any) -> str:
    if isinstance(input, str):
        return input
    if isinstance(input, BaseMessage):
        return input.text
    hint = ""
    if isinstance(input, Mapping):
        hint = "; pick the question first, e.g. itemgetter('question') | retriever"
    raise TypeError(f"a retriever needs a query string, got {type(input).__name__}{hint}")


def _passing(found: list[tuple[Document, float]], threshold: float, store: Any) -> list[Document]:
    """Documents whose score passes: at least ``threshold``, or at most for distances (L2)."""
    if getattr(store, "distance", "cosine") == "l2":
        return [doc for doc, score in found if score <= threshold]
    return [doc for doc, score in found if score >= threshold]
