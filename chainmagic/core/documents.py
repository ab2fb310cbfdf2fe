"""Documents: what retrievers return and prompts format as context."""

from __future__ import annotations

from typing import Any

__all__ = ["Document"]


class Document:
    """A piece of text with metadata (LCEL's ``page_content`` and ``metadata``)."""

    __slots__ = ("id", "metadata", "page_content")

    def __init__(
        self,
        page_content: str,
        metadata: dict[str, Any] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        self.page_content = page_content
        self.metadata = metadata or {}
        self.id = id

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Document)
            and other.page_content == self.page_content
            and other.metadata == self.metadata
        )

    def __hash__(self) -> int:
        return hash(self.page_content)

    def __repr__(self) -> str:
        # LangChain's field order, metadata always shown: a printed Document reads the same in both.
        ident = f"id={self.id!r}, " if self.id else ""
        return f"Document({ident}metadata={self.metadata!r}, page_content={self.page_content!r})"

    def __str__(self) -> str:
        return self.page_content

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"page_content": self.page_content, "metadata": dict(self.metadata)}
        if self.id:
            out["id"] = self.id
        return out
