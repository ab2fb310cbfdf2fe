"""The one secrets policy: what counts as a credential, and how text is masked on every way out.

Keys reach chainmagic's text in many ways a user does not expect: a server that echoes the key in its
401 body, a URL with ``?api-key=...``, a header dict in a repr, a user's step that raises with the
key in its message. Rather than remember every path, every path out of chainmagic (error lines, result
text/HTML/widgets, ``to_dict``, batch and timing views, reprs, ``to_python``, printed tracebacks) calls
:func:`redact` here, and the recognisers live in this one place.

Recognised: OpenAI-style keys (``sk-...``, ``sk-proj-...``), bearer tokens, ``api-key``/``api_key``/
``key``/``token``/``secret``/``password`` values in URLs, query strings, headers and ``key: value`` or
``key=value`` text, and Azure-style 32-hex keys. Masking keeps the shape (``sk-**********``) so a
message still says *which kind* of key was involved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "SECRET_HEADER_NAMES", "is_secret_name", "redact", "redact_mapping"]

MASK = "**********"

# Names whose values are credentials in headers, JSON bodies and ``name: value`` text.
_SECRET_NAME = (
    r"(?:x-|openai-)?api[-_]?key|apikey|api[-_]?secret|access[-_]?token|auth[-_]?token|"
    r"refresh[-_]?token|client[-_]?secret|password|passwd|authorization|subscription[-_]?key"
)
# In a URL's query string even short names are credentials (``?key=...``, ``&sig=...``).
_QUERY_NAME = _SECRET_NAME + r"|key|token|secret|sig|signature|code"
SECRET_HEADER_NAMES = frozenset({
    "authorization", "api-key", "api_key", "x-api-key", "apikey", "openai-api-key",
    "proxy-authorization", "cookie", "set-cookie", "ocp-apim-subscription-key",
})  # fmt: skip

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # sk-..., sk-proj-..., sk-ant-... keys
    (re.compile(r"\bsk-[A-Za-z0-9_*.\-]{4,}"), "sk-" + MASK),
    # Authorization: Bearer <token> / Basic <token>
    (re.compile(r"(?i)\b(bearer|basic)(\s+)(?!\*{10})[A-Za-z0-9_.~+/=\-]{8,}"), r"\1\2" + MASK),
    # ?key=value&... in URLs
    (
        re.compile(r"(?i)([?&;](?:" + _QUERY_NAME + r")=)(?!\*{10})[^\s&#\"'<>]+"),
        r"\1" + MASK,
    ),
    # name: value, name=value, "name": "value" in headers, JSON and keyword text
    (
        re.compile(
            r"(?i)(?<![\w-])(?P<name>(?:" + _SECRET_NAME + r"))(?P<sep>['\"]?\s*[:=]\s*['\"]?)"
            r"(?!\*{10})(?P<value>[^\s\"'&,;})\]]{4,})"
        ),
        r"\g<name>\g<sep>" + MASK,
    ),
    # Azure-style keys: exactly 32 hex digits (not a 40-digit commit or a 64-digit hash)
    (re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32}(?![0-9A-Za-z])"), MASK),
)


def redact(text: str) -> str:
    """``text`` with every credential this policy recognises masked. Never raises."""
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:
            return "<unprintable>"
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_secret_name(name: str) -> bool:
    """Whether a header, keyword or field name holds a credential (``api-key``, ``Authorization``)."""
    lowered = name.lower()
    return lowered in SECRET_HEADER_NAMES or bool(
        re.fullmatch(r"(?:x-)?(?:api[-_]?key|.*token|.*secret|password)", lowered)
    )


def redact_mapping(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of a header or keyword mapping with credential values masked (for reprs and state)."""
    if not values:
        return {}
    return {
        k: MASK if is_secret_name(str(k)) else (redact(v) if isinstance(v, str) else v)
        for k, v in values.items()
    }
