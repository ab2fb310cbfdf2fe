"""The inline-style vocabulary of chainmagic's HTML: colours, fonts and the branch palette.

Inline styles only (no ``<style>`` sheet, no classes to resolve) because the same markup must look
right in JupyterLab, in an ipywidgets ``HTML`` view, in nbconvert's output and on GitHub. Colours go
through JupyterLab's CSS variables, so dark themes recolour everything; each variable carries a
light-theme fallback for pages that do not define it.

Contrast rule: *text* is only ever drawn in the theme's own text colours (``FG``, ``MUTED``), which
JupyterLab keeps at ≥ 4.5:1 on its backgrounds in light and dark themes alike. Colour that carries
meaning (a branch, a status, the fastest chain) goes on shapes — swatches, borders, bars — never on
letters: no single colour reads at 4.5:1 on both white and near-black, and a word beside a swatch
still says what the colour means to a colour-blind reader.
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
    "TR",
    "TRACK",
    "WARN",
    "branch_colour",
    "swatch",
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
# A table row that keeps no background of the page's own: JupyterLab stripes and highlights the rows
# of rendered HTML tables, and muted text on a stripe reads below 4.5:1.
TR = '<tr style="background:none">'
MONO = "var(--jp-code-font-family,SFMono-Regular,Menlo,Consolas,monospace)"
SANS = "var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif)"

# Okabe & Ito's colour-blind-safe palette (distinct under protanopia, deuteranopia and tritanopia),
# blue first; black is left out, as it vanishes on a dark theme.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#56b4e9",
    "#cc79a7",
    "#f0e442",
)
NEUTRAL = "#8a949e"

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


def swatch(colour: str, *, size: int = 8, shape: str = "2px") -> str:
    """A small filled square (``shape="50%"``: a dot) in ``colour``: colour without text.

    It has no text node, so it is not text for contrast purposes, and ``aria-hidden`` keeps screen
    readers on the word beside it.
    """
    return (
        f'<span aria-hidden="true" style="display:inline-block;width:{size}px;height:{size}px;'
        f'border-radius:{shape};background:{colour};margin-right:4px;vertical-align:baseline">'
        "</span>"
    )
