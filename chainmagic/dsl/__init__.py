"""The chain language: cell text → syntax nodes → core runnables.

``parse`` turns text into a :class:`~chainmagic.dsl.nodes.Program`; ``compile`` resolves it against a
notebook namespace into runnables; ``chain`` is the one-call convenience.
"""

from __future__ import annotations

from chainmagic.dsl.compiler import CompiledCell, chain, compile, input_variables
from chainmagic.dsl.parser import parse

__all__ = ["CompiledCell", "chain", "compile", "input_variables", "parse"]
