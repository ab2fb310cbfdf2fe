"""Token usage of model answers: LCEL's ``UsageMetadata`` dicts, summed and subtracted.

Usage is plain dicts (``input_tokens``, ``output_tokens``, ``total_tokens`` and nested token
details), so it serializes and compares as data. Sums go key by key, nested details too; a missing
side counts as nothing, and two missing sides give zeros, as LCEL's helpers do.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "InputTokenDetails",
    "OutputTokenDetails",
    "UsageMetadata",
    "add_usage",
    "subtract_usage",
]


class InputTokenDetails(TypedDict, total=False):
    """Where prompt tokens went (cache reads, audio...): nested in :class:`UsageMetadata`."""

    audio: int
    cache_creation: int
    cache_read: int


class OutputTokenDetails(TypedDict, total=False):
    audio: int
    reasoning: int


class UsageMetadata(TypedDict, total=False):
    """Token counts of one answer, as LCEL spells them; a plain dict at run time."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: InputTokenDetails
    output_token_details: OutputTokenDetails


def add_usage(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    """Sum two usage dicts key by key: nested token details add up too, ``None`` counts as zeros."""
    return _sum_usage(a, b, 1)


def subtract_usage(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    """``a`` less ``b`` key by key (nested details too); a count never goes below zero."""
    return _sum_usage(a, b, -1)


_ZERO_USAGE = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def _sum_usage(a: dict[str, Any] | None, b: dict[str, Any] | None, sign: int) -> dict[str, Any]:
    if not (a and b):  # LCEL: with one side missing the other is the answer, with both, zeros
        return _copy(a or b or _ZERO_USAGE)
    return _combine(a, b, sign)


def _combine(a: dict[str, Any], b: dict[str, Any], sign: int) -> dict[str, Any]:
    out = _copy(a)
    for key, value in b.items():
        if value is None:
            out.setdefault(key, None)
            continue
        mine = out.get(key)
        if isinstance(value, dict):
            out[key] = _combine(mine if isinstance(mine, dict) else {}, value, sign)
        else:
            out[key] = max((mine or 0) + sign * value, 0)
    return out


def _copy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in d.items()}
