"""A ``%chain`` line ending in ``?`` runs the chain on that question; ``%chain?`` is still help."""

from __future__ import annotations

from typing import Any

import pytest

from chainmagic.input_lines import transform


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "%chain qa -i where did harrison work?\n",
            "get_ipython().run_line_magic('chain', 'qa -i where did harrison work?')\n",
        ),
        (
            "r = %chain qa -i 'why?' -o?",
            "r = get_ipython().run_line_magic('chain', \"qa -i 'why?' -o?\")",
        ),
        (
            "%chaintime -i q=why? a b?",
            "get_ipython().run_line_magic('chaintime', '-i q=why? a b?')",
        ),
        ("%chain?", "%chain?"),  # help for the magic itself
        ("%chain??", "%chain??"),
        ("%%chain qa -i why?", "%%chain qa -i why?"),  # a cell magic's line is left to IPython
        ("x = 1?", "x = 1?"),
        ("%chain qa -i why", "%chain qa -i why"),
    ],
)
def test_transform(line: str, expected: str) -> None:
    assert transform([line]) == [expected]


def test_a_question_as_input_runs_in_a_shell(ipython: Any) -> None:
    ipython.ok("%config ChainMagics.default_model = 'fake:echo'")
    ran = ipython.ok('%chain "{q}" | model | str -i q=what is LCEL?')
    assert "what is LCEL?" in ran.seen()
    assert "not found" not in ran.seen()
    help_ran = ipython.ok("%chain?")
    assert "Usage:" in help_ran.stdout
