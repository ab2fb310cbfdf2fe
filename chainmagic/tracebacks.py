"""Tracebacks printed in a notebook with chainmagic loaded pass through the secrets policy.

A printed traceback is saved in the notebook (its ``ename``, ``evalue`` and every line), and it
shows more than any message chainmagic writes: the ``__cause__`` chain (an openai error quoting a
401 body that echoed the key), a user's own exception text, and with ``%xmode Verbose`` the local
variables of every frame. IPython's public hook for this is ``set_custom_exc``: the handler below
draws the traceback exactly as IPython would (``UsageError`` as one line, ``_render_traceback_``
honoured, the current ``%xmode``), masks it with :func:`chainmagic.secrets.redact`, and shows it.
"""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.error import UsageError

from chainmagic.secrets import redact

__all__ = ["install", "uninstall"]

_ours: dict[int, bool] = {}  # shells whose handler chainmagic set


class _Masked:
    """Stands for the exception where its text is shown (the kernel's ``evalue``): masked."""

    def __init__(self, value: BaseException) -> None:
        self._text = redact(_text(value))

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return self._text


def _text(value: BaseException) -> str:
    try:
        return str(value)
    except Exception:
        return type(value).__name__


def _show(
    shell: Any, etype: type[BaseException], value: BaseException, tb: Any, tb_offset: Any = None
) -> Any:
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # %debug still works
    try:
        if issubclass(etype, UsageError):
            shell.show_usage_error(_Masked(value))
            return None
        render = getattr(value, "_render_traceback_", None)
        if callable(render):
            stb = render()
        else:
            stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
        shell._showtraceback(etype, _Masked(value), [redact(line) for line in stb])
    except Exception:  # never lose the error itself: fall back to one masked line
        print(f"{etype.__name__}: {redact(_text(value))}", file=sys.stderr)
    return None


def install(shell: Any) -> bool:
    """Route the shell's tracebacks through the secrets policy (unless another handler is set)."""
    if getattr(shell, "custom_exceptions", ()):
        return False
    shell.set_custom_exc((Exception,), _show)
    _ours[id(shell)] = True
    return True


def uninstall(shell: Any) -> None:
    """Put IPython's own traceback printing back (only if the handler is still ours)."""
    custom = getattr(shell, "CustomTB", None)
    if shell.custom_exceptions == (Exception,) and custom is not None and _ours.get(id(shell)):
        shell.set_custom_exc((), None)
    _ours.pop(id(shell), None)
