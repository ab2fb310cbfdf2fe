"""Reading a magic's line: where the chain text ends and the options begin.

A ``%chain`` line may hold a pipeline (``"a - b {x}" | model -i x=1``), so options cannot simply be
shell-split from the start: they begin at the first flag outside quotes and brackets.
"""

from __future__ import annotations

__all__ = ["split_line"]


def split_line(line: str, flags: frozenset[str]) -> tuple[str, str]:
    """Split a magic line into what precedes the options (a name or pipeline) and the options.

    The options start at the first known flag (or any ``-x``/``--xx`` token) outside quotes and
    brackets, so a pipeline's own text (``"a - b" | model``) is left alone.
    """
    depth, quote, i, n = 0, "", 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            if line.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
            if ch == "\\":
                i += 1
        elif line.startswith(('"""', "'''"), i):
            quote = line[i : i + 3]
            i += 3
            continue
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "-" and depth <= 0 and (i == 0 or line[i - 1].isspace()):
            token = line[i:].split(None, 1)[0].split("=", 1)[0]
            if token in flags or (token.startswith("-") and token.lstrip("-")[:1].isalpha()):
                return line[:i].strip(), line[i:]
        i += 1
    return line.strip(), ""
