"""The one exception tree of chainmagic.

Every error chainmagic raises on purpose is a :class:`ChainError`, so a notebook user (and the magics)
can tell "the chain is wrong" from "something else broke"::

    ChainError
    ├── ChainSyntaxError      also a SyntaxError: Python prints file <chain>, line and caret
    ├── ChainNameError        also a NameError; .name and .candidates (did-you-mean)
    ├── ChainRunError         how a notebook run records a failed step; .path, .partial, .cause
    ├── IndexFileError        a saved vector store that cannot be loaded; also a ValueError; .path
    ├── ChainTimingError      every run of a %chaintime failed; .result is the TimingResult
    └── ModelError            a model call failed (status, one-line cause)
        └── MissingCredentialsError   names the environment variable to set

An exception raised *inside a step* is not part of this tree and is never wrapped on its way out of
``invoke``/``stream``/``batch``: the caller gets the original object, as with LCEL, so
``except KeyError:`` works. It carries where it happened: ``chain_path`` (a list of segments, read it
with :func:`step_path`), ``chain_partial`` (the finished siblings' results, :func:`partial_results`)
and a traceback note ``in chain step map_chain › poem › model``. Only the magics' runner wraps it, in
a :class:`ChainRunError`, so that a failed cell prints one line and keeps the partial results.

Messages say what happened, where, and at most one useful hint.
"""

from __future__ import annotations

from typing import Any

from chainmagic.secrets import MASK, redact

__all__ = [
    "MASK",
    "PATH_SEP",
    "ChainError",
    "ChainNameError",
    "ChainRunError",
    "ChainSyntaxError",
    "ChainTimingError",
    "IndexFileError",
    "MissingCredentialsError",
    "ModelError",
    "partial_results",
    "redact",
    "step_path",
]

PATH_SEP = " › "


def step_path(error: BaseException) -> list[str]:
    """The steps a failure passed through (``["map_chain", "poem", "model"]``), outermost first."""
    if isinstance(error, ChainRunError):
        return list(error.path)
    path = error.__dict__.get("chain_path")
    return list(path) if isinstance(path, list) else []


def partial_results(error: BaseException) -> dict[str, Any]:
    """Results of the sibling branches that had finished when ``error`` was raised (key → output)."""
    if isinstance(error, ChainRunError):
        return dict(error.partial)
    partial = error.__dict__.get("chain_partial")
    return dict(partial) if isinstance(partial, dict) else {}


class ChainError(Exception):
    """Base of every error chainmagic raises on purpose."""


class ChainSyntaxError(ChainError, SyntaxError):
    """A chain cell that does not parse.

    Being a ``SyntaxError`` too, Python's traceback printer shows the line and a caret under the column.
    ``lineno`` is 1-based, ``offset`` 1-based (Python's convention), ``end_offset`` exclusive.
    """

    def __init__(
        self,
        msg: str,
        *,
        lineno: int | None = None,
        offset: int | None = None,
        end_offset: int | None = None,
        text: str | None = None,
        filename: str = "<chain>",
    ) -> None:
        end_lineno = lineno if end_offset is not None else None
        SyntaxError.__init__(self, msg, (filename, lineno, offset, text, end_lineno, end_offset))

    def __str__(self) -> str:
        """One short message with the line and a caret, for the magics' UsageError."""
        if self.lineno is None or self.text is None:
            return redact(str(self.msg))
        line = redact(self.text.rstrip("\n"))
        prefix = f"  line {self.lineno}: "
        caret = " " * (len(prefix) + max((self.offset or 1) - 1, 0)) + "^"
        width = (self.end_offset or 0) - (self.offset or 0)
        if width > 1:
            caret += "~" * (width - 1)
        return f"{self.msg}\n{prefix}{line}\n{caret}"

    def __reduce__(self) -> tuple[Any, ...]:
        where = {
            "lineno": self.lineno,
            "offset": self.offset,
            "end_offset": self.end_offset,
            "text": self.text,
            "filename": self.filename,
        }
        return (_rebuild, (type(self), (self.msg,), where, self.__dict__))


