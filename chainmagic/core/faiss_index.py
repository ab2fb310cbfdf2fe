"""``DocumentIndex``: documents by id, their vectors in a FAISS index by label, in memory and on disk.

FAISS knows vectors by int64 labels; users know documents by string ids. This keeps the two maps
and the index in step under one lock (FAISS indexes are not safe to change while searched). The
index is flat (exact search) inside an ``IndexIDMap2``, so a document is removed by its label and
its vector can be read back (MMR needs the candidates' vectors).

On disk: FAISS's own index format plus the documents as JSON. LangChain pickles its docstore, which
is why its ``load_local`` needs ``allow_dangerous_deserialization=True``: unpickling a downloaded
folder can run any code. Loading here reads data and nothing else, so metadata must be JSON.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chainmagic.core.documents import Document
from chainmagic.core.search import Hit

__all__ = ["FORMAT", "DocumentIndex"]

FORMAT = "chainmagic.faiss/1"


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
            elif vectors.shape[1] != self.faiss.d:
                raise ValueError(
                    f"vectors of {vectors.shape[1]} dimensions cannot join an index of "
                    f"{self.faiss.d}: was the store built with another embedding?"
                )
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

    def vectors(self, hits: list[Hit]) -> npt.NDArray[np.float32]:
        """The stored vectors of ``hits``, one row each."""
        with self._lock:
            labels = np.asarray([label for _, _, label in hits], dtype=np.int64)
            return np.asarray(self.faiss.reconstruct_batch(labels), dtype=np.float32)

    # -- on disk ---------------------------------------------------------------------------------

    def save(self, folder: Path, name: str) -> None:
        """Write ``name.json`` and (when there are vectors) ``name.faiss`` into ``folder``."""
        import faiss

        with self._lock:
            documents = [
                {
                    "id": i,
                    "label": self._label_of[i],
                    "text": d.page_content,
                    "metadata": d.metadata,
                }
                for i, d in self.docs.items()
            ]
            payload = {"format": FORMAT, "distance": self.distance, "next_label": self._next_label}
            try:
                text = json.dumps({**payload, "documents": documents}, ensure_ascii=False)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"cannot save the store: document metadata must be JSON-serializable ({exc})"
                ) from exc
            folder.mkdir(parents=True, exist_ok=True)
            index_file = folder / f"{name}.faiss"
            if self.faiss is not None:
                faiss.write_index(self.faiss, str(index_file))
            elif index_file.exists():
                index_file.unlink()
            (folder / f"{name}.json").write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, name: str) -> DocumentIndex:
        """An index written by :meth:`save`."""
        meta = folder / f"{name}.json"
        if not meta.exists():
            if (folder / f"{name}.pkl").exists():
                raise ValueError(
                    f"{folder} holds a LangChain store (a pickle); chainmagic does not load "
                    "pickles, which can run code: rebuild it with FAISS.from_texts/from_documents"
                )
            raise FileNotFoundError(f"no saved vector store {name!r} in {folder}")
        payload = json.loads(meta.read_text(encoding="utf-8"))
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"{meta} is not a chainmagic vector store ({FORMAT})")
        index = cls(str(payload["distance"]))
        documents = payload["documents"]
        if documents:
            import faiss

            index.faiss = faiss.read_index(str(folder / f"{name}.faiss"))
            if index.faiss.ntotal != len(documents):
                raise ValueError(
                    f"{folder}: the index holds {index.faiss.ntotal} vectors "
                    f"for {len(documents)} documents"
                )
        for item in documents:
            doc_id, label = str(item["id"]), int(item["label"])
            index.docs[doc_id] = Document(str(item["text"]), dict(item["metadata"]), id=doc_id)
            index._label_of[doc_id] = label
            index._id_of[label] = doc_id
        index._next_label = int(payload["next_label"])
        return index


def _new_faiss(dimensions: int, distance: str) -> Any:
    import faiss

    flat = faiss.IndexFlatL2(dimensions) if distance == "l2" else faiss.IndexFlatIP(dimensions)
    return faiss.IndexIDMap2(flat)
