"""What a ``%chaintime`` line or cell names: the chains to time, each under its label.

``-i`` takes every value after it, so chain names typed after the input land in it; they are taken
back here. A cell holds chain names and ``label: pipeline`` lines (compiled as one block map whose
branches are the chains).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from chainmagic.core.parallel import RunnableParallel
from chainmagic.core.runnable import Runnable, coerce
from chainmagic.inputs import is_pair

__all__ = ["chains_after_input", "chains_to_time"]


def chains_to_time(
    names: list[str],
    cell: str | None,
    ns: dict[str, Any],
    compile_cell: Callable[[str], Any],
) -> dict[str, Runnable]:
    """Chains by label: names from the line, and a cell's names and ``label: pipeline`` lines."""
    names = list(names)
    source_lines: list[str] = []
    for raw in (cell or "").splitlines():
        text = raw.strip()
        if text.isidentifier():
            names.append(text)
        elif text and not text.startswith("#"):
            source_lines.append(raw)
    chains: dict[str, Runnable] = {}
    for name in names:
        if name not in ns:
            raise UsageError(f"no chain named {name!r} in the notebook")
        try:
            chains[name] = coerce(ns[name])
        except TypeError as exc:
            raise UsageError(f"{name!r} is not a chain: {exc}") from None
    if source_lines:
        compiled = compile_cell("\n".join(source_lines))
        block = compiled.chain
        if not isinstance(block, RunnableParallel) or compiled.bindings:
            raise UsageError("%%chaintime lines are chain names or 'label: pipeline'")
        chains.update(block.steps)
    if not chains:
        raise UsageError("%chaintime needs chains: %chaintime -i ... chain_a chain_b")
    return chains


def chains_after_input(
    tokens: list[str] | None, ns: dict[str, Any]
) -> tuple[list[str] | None, list[str]]:
    """Split ``-i topic=bear joke_chain map_chain`` into the input and the chains after it.

    ``-i`` takes every value that follows it, so the names of chains typed after the input land
    in it: after ``key=value`` pairs, the first other token starts the chains; after any other
    input, the trailing tokens that name a runnable (or a dict of them) in the notebook do.
    """
    if not tokens:
        return tokens, []
    pairs = 0
    while pairs < len(tokens) and is_pair(tokens[pairs]):
        pairs += 1
    if pairs:
        return tokens[:pairs], tokens[pairs:]
    cut = len(tokens)
    while cut > 1 and names_a_chain(tokens[cut - 1], ns):
        cut -= 1
    return tokens[:cut], tokens[cut:]


def names_a_chain(token: str, ns: dict[str, Any]) -> bool:
    def runnable(value: Any) -> bool:
        return callable(getattr(value, "invoke", None))

    value = ns.get(token) if token.isidentifier() else None
    if isinstance(value, dict):
        return bool(value) and all(runnable(v) for v in value.values())
    return runnable(value)
