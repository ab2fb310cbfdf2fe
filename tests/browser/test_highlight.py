"""The editor extension in JupyterLab: chain cells are coloured in the chain language, not Python.

A notebook with a Python cell, a ``%%chain`` cell and a ``%%chaintime`` cell is opened in headless
Chromium. Every character of the chain cells must carry the ``cm-chain-<class>`` that the Python
highlighter (``chainmagic.dsl.highlight``, the same rules file) gives it, and the Python cell none;
the colours must come from the theme, in light and in dark; changing the first line of a chain cell
turns it back into Python, and undoing the change turns it into a chain cell again. The page must log
no errors. Tab in a chain cell completes from the kernel. Screenshots go to build/screenshots/
(highlight-light.png, highlight-dark.png, highlight-completion.png).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainmagic.dsl.highlight import highlight

from .conftest import browser_page

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
NOTEBOOK = "chain_highlight.ipynb"
STATUS = "#jp-main-statusbar .jp-StatusBar-TextItem"
PYTHON = '%load_ext chainmagic\ntopic = "bears"\nprint(f"{topic}: {len(topic)}")  # a Python cell'
CHAIN = (
    '%%chain chain -i question="where did harrison work" language=italian\n'
    "{context: @question | retriever, question: @question, language: @language}\n"
    '| """Answer the question based only on the following context:\n'
    "{context}\n"
    "\n"
    "Question: {question} ({{not a variable}})\n"
    '"""\n'
    '| model("fake:echo", temperature=0)\n'
    "| str  # the answer's text"
)
CHAINTIME = "%%chaintime -i topic=bear -n 5\njoke_chain\nshort: 'one word about {topic}' | model"
CELLS = [PYTHON, CHAIN, CHAINTIME]

# Every chain character's class, read off the DOM: the nearest `cm-chain-*` class up from its text.
CLASSES_JS = """(cell) => {
    const out = [];
    for (const line of cell.querySelectorAll('.cm-content .cm-line')) {
        const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            let cls = null;
            for (let el = node.parentElement; el && el !== line; el = el.parentElement) {
                const own = [...el.classList].find((c) => c.startsWith('cm-chain-'));
                if (own) { cls = own.slice('cm-chain-'.length); break; }
            }
            for (const _ of node.textContent) out.push(cls);
        }
        out.push(null);  // the line break
    }
    out.pop();
    return out;
}"""


def expected_classes(text: str) -> list[str | None]:
    chars: list[str | None] = [None] * len(text)
    for span in highlight(text):
        chars[span.start : span.end] = [span.cls] * (span.end - span.start)
    return chars


@pytest.fixture
def notebook(lab: Any) -> str:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in CELLS
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab.root / NOTEBOOK).write_text(json.dumps(nb))
    return NOTEBOOK


@pytest.fixture
def page(lab: Any, browser: Any) -> Iterator[Any]:
    with browser_page(browser) as page:
        yield page


def cells(page: Any) -> Any:
    return page.locator(".jp-Notebook .jp-CodeCell")


def dom_classes(page: Any, index: int) -> list[str | None]:
    return cells(page).nth(index).evaluate(CLASSES_JS)


def mismatches(page: Any, index: int, text: str) -> str:
    """Every non-blank character whose class on the page is not the Python twin's, one per line."""
    got, want = dom_classes(page, index), expected_classes(text)
    assert len(got) == len(want), f"cell {index}: {len(got)} characters on the page, {len(want)}"
    return "\n".join(
        [
            f"{text[i]!r} at {i}: {got[i]} on the page, {want[i]} expected"
            for i in range(len(want))
            if got[i] != want[i] and not text[i].isspace()
        ]
    )


def theme(page: Any, name: str) -> None:
    page.locator(".lm-MenuBar-itemLabel:text-is('Settings')").click()
    page.locator(".lm-Menu-itemLabel:text-is('Theme')").click()
    page.locator(f".lm-Menu-itemLabel:text-is('{name}')").click()
    light = "false" if "Dark" in name else "true"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    page.wait_for_timeout(500)  # the theme's stylesheet applies after the attribute


