"""What the mock model says back.

Tests need replies they can predict: by default the server echoes the last user
message, which makes "did my prompt reach the model?" a one-line assertion.
Scripted replies cover the rest: a list of strings (served in turn, cycling), a
mapping of regex to reply (first pattern found in the last user message wins, echo
otherwise), or a callable that gets the whole message list and returns the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Message = dict[str, Any]
ReplyFunction = Callable[[list[Message]], str]
Replies = str | Sequence[str] | Mapping[str, str] | ReplyFunction | None


def message_text(content: object) -> str:
    """The text of a message ``content``: a string, or the text parts of a parts list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        )
    return ""


def last_user_text(messages: Sequence[object]) -> str:
    """The text of the last ``role == "user"`` message, or "" when there is none."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


class Replier:
    """Turns the ``replies`` setting into a function from messages to reply text.

    The configuration is validated (and regexes compiled) here, when the server is
    configured, so a typo in a pattern fails the test that wrote it rather than
    surfacing later as a 500 from the server thread.
    """

    def __init__(self, replies: Replies = None) -> None:
        self.source = replies
        self._turn = 0
        self._script: list[str] | None = None
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None
        self._function: ReplyFunction | None = None
        if replies is None:
            return
        if isinstance(replies, str):
            self._script = [replies]
        elif isinstance(replies, Mapping):
            self._patterns = [
                (re.compile(pattern), str(reply)) for pattern, reply in replies.items()
            ]
        elif callable(replies):
            self._function = replies
        elif isinstance(replies, Sequence):
            self._script = [str(reply) for reply in replies]
            if not self._script:
                raise ValueError("replies: an empty list has nothing to say")
        else:
            raise TypeError(f"replies: unsupported type {type(replies).__name__}")

    def __call__(self, messages: list[Message]) -> str:
        """Pick the reply for this conversation (advances the script for list replies)."""
        if self._function is not None:
            reply = self._function(messages)
            if not isinstance(reply, str):
                raise TypeError(f"reply function returned {type(reply).__name__}, not str")
            return reply
        if self._script is not None:
            reply = self._script[self._turn % len(self._script)]
            self._turn += 1
            return reply
        text = last_user_text(messages)
        for pattern, reply in self._patterns or ():
            if pattern.search(text):
                return reply
        return text
