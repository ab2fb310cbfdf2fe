"""nbval, taught to follow displays that are updated in place.

A ``%%chain`` cell shows its result at once (``running…``) and, when the chain is done, replaces
that output with the final one through ``update_display_data``. Jupyter and nbclient apply the
update, so the saved notebook holds the final output; nbval ignores the message ("unhandled iopub
msg") and would compare the placeholder. Here each cell's updates are folded into the output they
update before nbval compares, so the comparison sees what a person sees.

A ``%chaintime`` table is compared by its ``text/plain`` only (sanitized by nbval_sanitize.cfg). Its
HTML marks the fastest row, sorts and scales its bars by the measured times, and carries p-values in
tooltips: all of it follows the measurement's noise, and its text holds the same table. Its raw runs
(``application/vnd.chainmagic.timing+json``) are measurements through and through, and whether its
warnings (high spread, cold start) appear follows the noise too: their lines are left out.
"""

from __future__ import annotations

from typing import Any

import pytest
from nbformat import from_dict

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # pragma: no cover - only used under `pytest --nbval`
    IPyNbCell = None

TIMING_HTML = 'class="chainmagic-timing"'
TIMING_MIME = "application/vnd.chainmagic.timing+json"
DISPLAY_ID = "nbval-display-id"  # kept in an output's metadata, which nbval never compares
UPDATES = "nbval-updates"


def _marked(msg: dict[str, Any]) -> dict[str, Any]:
    """An iopub message whose display id nbval can see later (updates become displays)."""
    kind = msg.get("msg_type")
    content = msg.get("content") or {}
    display_id = (content.get("transient") or {}).get("display_id")
    if kind not in ("display_data", "update_display_data") or display_id is None:
        return msg
    key = UPDATES if kind == "update_display_data" else DISPLAY_ID
    metadata = {**(content.get("metadata") or {}), key: display_id}
    return {**msg, "msg_type": "display_data", "content": {**content, "metadata": metadata}}


def _folded(outputs: list[Any]) -> list[Any]:
    """Outputs with every update applied to the display it updates (in order), then dropped."""
    shown: dict[str, Any] = {}
    kept = []
    for out in outputs:
        metadata = out.get("metadata") or {}
        if UPDATES in metadata:
            target = shown.get(metadata[UPDATES])
            if target is not None:  # an update of another cell's display is not this cell's
                target["data"] = out["data"]
            continue
        if DISPLAY_ID in metadata:
            shown[metadata[DISPLAY_ID]] = out
        kept.append(out)
    return kept


def _without_timing_html(outputs: list[Any]) -> list[Any]:
    kept = []
    for out in outputs:
        data = out.get("data") or {}
        html = data.get("text/html")
        if (isinstance(html, str) and TIMING_HTML in html) or TIMING_MIME in data:
            without = {k: v for k, v in data.items() if k not in ("text/html", TIMING_MIME)}
            text = without.get("text/plain")
            if isinstance(text, str):
                lines = text.split("\n")
                without["text/plain"] = "\n".join(x for x in lines if not x.startswith("warning: "))
            kept.append(from_dict({**out, "data": without}))
        else:
            kept.append(out)
    return kept


def _follow_updates(cell: Any) -> None:
    notebook = cell.parent
    if not getattr(notebook, "_follows_updates", False):
        receive = notebook.get_kernel_message

        def get_kernel_message(*args: Any, **kwargs: Any) -> Any:
            return _marked(receive(*args, **kwargs))

        notebook.get_kernel_message = get_kernel_message
        notebook._follows_updates = True
    compare = cell.compare_outputs

    def compare_outputs(test: list[Any], ref: list[Any], skip_compare: Any = None) -> bool:
        return compare(_without_timing_html(_folded(test)), _without_timing_html(ref), skip_compare)

    cell.compare_outputs = compare_outputs


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if IPyNbCell is not None and isinstance(item, IPyNbCell):
        _follow_updates(item)
