"""FAISS's file layout read without FAISS: what ``faiss.write_index`` writes, and nothing else."""

from __future__ import annotations

import struct
from pathlib import Path

import faiss
import numpy as np
import pytest

from chainmagic.core.faiss_file import INNER_PRODUCT, L2, read_vectors
from chainmagic.errors import IndexFileError

HERE = Path("index.faiss")


def written(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def id_map(metric: int, vectors: np.ndarray, labels: list[int]) -> faiss.Index:
    flat = faiss.IndexFlatIP if metric == INNER_PRODUCT else faiss.IndexFlatL2
    index = faiss.IndexIDMap2(flat(vectors.shape[1]))
    if len(labels):
        index.add_with_ids(vectors, np.asarray(labels, dtype=np.int64))
    return index


@pytest.mark.parametrize("metric", [INNER_PRODUCT, L2])
def test_reads_what_faiss_writes(metric):
    vectors = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    labels = [9, 2, 40, 0, 7]
    read = read_vectors(HERE, written(id_map(metric, vectors, labels)))
    assert read.metric == metric and read.dimensions == 7
    assert np.array_equal(read.matrix, vectors)
    assert read.labels.tolist() == labels


def test_an_empty_index_keeps_its_dimension():
    read = read_vectors(HERE, written(id_map(L2, np.zeros((0, 3), np.float32), [])))
    assert read.matrix.shape == (0, 3) and read.labels.shape == (0,)


def test_the_layout_by_hand():
    """The fields in the order FAISS writes them, built without FAISS."""
    header = struct.Struct("<iqqq?i")
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = b"".join(
        [
            b"IxM2",
            header.pack(3, 2, 1 << 20, 1 << 20, True, L2),
            b"IxF2",
            header.pack(3, 2, 1 << 20, 1 << 20, True, L2),
            struct.pack("<Q", 6),
            vectors.tobytes(),
            struct.pack("<Q", 2),
            np.asarray([5, 1], dtype="<i8").tobytes(),
        ]
    )
    read = read_vectors(HERE, data)
    assert np.array_equal(read.matrix, vectors) and read.labels.tolist() == [5, 1]


def test_every_shorter_file_is_refused_as_truncated():
    data = written(id_map(INNER_PRODUCT, np.eye(4, dtype=np.float32), [0, 1, 2, 3]))
    for end in range(len(data)):
        with pytest.raises(IndexFileError, match="is truncated: it ends after"):
            read_vectors(HERE, data[:end])


def test_other_kinds_of_index_are_refused():
    for index in (faiss.IndexFlatIP(4), faiss.IndexIDMap(faiss.IndexFlatIP(4))):
        with pytest.raises(IndexFileError, match="is not a chainmagic FAISS index"):
            read_vectors(HERE, written(index))
    hnsw = faiss.IndexIDMap2(faiss.IndexHNSWFlat(4, 8))
    with pytest.raises(IndexFileError, match="is not a chainmagic FAISS index"):
        read_vectors(HERE, written(hnsw))
