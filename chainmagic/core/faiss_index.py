"""``DocumentIndex``: documents by id, their vectors in a FAISS index by label, in memory and on disk.

FAISS knows vectors by int64 labels; users know documents by string ids. This keeps the two maps
and the index in step under one lock (FAISS indexes are not safe to change while searched). The
index is flat (exact search) inside an ``IndexIDMap2``, so a document is removed by its label and
its vector can be read back (MMR needs the candidates' vectors).

On disk (:mod:`~chainmagic.core.index_files`): FAISS's own index format plus the documents as JSON.
LangChain pickles its docstore, which is why its ``load_local`` needs
``allow_dangerous_deserialization=True``: unpickling a downloaded folder can run any code. Loading
here reads data and nothing else, so metadata must be JSON.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chainmagic.core import index_files
from chainmagic.core.documents import Document
from chainmagic.core.search import Hit

__all__ = ["DocumentIndex"]


class DocumentIndex:
    """The documents of one store and a FAISS index of their (already prepared) vectors."""

    def __init__(self, distance: str) -> None:
        self.distance = distance
        self.docs: dict[str, Document] = {}
        self.faiss: Any = None  # built with the first vectors, when their size is known
        self._label_of: dict[str, int] = {}
        self._id_of: dict[int, str] = {}
        self._next_label = 0
        self._lock = threading.Lock()
        self.source: str | None = None  # the file the vectors were loaded from, for messages

    def __len__(self) -> int:
        return len(self.docs)

    def add(self, docs: list[Document], vectors: npt.NDArray[np.float32]) -> list[str]:
        ids = [str(d.id) for d in docs]
        with self._lock:
            clash = [i for i in ids if i in self.docs]
            if clash or len(set(ids)) < len(ids):
                raise ValueError(f"ids already in the store (or repeated): {clash[:5]!r}")
            if self.faiss is None:
                self.faiss = _new_faiss(vectors.shape[1], self.distance)
            else:
                self._check_dimensions(vectors, "join")
            labels = range(self._next_label, self._next_label + len(docs))
            self._next_label += len(docs)
            self.faiss.add_with_ids(vectors, np.asarray(labels, dtype=np.int64))
            for doc_id, doc, label in zip(ids, docs, labels):
                self.docs[doc_id] = doc
                self._label_of[doc_id] = label
                self._id_of[label] = doc_id
        return ids

    def remove(self, ids: Sequence[str]) -> None:
        """Remove these documents; an unknown id is an error and removes nothing."""
        with self._lock:
            missing = [i for i in ids if i not in self.docs]
            if missing:
                raise ValueError(f"no documents with ids {missing[:5]!r}")
            labels = [self._label_of.pop(i) for i in ids]
            self.faiss.remove_ids(np.asarray(labels, dtype=np.int64))
            for doc_id, label in zip(ids, labels):
                del self.docs[doc_id]
                del self._id_of[label]

    def search(self, vector: npt.NDArray[np.float32], n: int) -> list[Hit]:
        """The ``n`` nearest documents to one prepared ``(1, d)`` vector, nearest first."""
        import faiss

        with self._lock:
            if self.faiss is None or not self.docs or n < 1:
                return []
            self._check_dimensions(vector, "search")
            # One query is too little work to split: FAISS's OpenMP threads then mostly wait on
            # each other, and when another process holds a core a search goes from 0.6 to ~20 ms.
            # The setting is per calling thread, so it is restored for whoever calls FAISS next.
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, labels = self.faiss.search(vector, min(n, len(self.docs)))
            finally:
                faiss.omp_set_num_threads(threads)
            return [
                (self.docs[self._id_of[label]], score, label)
                for label, score in zip(labels[0].tolist(), scores[0].tolist())
                if label >= 0
            ]

    def _check_dimensions(self, vectors: npt.NDArray[np.float32], verb: str) -> None:
        """Vectors of another size: FAISS would only assert, with no message."""
        if vectors.ndim != 2 or vectors.shape[1] != self.faiss.d:
            size = vectors.shape[-1] if vectors.ndim else 0
            origin = f" (loaded from {self.source})" if self.source else ""
            raise ValueError(
                f"vectors of {size} dimensions cannot {verb} an index of {self.faiss.d}{origin}: "
                "was the store built with another embedding?"
            )

    def vectors(self, hits: list[Hit]) -> npt.NDArray[np.float32]:
        """The stored vectors of ``hits``, one row each."""
        with self._lock:
            labels = np.asarray([label for _, _, label in hits], dtype=np.int64)
            return np.asarray(self.faiss.reconstruct_batch(labels), dtype=np.float32)

    # -- on disk ---------------------------------------------------------------------------------

    def save(self, folder: Path, name: str) -> None:
        """Write ``name.json`` and (when there are vectors) ``name.faiss`` into ``folder``."""
        with self._lock:
            documents = [(self._label_of[i], d) for i, d in self.docs.items()]
            index_files.write(
                folder,
                name,
                distance=self.distance,
                next_label=self._next_label,
                documents=documents,
                index=self.faiss,
            )

    @classmethod
    def load(cls, folder: Path, name: str, dimensions: int | None = None) -> DocumentIndex:
        """An index written by :meth:`save`, checked whole (see :mod:`~chainmagic.core.index_files`).

        The vectors go into a new FAISS index: FAISS never parses the file itself.
        """
        saved = index_files.read(folder, name, dimensions)
        index = cls(saved.distance)
        if saved.vectors is not None:
            index.source = str(folder / f"{name}.faiss")
            index.faiss = _new_faiss(saved.vectors.dimensions, saved.distance)
            if len(saved.vectors.labels):
                index.faiss.add_with_ids(saved.vectors.matrix, saved.vectors.labels)
        for label, doc in saved.documents.items():
            doc_id = str(doc.id)
            index.docs[doc_id] = doc
            index._label_of[doc_id] = label
            index._id_of[label] = doc_id
        index._next_label = saved.next_label
        return index


def _new_faiss(dimensions: int, distance: str) -> Any:
    import faiss

    flat = faiss.IndexFlatL2(dimensions) if distance == "l2" else faiss.IndexFlatIP(dimensions)
    return faiss.IndexIDMap2(flat)