class ChainNameError(ChainError, NameError):
    """A name in a chain cell that is neither in the notebook namespace nor a built-in step."""

    def __init__(
        self,
        name: str,
        candidates: list[str] | tuple[str, ...] = (),
        *,
        where: str | None = None,
    ) -> None:
        self.name = name
        self.candidates = list(candidates)
        self.where = where
        msg = f"unknown name {name!r}"
        if self.candidates:
            quoted = " or ".join(repr(c) for c in self.candidates[:3])
            msg += f"; did you mean {quoted}?"
        if where:
            msg += f"\n{where}"
        super().__init__(msg, name=name)  # NameError.__init__ would reset .name to None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.name, self.candidates), {"where": self.where}, {}))


class ChainRunError(ChainError):
    """A step failed while a notebook ran the chain: what the magics record, show and raise.

    Python callers of the core never see it (they get the step's own exception); the magics' runner
    wraps that exception with :meth:`of` so a failed cell prints one line. ``path`` names the failing
    step the way the chain was written (``map_chain › poem › model``); ``partial`` holds the results of
    sibling branches that finished before the failure (key → output). The original exception is
    ``__cause__`` (and ``cause``).
    """

    @classmethod
    def of(cls, error: BaseException, name: str | None = None) -> ChainRunError:
        """Wrap a step's exception, keeping the path and partial results it carries.

        ``name`` is the path to use when the exception carries none (it failed outside any step).
        """
        if isinstance(error, ChainRunError):
            return error
        path = step_path(error) or ([name] if name else [])
        wrapped = cls(error, path)
        wrapped.partial = partial_results(error)
        return wrapped

    def __init__(self, cause: BaseException, path: list[str] | None = None) -> None:
        super().__init__()
        self.cause = cause
        self.path: list[str] = list(path or [])
        self.partial: dict[str, Any] = {}
        self.result: Any = None  # the magics attach the run's ChainResult before raising
        self.__cause__ = cause

    @property
    def where(self) -> str:
        return PATH_SEP.join(self.path)

    def __str__(self) -> str:
        cause = (
            f"{type(self.cause).__name__}: {self.cause}"
            if str(self.cause)
            else type(self.cause).__name__
        )
        return redact(f"{self.where} failed: {cause}" if self.path else cause)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.cause, self.path), {}, {"partial": self.partial}))

    def __repr__(self) -> str:
        return f"ChainRunError(path={self.where!r}, cause={self.cause!r})"

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the failing step and the cause, in one line.

        The cell still fails; the full chain of exceptions stays on ``__cause__`` for debugging.
        """
        return [f"{type(self).__name__}: {self}"]


class IndexFileError(ChainError, ValueError):
    """A saved vector store that is missing, corrupt, tampered with or of another shape.

    ``path`` is the file at fault; the message names it and what is wrong with it, so a bad download
    fails at load time with one line rather than inside FAISS or at the first search.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(redact(f"{path}: {problem}"))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.path, self.problem), {}, {}))

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the file and the problem in one line (the cell still fails)."""
        return [f"{type(self).__name__}: {self}"]


class ChainTimingError(ChainError):
    """Every measured run of every chain in a ``%chaintime`` failed: there is nothing to compare.

    ``result`` is the :class:`~chainmagic.run.timing_result.TimingResult` anyway (its records say
    how each run failed), so the failed measurement stays reachable as ``err.result``.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(redact(message))
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (str(self),), {}, {"result": self.result}))

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class ModelError(ChainError):
    """A model call failed: the status (when there is one) and a one-line cause."""

    def __init__(self, message: str, *, status: int | None = None, provider: str | None = None):
        self.status = status
        self.provider = provider
        super().__init__(redact(message))


class MissingCredentialsError(ModelError):
    """No API key where one is needed; names the variable to set (never shows a key)."""

    def __init__(self, variable: str, provider: str = "openai", hint: str | None = None):
        self.variable = variable
        self.hint = hint
        msg = f"no API key for {provider}: set the {variable} environment variable"
        if hint:
            msg += f" ({hint})"
        else:
            msg += " or pass api_key=..."
        super().__init__(msg, provider=provider)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.variable, self.provider), {"hint": self.hint}, {}))


def _rebuild(
    cls: type[BaseException], args: tuple[Any, ...], kwargs: dict[str, Any], state: dict[str, Any]
) -> BaseException:
    """Unpickle an error by calling its constructor again (their signatures are not ``*args``)."""
    error = cls(*args, **kwargs)
    error.__dict__.update(state)
    return error
