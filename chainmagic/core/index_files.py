"""A saved vector store on disk: ``NAME.json`` (the documents) and ``NAME.faiss`` (their vectors).

A saved folder may come from anywhere (a download, a colleague, a disk that filled up mid-save), so
reading trusts nothing in it: every field's presence and type, the labels (unique, matching the
vectors one to one, all below ``next_label`` so that new documents can never take a saved one's
label), the counts, the dimension, the nesting depth. Any problem is one :class:`IndexFileError`
naming the file and what is wrong; nothing is unpickled, nothing is evaluated.

The vectors file is FAISS's own format (``faiss.write_index`` writes it, so ``faiss.read_index``
opens it too), but FAISS never parses a file being loaded: :mod:`~chainmagic.core.faiss_file` reads
it into plain arrays, from which the caller builds a fresh index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chainmagic.core.documents import Document
from chainmagic.core.faiss_file import INNER_PRODUCT, L2, METRIC_NAMES, Vectors, read_vectors
from chainmagic.errors import IndexFileError

__all__ = [
    "DISTANCES",
    "FORMAT",
    "LABEL_LIMIT",
    "MAX_DEPTH",
    "SavedIndex",
    "nested_too_deeply",
    "read",
    "write",
]

FORMAT = "chainmagic.faiss/1"
DISTANCES = ("cosine", "inner_product", "l2")
MAX_DEPTH = 100  # nesting of one document's metadata; json's own limit is Python's stack
LABEL_LIMIT = 2**62  # labels count additions, so a real one never gets near; int64 never overflows

_DOCUMENT_KEYS = ("id", "label", "text", "metadata")
_CONTAINERS = (dict, list, tuple)


@dataclass(frozen=True)
class SavedIndex:
    """Everything a saved store holds, checked: documents by label, and their vectors."""

    distance: str
    next_label: int
    documents: dict[int, Document]
    vectors: Vectors | None  # None when nothing was ever added


# -- reading ---------------------------------------------------------------------------------------


def read(folder: Path, name: str, dimensions: int | None = None) -> SavedIndex:
    """The store saved as ``name`` in ``folder``, every part checked against the others.

    ``dimensions``, when known, is what the embeddings to be used give: an index of another
    dimension fails here rather than at the first search.
    """
    meta, index_file = folder / f"{name}.json", folder / f"{name}.faiss"
    if not meta.is_file():
        if (folder / f"{name}.pkl").exists():
            raise IndexFileError(
                str(folder / f"{name}.pkl"),
                "a LangChain store (a pickle); chainmagic does not load pickles, which can run "
                "code: rebuild it with FAISS.from_texts/from_documents",
            )
        raise IndexFileError(
            str(meta), f"no such file (no vector store {name!r} was saved in this folder)"
        )
    distance, next_label, documents = _documents(meta, _json(meta))
    vectors = read_vectors(index_file, _bytes(index_file)) if _present(index_file) else None
    if vectors is None:
        if documents:
            raise IndexFileError(
                str(index_file), f"missing, but {meta.name} lists {len(documents)} documents"
            )
        return SavedIndex(distance, next_label, documents, None)
    _match(index_file, meta.name, distance, documents, vectors)
    if distance == "cosine" and not _unit_or_zero(vectors.matrix):
        raise IndexFileError(
            str(index_file), "holds vectors that are not of unit length, as a cosine store's are"
        )
    if dimensions is not None and dimensions != vectors.dimensions:
        raise IndexFileError(
            str(index_file),
            f"holds {vectors.dimensions}-dimensional vectors but the embeddings give {dimensions}: "
            "load it with the embeddings it was built with",
        )
    return SavedIndex(distance, next_label, documents, vectors)


def _present(path: Path) -> bool:
    """Whether ``path`` is there; something other than a file (a pipe would block) is an error."""
    if not path.exists():
        return False
    if not path.is_file():
        raise IndexFileError(str(path), "is not a regular file")
    return True


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IndexFileError(str(path), f"cannot be read ({exc.strerror or exc})") from None


def _json(path: Path) -> Any:
    data = _bytes(path)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise IndexFileError(str(path), "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise IndexFileError(str(path), f"is not valid JSON ({exc.msg}, {where})") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise IndexFileError(str(path), f"is not valid JSON ({exc})") from None
    except RecursionError:
        raise IndexFileError(str(path), f"is nested too deeply (limit {MAX_DEPTH})") from None


def _documents(path: Path, payload: Any) -> tuple[str, int, dict[int, Document]]:
    """Distance, next label and documents by label, from a parsed ``.json`` file."""

    def fail(problem: str) -> IndexFileError:
        return IndexFileError(str(path), problem)

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise fail(f'not a chainmagic vector store (no "format": {FORMAT!r})')
    for key in ("distance", "next_label", "documents"):
        if key not in payload:
            raise fail(f"has no {key!r}")
    distance, next_label, items = payload["distance"], payload["next_label"], payload["documents"]
    if distance not in DISTANCES:
        raise fail(f"'distance' must be one of {', '.join(map(repr, DISTANCES))}")
    if not _is_label(next_label):
        raise fail(f"'next_label' must be an integer from 0 to 2**62, not {_shown(next_label)}")
    if not isinstance(items, list):
        raise fail(f"'documents' must be a list, not {_kind(items)}")
    documents: dict[int, Document] = {}
    seen: dict[str, int] = {}  # id → its index in the list
    for n, item in enumerate(items):
        # One fast test for the common, valid case; _problem says what is wrong when it fails.
        try:
            doc_id, label, text, metadata = (
                item["id"],
                item["label"],
                item["text"],
                item["metadata"],
            )
        except (KeyError, TypeError, IndexError):
            raise fail(_problem(n, item, seen, documents, next_label)) from None
        if not (
            type(doc_id) is str
            and type(label) is int
            and 0 <= label < next_label
            and type(text) is str
            and type(metadata) is dict
            and doc_id not in seen
            and label not in documents
        ):
            raise fail(_problem(n, item, seen, documents, next_label))
        seen[doc_id] = n
        documents[label] = Document(text, metadata, id=doc_id)
    deep = nested_too_deeply([doc.metadata for doc in documents.values()])
    if deep is not None:
        raise fail(f"documents[{deep}].metadata is nested too deeply (limit {MAX_DEPTH})")
    return distance, next_label, documents


def _problem(
    n: int, item: Any, seen: dict[str, int], documents: dict[int, Document], next_label: int
) -> str:
    """What is wrong with ``documents[n]``, a document the fast test in :func:`_documents` refused."""
    where = f"documents[{n}]"
    if not isinstance(item, dict):
        return f"{where} must be an object, not {_kind(item)}"
    for key in _DOCUMENT_KEYS:
        if key not in item:
            return f"{where} has no {key!r}"
    doc_id, label, text, metadata = (item[key] for key in _DOCUMENT_KEYS)
    if not isinstance(doc_id, str):
        return f"{where}.id must be a string, not {_kind(doc_id)}"
    if not _is_label(label):
        return f"{where}.label must be an integer from 0 to 2**62, not {_shown(label)}"
    if not isinstance(text, str):
        return f"{where}.text must be a string, not {_kind(text)}"
    if not isinstance(metadata, dict):
        return f"{where}.metadata must be an object, not {_kind(metadata)}"
    if doc_id in seen:
        return f"{where} repeats the id {_shown(doc_id)} of documents[{seen[doc_id]}]"
    if label in documents:
        return f"{where} repeats the label {label} of documents[{seen[str(documents[label].id)]}]"
    return (
        f"'next_label' is {next_label} but {where} has label {label}: "
        "new documents would overwrite saved ones"
    )


def _match(
    path: Path, meta: str, distance: str, documents: dict[int, Document], vectors: Vectors
) -> None:
    """The vectors file and the documents file describe the same store."""
    expected = L2 if distance == "l2" else INNER_PRODUCT
    if vectors.metric != expected:
        raise IndexFileError(
            str(path), f"compares by {METRIC_NAMES[vectors.metric]}, but {meta} says {distance!r}"
        )
    labels = vectors.labels.tolist()
    if len(labels) != len(documents):
        raise IndexFileError(
            str(path), f"holds {len(labels)} vectors for the {len(documents)} documents of {meta}"
        )
    if len(set(labels)) != len(labels):
        raise IndexFileError(str(path), "repeats a label: two vectors claim one document")
    strays = [label for label in labels if label not in documents]
    if strays:
        raise IndexFileError(str(path), f"has label {strays[0]}, which no document of {meta} has")


# -- writing ---------------------------------------------------------------------------------------


def write(
    folder: Path,
    name: str,
    *,
    distance: str,
    next_label: int,
    documents: list[tuple[int, Document]],
    index: Any,
) -> None:
    """Save documents (label, document) and their FAISS ``index`` (None: no vectors yet).

    Each file is written beside its final name and then renamed over it, so a failed save leaves
    the previous one whole; a save cut between the two renames is caught by :func:`read`.
    """
    deep = nested_too_deeply([doc.metadata for _, doc in documents])
    if deep is not None:
        raise ValueError(
            f"cannot save the store: documents[{deep}].metadata is nested too deeply "
            f"(limit {MAX_DEPTH})"
        )
    items = [
        {"id": str(doc.id), "label": label, "text": doc.page_content, "metadata": doc.metadata}
        for label, doc in documents
    ]
    payload = {"format": FORMAT, "distance": distance, "next_label": next_label, "documents": items}
    try:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in some text: \u-escaped, it reads back the same
        data = json.dumps(payload).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"cannot save the store: document metadata must be JSON-serializable ({exc})"
        ) from exc
    folder.mkdir(parents=True, exist_ok=True)
    meta, index_file = folder / f"{name}.json", folder / f"{name}.faiss"
    if index is not None:
        import faiss

        with _replacing(index_file) as partial:
            faiss.write_index(index, str(partial))
    elif index_file.exists():
        index_file.unlink()
    with _replacing(meta) as partial:
        partial.write_bytes(data)


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A path beside ``path`` to write; renamed over it when the writing succeeds, else removed."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# -- shared checks ---------------------------------------------------------------------------------


def nested_too_deeply(values: Sequence[Any], limit: int = MAX_DEPTH) -> int | None:
    """The index of the first of ``values`` whose lists/dicts nest deeper than ``limit``, if any.

    Walked level by level, without recursion, over all values at once: one pass for a whole
    store, so the check costs little beside the JSON parse.
    """
    level = [(n, v) for n, v in enumerate(values) if isinstance(v, _CONTAINERS)]
    for _ in range(limit):
        if not level:
            return None
        level = [
            (n, child)
            for n, value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, _CONTAINERS)
        ]
    return min((n for n, _ in level), default=None)


def _unit_or_zero(matrix: npt.NDArray[np.float32]) -> bool:
    """Whether every row is a unit vector (or zero: a text with no words embeds as zero)."""
    squares = np.einsum("ij,ij->i", matrix, matrix)
    return bool(np.all((np.abs(squares - 1.0) < 2e-3) | (squares == 0.0)))


def _is_label(value: Any) -> bool:
    return type(value) is int and 0 <= value < LABEL_LIMIT


def _kind(value: Any) -> str:
    """What a JSON value is, in words, for a message about a field of the wrong type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {_shown(value)}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


def _shown(value: Any) -> str:
    """A short quotation of a value from the file: enough to find it, never a whole blob."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return _kind(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
