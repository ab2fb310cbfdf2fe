"""What a reader's eyes check, measured in the page: text contrast and horizontal overflow.

Both run as JavaScript in Chromium on the computed styles and the laid-out geometry, so they see
what the theme made of chainmagic's HTML (JupyterLab's CSS variables resolved), not the markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROOTS = ".chainmagic-result, .chainmagic-batch, .chainmagic-timing, .chainmagic-graph"
MIN_CONTRAST = 4.5  # WCAG AA for normal text

# WCAG 2 contrast of every element with a text node of its own, inside a chainmagic output. The
# background is the stack of (possibly translucent) backgrounds up the parents, blended over the
# first opaque one; a translucent text colour is blended over that background too.
_CONTRAST_JS = """
(roots) => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c || "");
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
  const lum = (rgb) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let rgb = [255, 255, 255];
    for (let i = layers.length - 1; i >= 0; i--) rgb = over(layers[i], rgb);
    return rgb;
  };
  const out = [];
  for (const root of document.querySelectorAll(roots)) {
    for (const el of [root, ...root.querySelectorAll("*")]) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || !el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      if (style.visibility === "hidden" || Number(style.opacity) === 0) continue;
      const bg = background(el);
      const fg = over(parse(style.color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const text = [...el.childNodes].filter((n) => n.nodeType === 3)
        .map((n) => n.textContent.trim()).join(" ").slice(0, 40);
      out.push({ text, ratio: (hi + 0.05) / (lo + 0.05), color: style.color,
                 background: `rgb(${bg.map(Math.round).join(",")})` });
    }
  }
  return out;
}
"""

# Output areas holding a chainmagic view, and the views themselves, that are wider than the room
# they have (a horizontal scrollbar under the output). A table that scrolls on its own inside the
# view (``.chainmagic-scroll``) is allowed: the rest of the view stays in place.
_OVERFLOW_JS = """
(roots) => {
  const out = [];
  for (const root of document.querySelectorAll(roots)) {
    const area = root.closest(".jp-OutputArea-output");
    for (const el of [area, root]) {
      if (el && el.scrollWidth > el.clientWidth + 1) {
        out.push({ what: el === area ? "output area" : root.className,
                   scroll: el.scrollWidth, client: el.clientWidth });
      }
    }
    const box = root.getBoundingClientRect();
    const room = area ? area.getBoundingClientRect() : box;
    if (box.right > room.right + 1) {
      out.push({ what: root.className + " sticks out", scroll: box.right, client: room.right });
    }
  }
  return out;
}
"""


@dataclass
class Contrast:
    text: str
    ratio: float
    color: str
    background: str


def contrasts(page: Any) -> list[Contrast]:
    """The contrast of every text element in the page's chainmagic outputs."""
    return [Contrast(**item) for item in page.evaluate(_CONTRAST_JS, ROOTS)]


def overflows(page: Any) -> list[dict[str, Any]]:
    """Every chainmagic output (or view) wider than its output area."""
    return list(page.evaluate(_OVERFLOW_JS, ROOTS))
