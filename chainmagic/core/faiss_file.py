"""FAISS's file layout for the one kind of index chainmagic saves, read without FAISS.

``faiss.write_index`` writes the index of a store (an ``IndexIDMap2`` over a flat inner-product or
L2 index) as little-endian fields: a four-byte tag per index, each index's header, the vectors as
one run of float32, then the labels as int64. FAISS's own reader trusts the sizes written in the
file (a tampered count makes it allocate or read garbage) and fails with C++ text, so a file from
elsewhere is read here instead: only this layout is accepted, every size is checked against the
file's length before anything is read, and the result is plain arrays.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chainmagic.errors import IndexFileError

__all__ = ["INNER_PRODUCT", "L2", "METRIC_NAMES", "Vectors", "read_vectors"]

# FAISS's metric codes, and the four-byte tag of the flat index FAISS writes for each.
INNER_PRODUCT, L2 = 0, 1
METRIC_NAMES = {INNER_PRODUCT: "inner product", L2: "L2 distance"}
_FLAT_TAGS = {INNER_PRODUCT: b"IxFI", L2: b"IxF2"}
_ID_MAP_TAG = b"IxM2"
# d, ntotal, two words FAISS no longer uses, is_trained, metric type (FAISS's index header).
_HEADER = struct.Struct("<iqqq?i")
_SIZE = struct.Struct("<Q")


@dataclass(frozen=True)
class Vectors:
    """The vectors of a ``.faiss`` file: row ``i`` of ``matrix`` has label ``labels[i]``."""

    metric: int
    matrix: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]

    @property
    def dimensions(self) -> int:
        return int(self.matrix.shape[1])


def read_vectors(path: Path, data: bytes) -> Vectors:
    """The vectors and labels of a ``.faiss`` file chainmagic wrote, every size checked first."""
    reader = _Reader(path, data)
    reader.tag(_ID_MAP_TAG)
    d, n, _, _, _, metric = reader.header()
    if d < 1 or n < 0:
        raise reader.fail(f"claims {n} vectors of {d} dimensions")
    if metric not in _FLAT_TAGS:
        raise reader.fail(f"uses FAISS metric {metric}, not inner product or L2 distance")
    reader.tag(_FLAT_TAGS[metric])
    inner_d, inner_n, _, _, _, inner_metric = reader.header()
    if (inner_d, inner_n, inner_metric) != (d, n, metric):
        raise reader.fail("is inconsistent: its two index headers disagree")
    floats = reader.size()
    if floats != n * d:
        raise reader.fail(f"claims {n} vectors of {d} dimensions but stores {floats} numbers")
    matrix = np.array(reader.array("<f4", floats).reshape(n, d), dtype=np.float32)
    if reader.size() != n:
        raise reader.fail("is inconsistent: it has not one label per vector")
    labels = np.array(reader.array("<i8", n), dtype=np.int64)
    reader.end()
    if not np.isfinite(matrix).all():
        raise reader.fail("holds vector values that are not finite numbers")
    return Vectors(metric, matrix, labels)


class _Reader:
    """Reads FAISS's little-endian fields in order, never past the end of the file."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data, self.at = path, memoryview(data), 0  # a view: slices copy nothing

    def fail(self, problem: str) -> IndexFileError:
        return IndexFileError(str(self.path), problem)

    def take(self, count: int) -> memoryview:
        if count > len(self.data) - self.at:
            raise self.fail(
                f"is truncated: it ends after {len(self.data)} bytes, "
                f"where the index needs {self.at + count}"
            )
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def tag(self, expected: bytes) -> None:
        if self.take(4).tobytes() != expected:
            raise self.fail(
                "is not a chainmagic FAISS index (an IndexIDMap2 over a flat index); "
                "corrupt, or written by another program"
            )

    def header(self) -> tuple[int, int, int, int, bool, int]:
        fields: tuple[int, int, int, int, bool, int] = _HEADER.unpack(self.take(_HEADER.size))
        return fields

    def size(self) -> int:
        count: int = _SIZE.unpack(self.take(_SIZE.size))[0]
        return count

    def array(self, dtype: str, count: int) -> npt.NDArray[Any]:
        item = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * item), dtype=dtype)

    def end(self) -> None:
        if self.at != len(self.data):
            raise self.fail(f"has {len(self.data) - self.at} unexpected bytes after the index")
