"""``FAISS``: an in-memory vector store on ``faiss-cpu``, with LangChain's methods.

By default vectors are L2-normalized and compared by inner product, so a score is a cosine
similarity (higher is closer); ``distance="l2"`` gives squared Euclidean distances (lower is closer).
The bookkeeping (ids ↔ FAISS labels, locking, the on-disk format) is
:class:`~chainmagic.core.faiss_index.DocumentIndex`; this module is the LangChain-shaped surface.
``save_local`` writes JSON and a FAISS index, never a pickle, so loading a folder cannot run code.
``faiss`` is imported when the first vectors arrive.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chainmagic.core.documents import Document
from chainmagic.core.embeddings import aembed_query, aembed_texts, embed_query, embed_texts
from chainmagic.core.faiss_index import DocumentIndex
from chainmagic.core.index_files import DISTANCES
from chainmagic.core.retrievers import VectorStoreRetriever
from chainmagic.core.search import Filter, kept, mmr, unit

__all__ = ["FAISS"]


class FAISS:
    """Documents and their vectors, searchable by similarity, MMR, and as a retriever.

    ``embedding`` is anything with ``embed_documents``/``embed_query`` (LangChain's interface);
    one with ``embed_array`` (ours) hands over a float32 matrix directly.
    """

    def __init__(self, embedding: Any, *, distance: str = "cosine") -> None:
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {', '.join(map(repr, DISTANCES))}")
        self.embedding = embedding
        self.distance = distance
        self._index = DocumentIndex(distance)

    @property
    def docstore(self) -> dict[str, Document]:
        """The stored documents by id (read it; change the store through its methods)."""
        return self._index.docs

    @property
    def index(self) -> Any:
        """The underlying FAISS index (None until the first vectors arrive)."""
        return self._index.faiss

    def __repr__(self) -> str:
        return f"FAISS({len(self)} documents, {self.distance}, embedding={self.embedding!r})"

    def __len__(self) -> int:
        return len(self._index)

    # -- building --------------------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        embedding: Any,
        metadatas: Sequence[dict[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> FAISS:
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(cls, documents: Iterable[Document], embedding: Any, **kwargs: Any) -> FAISS:
        store = cls(embedding, **kwargs)
        store.add_documents(documents)
        return store

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Sequence[dict[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Embed and add ``texts``; returns their ids (new UUIDs unless given)."""
        docs = _documents(list(texts), metadatas, ids)
        if not docs:
            return []
        return self._add(docs, embed_texts(self.embedding, [d.page_content for d in docs]))

    def add_documents(self, documents: Iterable[Document], **kwargs: Any) -> list[str]:
        """Add documents, keeping their ``id`` when they have one."""
        return self.add_texts(*_columns(documents, kwargs.get("ids")))

    def _add(self, docs: list[Document], vectors: npt.NDArray[np.float32]) -> list[str]:
        return self._index.add(docs, self._prepare(vectors)) if docs else []

    def delete(self, ids: Sequence[str] | None = None) -> bool:
        """Remove these documents; an unknown id is an error and removes nothing."""
        if not ids:
            raise ValueError("delete() needs the ids of the documents to remove")
        self._index.remove(list(ids))
        return True

    def get_by_ids(self, ids: Sequence[str]) -> list[Document]:
        return [_copy(self.docstore[i]) for i in ids if i in self.docstore]

    # -- searching -------------------------------------------------------------------------------

    def similarity_search(
        self, query: str, k: int = 4, filter: Filter = None, fetch_k: int = 20, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents nearest to ``query`` (``filter``: metadata values, or a function)."""
        found = self.similarity_search_with_score(query, k, filter, fetch_k)
        return [doc for doc, _ in found]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter = None, fetch_k: int = 20, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Nearest documents with their scores (cosine: higher is nearer; l2: lower)."""
        vector = embed_query(self.embedding, query)
        return self.similarity_search_with_score_by_vector(vector, k, filter, fetch_k)

    def similarity_search_by_vector(
        self,
        embedding: Sequence[float] | npt.NDArray[np.float32],
        k: int = 4,
        filter: Filter = None,
        fetch_k: int = 20,
    ) -> list[Document]:
        found = self.similarity_search_with_score_by_vector(embedding, k, filter, fetch_k)
        return [doc for doc, _ in found]

    def similarity_search_with_score_by_vector(
        self,
        embedding: Sequence[float] | npt.NDArray[np.float32],
        k: int = 4,
        filter: Filter = None,
        fetch_k: int = 20,
    ) -> list[tuple[Document, float]]:
        found = self._index.search(
            self._prepare(embedding), k if filter is None else max(k, fetch_k)
        )
        return [(_copy(doc), score) for doc, score, _ in kept(found, filter)[:k]]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents near ``query`` but unlike each other (Carbonell & Goldstein's MMR).

        From the ``fetch_k`` nearest, each pick maximizes ``lambda_mult × similarity to the
        query − (1 − lambda_mult) × highest similarity to a document already picked``.
        """
        vector = embed_query(self.embedding, query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: Sequence[float] | npt.NDArray[np.float32],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter = None,
    ) -> list[Document]:
        vector = self._prepare(embedding)
        found = kept(self._index.search(vector, max(k, fetch_k)), filter)
        if not found:
            return []
        picks = mmr(unit(vector[0]), unit(self._index.vectors(found)), k, lambda_mult)
        return [_copy(found[i][0]) for i in picks]

    def _prepare(self, vectors: Any) -> npt.NDArray[np.float32]:
        """Vectors as a C-contiguous float32 matrix, normalized when comparing cosines."""
        matrix = np.array(vectors, dtype=np.float32, ndmin=2, order="C", copy=True)
        if self.distance == "cosine":
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix

    # -- async twins -----------------------------------------------------------------------------

    @classmethod
    async def afrom_texts(
        cls,
        texts: Iterable[str],
        embedding: Any,
        metadatas: Sequence[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> FAISS:
        ids = kwargs.pop("ids", None)
        store = cls(embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_documents(
        cls, documents: Iterable[Document], embedding: Any, **kwargs: Any
    ) -> FAISS:
        store = cls(embedding, **kwargs)
        await store.aadd_documents(documents)
        return store

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: Sequence[dict[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        docs = _documents(list(texts), metadatas, ids)
        if not docs:
            return []
        return self._add(docs, await aembed_texts(self.embedding, [d.page_content for d in docs]))

    async def aadd_documents(self, documents: Iterable[Document], **kwargs: Any) -> list[str]:
        return await self.aadd_texts(*_columns(documents, kwargs.get("ids")))

    async def adelete(self, ids: Sequence[str] | None = None) -> bool:
        return self.delete(ids)

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: Filter = None, fetch_k: int = 20, **kwargs: Any
    ) -> list[Document]:
        found = await self.asimilarity_search_with_score(query, k, filter, fetch_k)
        return [doc for doc, _ in found]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter = None, fetch_k: int = 20, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        vector = await aembed_query(self.embedding, query)
        return self.similarity_search_with_score_by_vector(vector, k, filter, fetch_k)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = await aembed_query(self.embedding, query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

    # -- as a step -------------------------------------------------------------------------------

    def as_retriever(
        self,
        search_type: str = "similarity",
        search_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> VectorStoreRetriever:
        """This store's search as a runnable step: a query string in, ``list[Document]`` out."""
        return VectorStoreRetriever(self, search_type, search_kwargs, name=kwargs.get("name"))

    # -- on disk ---------------------------------------------------------------------------------

    def save_local(self, folder_path: str | Path, index_name: str = "index") -> None:
        """Write ``index_name.faiss`` (FAISS's format) and ``index_name.json`` into the folder."""
        self._index.save(Path(folder_path), index_name)

    @classmethod
    def load_local(
        cls,
        folder_path: str | Path,
        embeddings: Any,
        index_name: str = "index",
        *,
        allow_dangerous_deserialization: bool = False,  # LangChain's flag: nothing dangerous here
        **kwargs: Any,
    ) -> FAISS:
        """A store saved by :meth:`save_local`; reads JSON and a FAISS index, never a pickle.

        Everything in the folder is checked before the store exists; anything wrong (a missing,
        truncated or tampered file, an index of another dimension than ``embeddings`` state) is one
        :class:`~chainmagic.errors.IndexFileError` naming the file. Embeddings that do not state
        their ``dimensions`` are not called to find out (loading makes no model calls): a mismatch
        then fails at the first search, with a message. ``allow_dangerous_deserialization`` is
        accepted, as LangChain callers pass it, and changes nothing.
        """
        dimensions = getattr(embeddings, "dimensions", None)
        if type(dimensions) is not int:
            dimensions = None
        index = DocumentIndex.load(Path(folder_path), index_name, dimensions)
        store = cls(embeddings, distance=index.distance)
        store._index = index
        return store


def _documents(
    texts: list[str], metadatas: Sequence[dict[str, Any]] | None, ids: Sequence[str] | None
) -> list[Document]:
    if metadatas is not None and len(metadatas) != len(texts):
        raise ValueError(f"{len(metadatas)} metadatas for {len(texts)} texts")
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
    keys = [str(i) for i in ids] if ids is not None else _new_ids(len(texts))
    if metadatas is None:
        return [Document(text, id=key) for text, key in zip(texts, keys)]
    return [Document(t, dict(m), id=key) for t, m, key in zip(texts, metadatas, keys)]


def _columns(
    documents: Iterable[Document], ids: Sequence[str] | None
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    docs = list(documents)
    if ids is None:
        fresh = iter(_new_ids(sum(1 for d in docs if not d.id)))
        ids = [d.id or next(fresh) for d in docs]
    return [d.page_content for d in docs], [d.metadata for d in docs], list(ids)


def _new_ids(n: int) -> list[str]:
    """``n`` random 128-bit hex ids: one ``urandom`` call, 15x cheaper than ``uuid4`` apiece."""
    pool = os.urandom(16 * n).hex()
    return [pool[i : i + 32] for i in range(0, len(pool), 32)]


def _copy(doc: Document) -> Document:
    """A copy for the caller: editing a result's metadata must not edit the store."""
    return Document(doc.page_content, dict(doc.metadata), id=doc.id)
