"""The chain language: cell text → syntax nodes → core runnables.

``parse`` turns text into a :class:`~chainmagic.dsl.nodes.Program`; ``compile`` resolves it against a
notebook namespace into runnables; ``chain`` is the one-call convenience.
"""

from __future__ import annotations

from chainmagic.dsl.compiler import CompiledCell, chain, compile
from chainmagic.dsl.parser import parse
from chainmagic.dsl.variables import input_variables

__all__ = ["CompiledCell", "chain", "compile", "input_variables", "parse"]
