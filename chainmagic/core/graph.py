"""A chain's shape, drawn: ASCII for ``text/plain``, Mermaid text, and offline HTML.

The graph is built from the runnables themselves, so it names steps the way the chain was written
(DSL labels, branch keys). Drawings are pure functions of the graph: no web service, no JavaScript.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Graph", "Node", "short_label"]


@dataclass
class Node:
    """One step of the drawing; ``kind`` is "input", "output", "step", "sequence" or "map"."""

    id: int
    label: str
    kind: str = "step"
    children: list[Node] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def short_label(step: Any, width: int = 28) -> str:
    """How a step is named in a drawing: its label, else a short form of what it is."""
    from chainmagic.core.prompts import ChatPromptTemplate, PromptTemplate

    if getattr(step, "label", None):
        return str(step.label)
    if isinstance(step, (ChatPromptTemplate, PromptTemplate)):
        text = step.template if isinstance(step.template, str) else None
        if text is not None:
            flat = " ".join(text.split())
            return '"' + (flat if len(flat) <= width else flat[: width - 1] + "…") + '"'
    model = getattr(step, "model_name", None)
    if isinstance(model, str) and model != "model":
        return model
    return str(getattr(step, "name", type(step).__name__))


class Graph:
    """Nodes (a tree of sequences and maps between an input and an output) and their edges."""

    def __init__(self, root: Node) -> None:
        self.root = root

    @classmethod
    def of(cls, runnable: Any) -> Graph:
        counter = iter(range(1, 1 << 30))
        body = _node(runnable, counter)
        steps = body.children if body.kind == "sequence" else [body]
        root = Node(-1, "chain", "sequence", [Node(0, "Input", "input"), *steps])
        root.children.append(Node(next(counter), "Output", "output"))
        return cls(root)

    # -- structure ------------------------------------------------------------------------------

    @property
    def nodes(self) -> list[Node]:
        out: list[Node] = []

        def walk(node: Node) -> None:
            if node.kind in ("sequence", "map"):
                if node.kind == "map":
                    out.append(node)
                for child in node.children:
                    walk(child)
            else:
                out.append(node)

        walk(self.root)
        return out

    @property
    def edges(self) -> list[tuple[int, int]]:
        edges: list[tuple[int, int]] = []

        def link(node: Node, sources: list[int]) -> list[int]:
            """Connect ``sources`` into ``node``; return the ids that leave it."""
            if node.kind == "sequence":
                for child in node.children:
                    sources = link(child, sources)
                return sources
            if node.kind == "map":
                ends: list[int] = []
                for branch in node.children:
                    ends += link(branch, sources)
                return ends
            edges.extend((s, node.id) for s in sources)
            return [node.id]

        link(self.root, [])
        return edges

    # -- drawings -------------------------------------------------------------------------------

    def draw_ascii(self) -> str:
        lines, _ = _block(self.root)
        return "\n".join(line.rstrip() for line in lines)

    def draw_mermaid(self) -> str:
        """Mermaid text: one node per step, edges into a branch labelled by its key."""
        out = ["graph TD"]
        for node in self.nodes:
            if node.kind == "map":
                continue
            out.append(f'    n{node.id}["{_mermaid_text(node.label)}"]')
        keys = _branch_keys(self.root, "")
        for a, b in self.edges:
            key = keys.get(b)
            arrow = f'-->|"{_mermaid_text(key)}"|' if key else "-->"
            out.append(f"    n{a} {arrow} n{b}")
        return "\n".join(out)

    def to_html(self) -> str:
        return f'<div class="cm-graph" style="{_CSS_ROOT}">{_html(self.root)}</div>'

    def __str__(self) -> str:
        return self.draw_ascii()

    def __repr__(self) -> str:
        return self.draw_ascii()

    def _repr_html_(self) -> str:
        return self.to_html()


def _mermaid_text(text: str) -> str:
    flat = " ".join(text.split())  # a newline would end the Mermaid statement
    return flat.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _branch_keys(node: Node, prefix: str) -> dict[int, str]:
    """The id of each branch's first step → the branch's key (``outer › inner`` for nested maps)."""
    keys: dict[int, str] = {}
    if node.kind == "sequence":
        for child in node.children:
            keys.update(_branch_keys(child, prefix))
    elif node.kind == "map":
        for key, branch in zip(node.keys, node.children):
            if key == "…" or not branch.children:  # assign's passthrough column
                continue
            path = f"{prefix} › {key}" if prefix else key
            first = branch.children[0]
            if first.kind == "map":
                keys.update(_branch_keys(first, path))
            else:
                keys[first.id] = path
            for child in branch.children[1:]:
                keys.update(_branch_keys(child, ""))
    return keys


def _node(step: Any, counter: Any) -> Node:
    from chainmagic.core.parallel import RunnableParallel
    from chainmagic.core.passthrough import RunnableAssign
    from chainmagic.core.sequence import RunnableSequence
    from chainmagic.core.wrappers import _Wrapper

    if isinstance(step, _Wrapper):
        inner = _node(step.bound, counter)
        if step.label and inner.kind not in ("sequence", "map"):
            inner.label = step.label
        return inner
    if isinstance(step, RunnableSequence):
        children: list[Node] = []
        for child in step.steps:
            node = _node(child, counter)
            children.extend(node.children if node.kind == "sequence" else [node])
        return Node(next(counter), step.label or "sequence", "sequence", children)
    if isinstance(step, (RunnableParallel, RunnableAssign)):
        mapper = step.mapper if isinstance(step, RunnableAssign) else step
        if not mapper.steps:  # a map with no branch is one step that outputs {} (or the input)
            empty = "assign()" if isinstance(step, RunnableAssign) else "{}"
            return Node(next(counter), step.label or empty, "step")
        branches = []
        for key, branch in mapper.steps.items():
            inner = _node(branch, counter)
            steps = inner.children if inner.kind == "sequence" else [inner]
            branches.append(Node(next(counter), key, "sequence", steps))
        keys = list(mapper.steps)
        if isinstance(step, RunnableAssign):
            branches.insert(0, Node(next(counter), "…", "sequence", [Node(next(counter), "input")]))
            keys.insert(0, "…")
        return Node(next(counter), step.label or "map", "map", branches, keys)
    return Node(next(counter), short_label(step), "step")


# -- ASCII layout: each node becomes a block of lines with an anchor column for its edges ---------


def _block(node: Node) -> tuple[list[str], int]:
    if node.kind == "sequence":
        blocks = [_block(child) for child in node.children]
        if not blocks:
            return [""], 0
        anchor = max(a for _, a in blocks)
        lines: list[str] = []
        for i, (block, a) in enumerate(blocks):
            if i:
                lines.append(" " * anchor + "│")
            lines.extend(" " * (anchor - a) + line for line in block)
        return _pad(lines), anchor
    if node.kind == "map":
        return _map_block(node)
    return [node.label], len(node.label) // 2


def _map_block(node: Node) -> tuple[list[str], int]:
    columns = []
    for key, branch in zip(node.keys, node.children):
        head = f"{key}:" if key != "…" else "…"
        body, body_anchor = _block(Node(branch.id, "", "sequence", branch.children))
        head_anchor = len(head) // 2
        a = max(body_anchor, head_anchor)
        block = [" " * (a - head_anchor) + head]
        block += [" " * (a - body_anchor) + ln for ln in body]
        columns.append((_pad(block), a))
    gap = 3
    lines_out: list[str] = []
    anchors: list[int] = []
    x = 0
    for block, a in columns:
        anchors.append(x + a)
        x += len(block[0]) + gap
    total = x - gap
    height = max(len(b) for b, _ in columns)
    for row in range(height):
        parts = []
        for block, a in columns:
            width = len(block[0])
            parts.append(block[row] if row < len(block) else (" " * a + "│").ljust(width))
        lines_out.append((" " * gap).join(parts))
    center = (anchors[0] + anchors[-1]) // 2
    top = _rule(total, anchors, center, "┌┬┐┴┼")
    bottom = _rule(total, anchors, center, "└┴┘┬┼")
    if len(anchors) == 1:  # nothing to fork or join: the sequence's connectors are enough
        return _pad(lines_out), center
    return _pad([top, *lines_out, bottom]), center


def _rule(width: int, anchors: list[int], center: int, corners: str) -> str:
    """A horizontal rule joining the branches; ``corners`` is left, middle, right, at, cross."""
    left, mid, right, at, cross = tuple(corners)
    chars = [" "] * max(width, center + 1)
    for x in range(anchors[0], anchors[-1] + 1):
        chars[x] = "─"
    for x in anchors:
        chars[x] = mid
    chars[anchors[0]], chars[anchors[-1]] = left, right
    chars[center] = cross if center in anchors else at
    return "".join(chars)


def _pad(lines: list[str]) -> list[str]:
    width = max((len(line) for line in lines), default=0)
    return [line.ljust(width) for line in lines]


# -- HTML: nested flex boxes, styled inline so it survives nbconvert and GitHub ------------------

# JupyterLab's theme variables (light fallbacks), as chainmagic's other views use: text only in the
# theme's text colours, so the drawing reads at >= 4.5:1 in light and dark themes alike.
_FG = "var(--jp-ui-font-color1,#1f2933)"
_MUTED = "var(--jp-ui-font-color2,#616e7c)"
_CSS_ROOT = (
    f"font-family:var(--jp-code-font-family,monospace);font-size:12px;display:inline-block;"
    f"color:{_FG}"
)
_CSS_SEQ = "display:flex;flex-direction:column;align-items:center"
_CSS_MAP = (
    "display:flex;flex-direction:row;gap:12px;align-items:flex-start;padding:6px;"
    "border:1px dashed var(--jp-border-color1,#9aa5b1);border-radius:6px"
)
_CSS_STEP = (
    "padding:2px 8px;border:1px solid var(--jp-border-color1,#52606d);border-radius:4px;"
    f"background:var(--jp-layout-color1,#ffffff);color:{_FG}"
)
_CSS_END = (
    f"padding:2px 8px;border-radius:10px;background:var(--jp-layout-color2,#e4e7eb);color:{_FG}"
)
_CSS_KEY = f"font-weight:bold;color:{_FG};margin-bottom:2px"
_ARROW = f'<div aria-hidden="true" style="color:{_MUTED};line-height:1.1">↓</div>'


def _html(node: Node) -> str:
    if node.kind == "sequence":
        inner = _ARROW.join(_html(child) for child in node.children)
        return f'<div style="{_CSS_SEQ}">{inner}</div>'
    if node.kind == "map":
        cols = []
        for key, branch in zip(node.keys, node.children):
            body = _ARROW.join(_html(child) for child in branch.children)
            cols.append(
                f'<div style="{_CSS_SEQ}"><div style="{_CSS_KEY}">{html.escape(key)}</div>{body}</div>'
            )
        return f'<div style="{_CSS_MAP}">{"".join(cols)}</div>'
    style = _CSS_END if node.kind in ("input", "output") else _CSS_STEP
    return f'<div style="{style}">{html.escape(node.label)}</div>'
