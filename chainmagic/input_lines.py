"""A ``%chain`` line that ends with ``?`` is a chain's input, not a help request.

IPython reads any line ending in ``?`` as "show help for this object", so
``%chain qa -i where did harrison work?`` printed "Object `work` not found". A chain's input is often
a question, so for ``%chain`` and ``%chaintime`` lines (also as ``r = %chain ...``) the trailing ``?``
belongs to the input: this cleanup transform turns such a line into the call IPython itself would
have made, before its help transform sees it. ``%chain?`` and ``%chain??`` (nothing after the magic's
name) still ask for help.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["install", "transform", "uninstall"]

_LINE = re.compile(r"^(?P<indent>\s*)(?P<assign>[A-Za-z_][\w.]*\s*=\s*)?%(?P<magic>chain|chaintime)"
                   r"[ \t]+(?P<rest>\S.*\?)[ \t]*$")  # fmt: skip


def transform(lines: list[str]) -> list[str]:
    """The cell's lines, with ``%chain ... ?`` lines spelled as the call IPython would make."""
    out = []
    for line in lines:
        body = line.rstrip("\n")
        match = _LINE.match(body)
        if match is None:
            out.append(line)
            continue
        ending = line[len(body) :]
        call = f"get_ipython().run_line_magic({match['magic']!r}, {match['rest']!r})"
        out.append(f"{match['indent']}{match['assign'] or ''}{call}{ending}")
    return out


def install(shell: Any) -> None:
    cleanup = shell.input_transformers_cleanup
    if transform not in cleanup:
        cleanup.append(transform)


def uninstall(shell: Any) -> None:
    cleanup = shell.input_transformers_cleanup
    while transform in cleanup:
        cleanup.remove(transform)
