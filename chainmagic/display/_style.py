"""The inline-style vocabulary of chainmagic's HTML: colours, fonts and the branch palette.

Inline styles only (no ``<style>`` sheet, no classes to resolve) because the same markup must look
right in JupyterLab, in an ipywidgets ``HTML`` view, in nbconvert's output and on GitHub. Colours go
through JupyterLab's CSS variables, so dark themes recolour everything; each variable carries a
light-theme fallback for pages that do not define it.
"""

from __future__ import annotations

__all__ = [
    "BG",
    "BG2",
    "BORDER",
    "ERR",
    "FG",
    "MONO",
    "MUTED",
    "NEUTRAL",
    "OK",
    "PALETTE",
    "RUN",
    "SANS",
    "STATUS_COLOURS",
    "TRACK",
    "WARN",
    "branch_colour",
]

FG = "var(--jp-ui-font-color1,#1f2933)"
MUTED = "var(--jp-ui-font-color2,#616e7c)"
BORDER = "var(--jp-border-color2,#d9dee3)"
BG = "var(--jp-layout-color1,#ffffff)"
BG2 = "var(--jp-layout-color2,#f5f7fa)"
TRACK = "var(--jp-layout-color3,#e4e7eb)"
OK = "var(--jp-success-color1,#2e7d32)"
ERR = "var(--jp-error-color1,#c62828)"
RUN = "var(--jp-brand-color1,#1976d2)"
WARN = "var(--jp-warn-color1,#ef6c00)"
MONO = "var(--jp-code-font-family,SFMono-Regular,Menlo,Consolas,monospace)"
SANS = "var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif)"

# Tableau 10: distinguishable, and legible on light and dark backgrounds alike.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
NEUTRAL = "#7b8794"

STATUS_COLOURS = {
    "ok": OK,
    "error": ERR,
    "running": RUN,
    "pending": MUTED,
    "cancelled": WARN,
}


def branch_colour(index: int | None) -> str:
    """The colour of branch ``index`` (cards and timeline bars agree); steps outside branches grey."""
    return NEUTRAL if index is None else PALETTE[index % len(PALETTE)]
