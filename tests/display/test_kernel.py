"""A live display in a real kernel (nbclient): the saved notebook holds the final text and HTML in
one output updated in place, with no widget view and no widget state left behind."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

WIDGET = "application/vnd.jupyter.widget-view+json"
ROOT = Path(__file__).resolve().parents[2]

CELL = dedent(
    """
    from chainmagic.core import ChatPromptTemplate, FakeChatModel, RunnableParallel
    from chainmagic.core import StrOutputParser
    from chainmagic.display import LiveDisplay
    from chainmagic.run import execute

    def branch(template):
        model = FakeChatModel(latency=0.05, token_delay=0.01)
        return ChatPromptTemplate.from_template(template) | model | StrOutputParser()

    chain = RunnableParallel(
        joke=branch("tell me a joke about {topic}"), poem=branch("write a 2-line poem about {topic}")
    )
    live = LiveDisplay(mode=MODE, limit=2000)
    result = execute(chain, {"topic": "bear"}, name="map_chain", on_change=live.on_change)
    live.finish(result)
    from ipywidgets.widgets.widget import _instances
    print("widgets left:", len(_instances))
    """
)


def run(mode: str) -> tuple[list[dict], dict]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL.replace("MODE", repr(mode)))]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    return nb.cells[0].outputs, nb.metadata.get("widgets", {})


@pytest.fixture(scope="module")
def widget_run() -> tuple[list[dict], dict]:
    return run("auto")


def test_one_output_holds_the_final_text_and_html_only(
    widget_run: tuple[list[dict], dict],
) -> None:
    outputs, _ = widget_run
    assert [o["output_type"] for o in outputs] == ["display_data", "stream"]
    data = outputs[0]["data"]
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/plain"].startswith(
        "map_chain\njoke: tell me a joke about bear\npoem: write a 2-line poem about bear\ntotal "
    )
    assert "running" not in data["text/plain"]
    assert "tell me a joke about bear" in data["text/html"]


def test_the_kernel_keeps_no_widget_after_the_run(widget_run: tuple[list[dict], dict]) -> None:
    # (nbclient's own record of widget state keeps closed models too; the kernel does not.)
    outputs, _ = widget_run
    assert outputs[1]["text"] == "widgets left: 0\n"


def test_with_widgets_off_the_output_is_text_and_html_only() -> None:
    outputs, _ = run("off")
    assert [o["output_type"] for o in outputs] == ["display_data", "stream"]
    assert set(outputs[0]["data"]) == {"text/plain", "text/html"}
    assert outputs[0]["data"]["text/plain"].startswith("map_chain\njoke: tell me a joke")


@pytest.mark.parametrize(
    ("cell", "stuck_word"),
    [
        ("%chaintime -n 3 -i '\"hi\"' slow", "measuring"),
        ('%chain slow --batch \'["a", "b"]\' --max-concurrency 1', "running"),
    ],
)
def test_an_interrupted_timing_or_batch_is_saved_as_cancelled(cell: str, stuck_word: str) -> None:
    """Interrupted mid-run (the kernel gets SIGINT after 1 s), the saved output says cancelled,
    as static text and HTML: never "measuring…" or "running…" in a saved notebook."""
    nb = nbformat.v4.new_notebook()
    setup = "%load_ext chainmagic\nfrom chainmagic.core import FakeChatModel\n"
    nb.cells = [
        nbformat.v4.new_code_cell(setup + "slow = FakeChatModel(latency=30)"),
        nbformat.v4.new_code_cell(cell, metadata={"timeout": 1}),
    ]
    client = nbclient.NotebookClient(
        nb,
        timeout=60,
        timeout_func=lambda c: c.metadata.get("timeout", 60),
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()
    outputs = nb.cells[1].outputs
    assert outputs[-1]["output_type"] == "error"
    assert outputs[-1]["ename"] == "KeyboardInterrupt"
    (shown,) = [o for o in outputs if o["output_type"] == "display_data"]
    data = shown["data"]
    assert set(data) == {"text/plain", "text/html"}
    assert "cancelled" in data["text/plain"]
    assert stuck_word not in data["text/plain"]
