"""The ``%chaintime`` table's default columns fit an 800 px output, measured in Chromium.

The table is the static HTML a notebook keeps, laid out on its own in a page 800 px wide: for a
typical comparison (three chains with streamed output, 20 runs each, so a tail percentile shows)
the default columns must fit without the table's own scrollbar; ``--columns`` asking for every
column may scroll (inside its box, which the tutorials' overflow check allows).
"""

from __future__ import annotations

import random
from typing import Any

from chainmagic.display import timing_html
from chainmagic.run.timing import ChainTiming, RunRecord
from chainmagic.run.timing_columns import COLUMNS
from chainmagic.run.timing_result import TimingResult

WIDTH = 800


def typical(runs: int = 20) -> TimingResult:
    rng = random.Random(7)
    chains = {}
    for label, median in (("joke_chain", 0.065), ("poem_chain", 0.21), ("map_chain", 0.215)):
        timing = ChainTiming(label)
        for i in range(runs):
            total = median * rng.uniform(0.85, 1.15)
            timing.add(RunRecord(round=i, total=total, ttft=total / 3, itl=0.0021, tpot=0.003,
                                 output_tokens=20, chunks=20))  # fmt: skip
        chains[label] = timing
    return TimingResult(chains, orders=[[]] * runs, runs_requested=runs)


def table_width(browser: Any, page_html: str) -> tuple[int, int]:
    """(the table's own width, the width of its scroll box) in CSS pixels."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    try:
        page = context.new_page()
        page.set_content(f'<body style="margin:0;font-size:13px">{page_html}</body>')
        return page.evaluate(
            """() => {
                const box = document.querySelector('.chainmagic-scroll');
                return [box.scrollWidth, box.clientWidth];
            }"""
        )
    finally:
        context.close()


def test_the_default_columns_fit_800_px(browser: Any) -> None:
    for runs in (7, 20, 100):
        width, room = table_width(browser, timing_html(typical(runs)))
        assert width <= room <= WIDTH, f"{runs} runs: the table is {width} px wide in {room} px"


def test_every_column_asked_for_scrolls_inside_its_box(browser: Any) -> None:
    result = typical()
    result.columns = list(COLUMNS)
    width, room = table_width(browser, timing_html(result))
    assert room <= WIDTH < width  # wider than the page, so its own box scrolls, not the page
