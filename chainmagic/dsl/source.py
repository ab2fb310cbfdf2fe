"""What a compiled chain remembers of the cell that defined it, so it can be built again elsewhere.

A chain written in the language is fully described by its text, the notebook values the text
named, and the model a bare ``model`` meant. A distributed batch ships that (each value on its
own) rather than the built chain, and every worker compiles it again once: the text is short,
it shows what runs, and a value that cannot travel is the one the user wrote by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Definition", "Recording"]


@dataclass(frozen=True)
class Definition:
    """A cell's ``text`` (its first line numbered ``first_line``), the notebook ``values`` it
    named, the ``default_model`` a bare ``model`` meant (None: it used none), and which chain:
    the binding ``pick``, or the cell's own chain when None. ``keys`` are the API keys written in
    the text (``model(..., api_key="…")``, in any of its chains): whoever sends the text must
    send them apart."""

    text: str
    first_line: int = 1
    values: dict[str, Any] = field(default_factory=dict, repr=False)
    default_model: Any = None
    pick: str | None = None
    keys: tuple[str, ...] = field(default=(), repr=False)  # API keys the text spells out

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        """A pickled chain forgets its definition: the values it names are in the chain already
        (or what the chain holds of them: ``holder.fn`` and not ``holder``), and pickling the
        chain should not fail on a value the chain does not hold."""
        return _forgotten, ()

    def build(self, values: Mapping[str, Any] | None = None, text: str | None = None) -> Any:
        """Compile the text again, against ``values`` (default: the ones it named then)."""
        from chainmagic.dsl.compiler import compile
        from chainmagic.dsl.parser import parse

        program = parse(self.text if text is None else text, first_line=self.first_line)
        namespace = dict(self.values if values is None else values)
        cell = compile(program, namespace, default_model=self.default_model)
        return cell.chain if self.pick is None else cell.bindings[self.pick]


def _forgotten() -> None:
    return None


class Recording(Mapping[str, Any]):
    """A namespace that remembers every value the compiler read from it, by name."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        self.used: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self.namespace[key]
        self.used[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return key in self.namespace

    def __iter__(self) -> Iterator[str]:
        return iter(self.namespace)

    def __len__(self) -> int:
        return len(self.namespace)
