"""Which input keys a compiled chain reads: a prompt's variables, picks, and what its branches need.

What ``%%chain --dry-run`` lists as the inputs a chain needs, and what the graph view shows beside
the drawing. It looks only at the head of each path, where the chain's own input arrives.
"""

from __future__ import annotations

from typing import Any

from chainmagic.core.parallel import RunnableParallel
from chainmagic.core.passthrough import RunnableAssign, RunnablePick
from chainmagic.core.prompts import ChatPromptTemplate
from chainmagic.core.sequence import RunnableSequence

__all__ = ["input_variables"]


def input_variables(step: Any) -> tuple[str, ...]:
    """The input keys a chain reads, where knowable (a prompt's variables, picks, branch needs)."""
    seen: dict[str, None] = {}
    _collect_inputs(step, seen)
    return tuple(seen)


def _collect_inputs(step: Any, seen: dict[str, None]) -> None:
    from chainmagic.core.wrappers import _Wrapper

    while isinstance(step, _Wrapper):
        step = step.bound
    if isinstance(step, RunnableSequence):
        _collect_inputs(step.steps[0], seen)
    elif isinstance(step, RunnableParallel):
        for branch in step.steps.values():
            _collect_inputs(branch, seen)
    elif isinstance(step, RunnableAssign):
        _collect_inputs(step.mapper, seen)
    elif isinstance(step, RunnablePick):
        for key in [step.keys] if isinstance(step.keys, str) else step.keys:
            seen.setdefault(key)
    elif isinstance(step, ChatPromptTemplate):
        for name in step.variables_in_order:
            seen.setdefault(name)
