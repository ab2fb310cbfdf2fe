"""What a vector search keeps, and in which order: metadata filters and maximal marginal relevance.

Pure numpy over the hits a store found, so any store can share them; FAISS does the nearest-neighbour
part, these do the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from chainmagic.core.documents import Document

__all__ = ["Filter", "Hit", "kept", "mmr", "unit"]

Filter = Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None
Hit = tuple[Document, float, int]  # a document, its score, its label in the index


def kept(
    found: list[tuple[Document, float, int]], filter: Filter
) -> list[tuple[Document, float, int]]:
    if filter is None:
        return found
    if callable(filter):
        return [hit for hit in found if filter(hit[0].metadata)]
    return [
        hit for hit in found if all(_matches(hit[0].metadata.get(k), v) for k, v in filter.items())
    ]


def _matches(value: Any, wanted: Any) -> bool:
    """A metadata value against a filter: equal, or one of a list of values."""
    if isinstance(wanted, (list, tuple, set, frozenset)):
        return value in wanted
    return bool(value == wanted)


def unit(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def mmr(
    query: npt.NDArray[np.float32], candidates: npt.NDArray[np.float32], k: int, lambda_mult: float
) -> list[int]:
    """Indices of ``k`` candidates picked by maximal marginal relevance (unit vectors in)."""
    relevance = candidates @ query
    similarity = candidates @ candidates.T
    picked = [int(np.argmax(relevance))]
    closest = similarity[picked[0]].copy()  # each candidate's highest similarity to a pick
    while len(picked) < min(k, len(candidates)):
        score = lambda_mult * relevance - (1.0 - lambda_mult) * closest
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        np.maximum(closest, similarity[best], out=closest)
    return picked
