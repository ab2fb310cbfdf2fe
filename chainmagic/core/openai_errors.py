"""openai's exceptions as chainmagic's :class:`~chainmagic.errors.ModelError`: one line, no secret.

openai raises a dozen classes whose messages are long, repeat the status, and (for a wrong key on
OpenAI's API) quote part of the key. A notebook user needs what failed, where, and the likely way
out; the status stays on ``.status`` and the original exception on ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chainmagic.errors import ModelError

if TYPE_CHECKING:
    from chainmagic.core.openai_client import ClientSettings, Connection

__all__ = ["ModelErrors", "model_error"]


class ModelErrors:
    """``with connection.errors():`` re-raises openai's exceptions as :class:`ModelError`.

    A class rather than a ``contextlib`` generator: it wraps every model call, so it stays cheap.
    Exceptions that are not ``Exception`` (GeneratorExit, CancelledError) pass untouched, and so
    does anything raised before the connection knew its settings (a missing key, for one).
    """

    __slots__ = ("connection", "streaming")

    def __init__(self, connection: Connection, streaming: bool) -> None:
        self.connection = connection
        self.streaming = streaming

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        settings = self.connection.resolved
        if settings is None or not isinstance(exc, Exception) or isinstance(exc, ModelError):
            return
        err = model_error(exc, settings, streaming=self.streaming)
        if err is not None:
            raise err from exc


def model_error(
    exc: BaseException, s: ClientSettings, *, streaming: bool = False
) -> ModelError | None:
    """``exc`` (an openai error) as a one-line :class:`ModelError`, or None if it is not one.

    The message says what failed and the likely cause; the status is kept on ``.status``. Raise
    the result ``from exc`` so the original stays the ``__cause__``.
    """
    import openai

    name, status = s.who, None
    retried = f" after {s.max_retries} retries" if s.max_retries else ""
    if isinstance(exc, openai.APITimeoutError):
        tries = f", {s.max_retries + 1} attempts" if s.max_retries else ""
        limit = f"within {s.timeout:g} s" if s.timeout is not None else "in time"
        message = f"{name} did not answer {limit}{tries} (a slow model needs a larger timeout=...)"
    elif isinstance(exc, openai.APIConnectionError):
        cause = _one_line(str(exc.__cause__ or exc)) or "connection error"
        if streaming and not _refused(exc):
            message = f"the connection to {name} dropped mid-stream: {cause}"
        else:
            hint = "" if s.is_openai else "; is the server running?"
            where = name if not s.is_openai else f"{name} at {s.base_url}"
            message = f"cannot reach {where}{retried}: {cause}{hint}"
    elif isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _detail(exc)
        if status == 401:
            hint = " (check OPENAI_API_KEY)" if s.is_openai else ""
            message = f"{name} rejected the API key (401): {detail}{hint}"
        elif status == 429:
            message = f"{name} kept rate-limiting (429){retried}: {detail}"
        elif status >= 500:
            message = f"{name} failed with a server error ({status}){retried}: {detail}"
        else:
            message = f"{name} refused the request ({status}): {detail}"
    elif isinstance(exc, openai.OpenAIError):
        message = f"{name}: {_one_line(str(exc))}"
    else:
        return None
    return ModelError(s.scrub(message), status=status, provider=s.provider)


def _refused(exc: BaseException) -> bool:
    cause = exc.__cause__
    return cause is not None and "refused" in str(cause).lower()


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return _one_line(str(inner["message"]))
    return _one_line(str(getattr(exc, "message", None) or exc))


def _one_line(text: str, limit: int = 240) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
