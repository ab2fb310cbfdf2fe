"""openai's exceptions as chainmagic's :class:`~chainmagic.errors.ModelError`: one line, no secret.

openai raises a dozen classes whose messages are long, repeat the status, and (for a wrong key on
OpenAI's API) quote part of the key. A notebook user needs what failed, where, and the likely way
out; the status stays on ``.status`` and the original exception on ``__cause__``.

Servers that are not OpenAI's answer in their own shapes, and the reason must survive all of them:
FastAPI servers (``transformers serve``, llama-cpp-python) send ``{"detail": "..."}`` or a list of
``{"loc": [...], "msg": "..."}``, others a plain text body, and openai's own message for those is
only ``Error code: 400``. So the reason is dug out of whatever body came back, a 404 says whether
``base_url`` lacks ``/v1`` or the server lacks the endpoint, and a refused model name is checked
against the models the server lists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chainmagic.errors import ModelError

if TYPE_CHECKING:
    from chainmagic.core.openai_client import ClientSettings, Connection

__all__ = ["ModelErrors", "model_error"]

MAX_LISTED = 8  # models named in a "does not serve" message; a hosted API may list hundreds


class ModelErrors:
    """``with connection.errors():`` re-raises openai's exceptions as :class:`ModelError`.

    A class rather than a ``contextlib`` generator: it wraps every model call, so it stays cheap.
    Exceptions that are not ``Exception`` (GeneratorExit, CancelledError) pass untouched, and so
    does anything raised before the connection knew its settings (a missing key, for one).

    A stream sets ``started`` once the server has answered, so a failure before that reads as
    "cannot reach" and only one after it as "dropped mid-stream".
    """

    __slots__ = ("connection", "model", "started", "streaming")

    def __init__(self, connection: Connection, streaming: bool, model: str | None = None) -> None:
        self.connection = connection
        self.streaming = streaming
        self.model = model
        self.started = False

    def __enter__(self) -> ModelErrors:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        settings = self.connection.resolved
        if settings is None or not isinstance(exc, Exception) or isinstance(exc, ModelError):
            return
        err = model_error(
            exc,
            settings,
            streaming=self.streaming and self.started,
            model=self.model,
            served=self.connection.served_models,
        )
        if err is not None:
            raise err from exc


def model_error(
    exc: BaseException,
    s: ClientSettings,
    *,
    streaming: bool = False,
    model: str | None = None,
    served: Callable[[], list[str] | None] | None = None,
) -> ModelError | None:
    """``exc`` (an openai error) as a one-line :class:`ModelError`, or None if it is not one.

    ``streaming`` means a stream had started (the server had answered). ``model`` is the model the
    request named; ``served`` lists the models the server offers (asked only when a request was
    refused, to tell a wrong model name from other refusals). Raise the result ``from exc`` so
    the original stays the ``__cause__``.
    """
    import openai

    name, status = s.who, None
    retried = f" after {s.max_retries} retries" if s.max_retries else ""
    if isinstance(exc, openai.APITimeoutError) or (_is_httpx(exc) and "Timeout" in _kind(exc)):
        tries = f", {s.max_retries + 1} attempts" if s.max_retries and not streaming else ""
        limit = f"within {s.timeout:g} s" if s.timeout is not None else "in time"
        if streaming:
            message = f"{name} stopped sending mid-stream: no data {limit} (a larger timeout=...)"
        else:
            message = (
                f"{name} did not answer {limit}{tries} (a slow model needs a larger timeout=...)"
            )
    elif isinstance(exc, openai.APIConnectionError) or _is_httpx(exc):
        cause = _one_line(str(exc.__cause__ or exc)) or _kind(exc) or "connection error"
        if streaming:
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
            message = _refusal(exc, s, status=status, detail=detail, model=model, served=served)
    elif isinstance(exc, json.JSONDecodeError):
        what = "a stream event" if streaming else "an answer"
        message = f"{name} sent {what} that is not valid JSON: {_one_line(str(exc))}"
    elif isinstance(exc, openai.OpenAIError):
        message = f"{name}: {_one_line(str(exc))}"
    else:
        return None
    return ModelError(s.scrub(message), status=status, provider=s.provider)


def _refusal(
    exc: Any,
    s: ClientSettings,
    *,
    status: int,
    detail: str,
    model: str | None,
    served: Callable[[], list[str] | None] | None,
) -> str:
    """A 4xx other than 401/429: a wrong model, a wrong URL, or the server's own reason."""
    name = s.who
    route_missing = status == 404 and _generic_not_found(detail)
    if (
        model
        and served is not None
        and not s.is_openai
        and not route_missing
        and status in (400, 404, 422)
    ):
        names = served()
        if names and model not in names:
            listed = ", ".join(names[:MAX_LISTED]) + (", …" if len(names) > MAX_LISTED else "")
            return (
                f"{name} does not serve the model {model!r} ({status}: {detail}); "
                f"it serves: {listed}"
            )
    if status == 404:
        path = _request_path(exc)
        if not s.is_openai and not urlsplit(s.base_url).path.rstrip("/").endswith("/v1"):
            hint = f"is base_url missing /v1 (it is {s.base_url})?"
        else:
            hint = f"this server may not offer {path or 'this endpoint'}"
        return f"{name} has no {path or 'such endpoint'} (404): {detail}; {hint}"
    return f"{name} refused the request ({status}): {detail}"


def _generic_not_found(detail: str) -> bool:
    """A 404 about the URL itself (FastAPI's ``Not Found``, an ``Invalid URL``), not a model."""
    text = detail.strip(" .").lower()
    return text in ("", "not found", "404 not found", "error code: 404") or text.startswith(
        "invalid url"
    )


def _is_httpx(exc: BaseException) -> bool:
    """An httpx error that escaped openai's wrapping (it happens while reading a stream)."""
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


def _request_path(exc: Any) -> str:
    request = getattr(exc, "request", None)
    try:
        return urlsplit(str(request.url)).path if request is not None else ""
    except Exception:
        return ""


def _detail(exc: Any) -> str:
    """The server's reason from any body shape; openai's bare ``Error code: N`` as a last resort."""
    reason = _reason(getattr(exc, "body", None))
    if not reason:
        response = getattr(exc, "response", None)
        try:
            text = response.text if response is not None else ""
        except Exception:  # a streamed response whose body was never read
            text = ""
        try:
            reason = _reason(json.loads(text)) if text else ""
        except ValueError:
            reason = text.strip()
    return _one_line(reason or str(getattr(exc, "message", None) or exc))


def _reason(body: Any) -> str:
    """The message in an error body: OpenAI's ``error.message``, FastAPI's ``detail``, or text."""
    if isinstance(body, str):
        return body.strip()
    if isinstance(body, list):
        return "; ".join(part for part in (_reason(item) for item in body[:3]) if part)
    if isinstance(body, Mapping):
        if "msg" in body:  # FastAPI's validation errors: {"loc": ["body", "x"], "msg": "..."}
            loc = body.get("loc")
            where = ".".join(str(p) for p in loc) if isinstance(loc, (list, tuple)) else ""
            msg = str(body["msg"]).strip()
            return f"{where}: {msg}" if where else msg
        for key in ("error", "detail", "message"):
            found = _reason(body.get(key))
            if found:
                return found
    return ""


def _one_line(text: str, limit: int = 240) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