def colours(page: Any) -> dict[str, str]:
    """The colour of a few token classes in the chain cell, and of plain editor text."""
    return (
        cells(page)
        .nth(1)
        .evaluate(
            """(cell) => {
            const colour = (sel) => {
                const el = cell.querySelector(sel);
                return el ? getComputedStyle(el).color : null;
            };
            return {
                text: colour('.cm-content'),
                string: colour('.cm-chain-string'),
                key: colour('.cm-chain-key'),
                builtin: colour('.cm-chain-builtin'),
                comment: colour('.cm-chain-comment'),
                background: (() => {  // the first background that is not transparent, going up
                    for (let el = cell.querySelector('.cm-content'); el; el = el.parentElement) {
                        const bg = getComputedStyle(el).backgroundColor;
                        if (bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') return bg;
                    }
                    return null;
                })(),
            };
        }"""
        )
    )


def test_chain_cells_are_highlighted_in_the_chain_language(
    page: Any, lab: Any, notebook: str
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(lab.tree(notebook))
    page.locator(".jp-CodeCell .cm-chain-magic").first.wait_for()
    page.wait_for_function(
        """(selector) => [...document.querySelectorAll(selector)].some(
            (item) => / \\| Idle$/.test(item.textContent.trim()))""",
        arg=STATUS,
    )  # the kernel's language info resets every cell's language: chain cells must keep theirs
    page.wait_for_timeout(500)

    assert cells(page).nth(0).locator("[class*='cm-chain-']").count() == 0  # Python stays Python
    assert cells(page).nth(0).locator(".cm-line span").count() > 3  # ... and is highlighted
    assert not (bad := mismatches(page, 1, CHAIN)), bad
    assert not (bad := mismatches(page, 2, CHAINTIME)), bad

    light = colours(page)
    page.screenshot(path=str(SHOTS / "highlight-light.png"))
    theme(page, "JupyterLab Dark")
    dark = colours(page)
    page.screenshot(path=str(SHOTS / "highlight-dark.png"))
    assert not (bad := mismatches(page, 1, CHAIN)), bad
    for name in ("string", "key", "builtin", "comment"):
        assert light[name] not in (None, light["text"]), f"{name} not coloured in light: {light}"
        assert dark[name] not in (None, dark["text"]), f"{name} not coloured in dark: {dark}"
        if name != "comment":  # JupyterLab gives comments one colour in both of its themes
            assert light[name] != dark[name], f"{name}: the same colour in both themes"
    assert light["background"] != dark["background"]
    theme(page, "JupyterLab Light")

    # A chain cell whose first line stops being a magic is Python again; undo makes it a chain.
    editor = cells(page).nth(2).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("x = 1 #")
    page.wait_for_timeout(300)
    assert cells(page).nth(2).locator("[class*='cm-chain-']").count() == 0
    page.keyboard.press("Control+z")
    page.locator(".jp-CodeCell").nth(2).locator(".cm-chain-magic").wait_for()
    assert not (bad := mismatches(page, 2, CHAINTIME)), bad

    # Tab completes from the kernel once chainmagic is loaded there: the built-in `passthrough`.
    cells(page).nth(0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """() => document.querySelector('.jp-CodeCell .jp-InputPrompt').textContent.includes('1')"""
    )
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nmore: 'x' | passt")
    page.keyboard.press("Tab")
    page.locator(".jp-Completer-item:has-text('passthrough')").wait_for()
    page.screenshot(path=str(SHOTS / "highlight-completion.png"))
    page.keyboard.press("Enter")
    page.wait_for_function(
        """(index) => document.querySelectorAll('.jp-CodeCell .cm-content')[index]
            .textContent.includes("'x' | passthrough")""",
        arg=2,
    )

    assert page.errors == [], "\n".join(page.errors)
