"""The quickstart in Notebook 7 (the classic-looking app built on JupyterLab's parts), in headless
Chromium: chainmagic's outputs and its editor extension work there as in JupyterLab.

The editor extension is listed enabled by ``jupyter labextension list`` with the server's own
configuration, and the page itself loads it (its page config names it, nothing disables it). The
tutorial's outputs are cleared and every cell is run: each view the tutorial is about shows (branch
cards, timeline, graph, the error message), none is stuck at "Loading widget" or shows "Error
displaying widget", the text reads at ≥ 4.5:1, and every character of the ``%%chain`` cells carries
the chain language's highlight class. Then the notebook is saved (the file holds no widget view),
closed with "Close and Shut Down Notebook" (the server has no kernel left), and opened again: every
output is still there, drawn from the file alone, and reads at ≥ 4.5:1 in the dark theme too.
Screenshots: build/screenshots/notebook7-*.png.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import OPEN_TIMEOUT, VIEWPORT, Lab, browser_page, serve, server_env
from .test_highlight import CLASSES_JS, expected_classes
from .test_tutorials import (
    FAILS_ON_PURPOSE,
    SHOTS,
    STDERR,
    TUTORIALS,
    cell_of,
    check_looks,
    check_view,
    menu,
    no_broken_outputs,
    run_all,
    screenshot,
    set_theme,
)

NAME = "01_quickstart.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"
TALL = 6000  # px: a viewport the whole quickstart fits in (Notebook 7 lays out only cells in view)
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
# Notebook 7's own keyboard-shortcut settings plugin throws this while the page loads, with or
# without chainmagic's extension (checked by disabling it): not ours, and harmless to the page.
NOTEBOOK7_OWN = re.compile(
    r"^page error: Cannot read properties of undefined \(reading 'schema'\)$"
)


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with serve(tmp_path_factory.mktemp("notebook7"), "notebook") as server:
        yield server


def kernel_idle(page: Any, server: Lab) -> None:
    """The notebook's kernel is started and idle: the server says so, and then the page does (its
    execution indicator alone says idle before any kernel is connected)."""
    deadline = time.monotonic() + OPEN_TIMEOUT / 1000
    while True:
        sessions = [s for s in server.api("sessions") if s["path"] == NAME]
        if sessions and sessions[0]["kernel"]["execution_state"] == "idle":
            break
        assert time.monotonic() < deadline, f"no idle kernel for {NAME}: {sessions}"
        time.sleep(0.2)
    page.locator(IDLE).wait_for()


def open_notebook(page: Any, server: Lab) -> None:
    page.goto(server.notebook(NAME))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    kernel_idle(page, server)


def settled(page: Any, server: Lab) -> None:
    """The kernel is idle and the last display update (sent just before idle) has landed."""
    kernel_idle(page, server)
    page.wait_for_timeout(500)


def chain_cells_highlighted(page: Any) -> int:
    """Every ``%%chain`` cell's characters carry the classes the chain language's rules give them
    (the Python twin of the extension, same rules file); returns how many cells were checked."""
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    checked = 0
    for i in range(cells.count()):
        cell = cells.nth(i)
        text = "\n".join(cell.locator(".cm-line").all_text_contents())
        if not text.startswith("%%chain"):
            assert cell.locator("[class*='cm-chain-']").count() == 0, f"cell {i} is not a chain"
            continue
        got, want = cell.evaluate(CLASSES_JS), expected_classes(text)
        assert len(got) == len(want), f"cell {i}: {len(got)} characters on the page, {len(want)}"
        wrong = [
            f"{text[k]!r} at {k}: {got[k]} on the page, {want[k]} expected"
            for k in range(len(want))
            if got[k] != want[k] and not text[k].isspace()
        ]
        assert not wrong, f"cell {i}:\n" + "\n".join(wrong[:10])
        checked += 1
    return checked


def outputs_shown(page: Any, when: str) -> None:
    no_broken_outputs(page, f"{NAME} in Notebook 7 ({when})")
    for view in TUTORIALS[NAME]:
        check_view(page, view, f"{NAME} in Notebook 7 ({when})", shots=False)
    stderr = page.locator(STDERR).all_inner_texts()
    assert len(stderr) == FAILS_ON_PURPOSE[NAME], f"{when}: error outputs {stderr}"


def test_the_extension_is_enabled_for_notebook7(notebook7: Lab) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=server_env(notebook7.root.parent),  # the server's own configuration
    )
    listed = done.stdout + done.stderr
    lines = [line for line in listed.splitlines() if re.search(r"\bchainmagic v", line)]
    assert len(lines) == 1 and "enabled" in lines[0] and "OK" in lines[0], listed
    assert "@jupyter-notebook/lab-extension" in listed  # the same list is Notebook 7's


@pytest.fixture
def page(notebook7: Lab, browser: Any) -> Iterator[Any]:
    with browser_page(browser) as page:
        yield page


def test_quickstart_runs_saves_and_reopens_in_notebook7(
    page: Any, browser: Any, notebook7: Lab
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    open_notebook(page, notebook7)
    config = json.loads(page.locator("#jupyter-config-data").text_content())
    assert config["appName"] == "Jupyter Notebook", config["appName"]
    assert "chainmagic" in [e["name"] for e in config["federated_extensions"]]
    disabled = config.get("disabledExtensions") or []
    assert not any(name.startswith("chainmagic") for name in disabled), disabled

    run_all(page, lambda page: settled(page, notebook7))
    screenshot(page, "notebook7-01_quickstart")
    outputs_shown(page, "run")
    assert chain_cells_highlighted(page) >= 2
    cell_of(page, "%%chain map_chain").screenshot(path=str(SHOTS / "notebook7-map_chain.png"))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": TALL})  # every cell laid out
    page.wait_for_timeout(300)
    check_looks(page, f"{NAME} in Notebook 7", "light")
    page.set_viewport_size(VIEWPORT)

    # Save: the file on disk changes, and holds the outputs as static HTML, no widget view.
    path = notebook7.root / NAME
    before = path.stat().st_mtime_ns
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + OPEN_TIMEOUT / 1000
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(0.2)
    time.sleep(0.5)  # the server writes the file in one go; give a slow disk its moment
    saved = json.loads(path.read_text())
    outputs = [o for c in saved["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if WIDGET in o.get("data", {})], "a widget view was saved"
    assert sum("text/html" in o.get("data", {}) for o in outputs) >= 4

    menu(page, "File", "Close and Shut Down Notebook…")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    deadline = time.monotonic() + 30
    while notebook7.api("kernels"):
        assert time.monotonic() < deadline, f"kernels left: {notebook7.api('kernels')}"
        time.sleep(0.2)

    # Reopened with a new kernel and no widget state: what shows comes from the file alone.
    with browser_page(browser) as again:
        open_notebook(again, notebook7)
        again.wait_for_timeout(1000)  # a widget view would have failed to render by now
        screenshot(again, "notebook7-01_quickstart-reopened")
        outputs_shown(again, "reopened")
        assert chain_cells_highlighted(again) >= 2
        set_theme(again, "JupyterLab Dark")  # Notebook 7 has JupyterLab's themes, and its menu
        again.set_viewport_size({"width": VIEWPORT["width"], "height": TALL})
        again.wait_for_timeout(300)
        check_looks(again, f"{NAME} in Notebook 7", "dark")
        again.set_viewport_size(VIEWPORT)
        cell_of(again, "%%chain map_chain").screenshot(path=str(SHOTS / "notebook7-dark.png"))
        set_theme(again, "JupyterLab Light")  # the theme is a user setting: leave it as found
        errors = [e for e in page.errors + again.errors if not NOTEBOOK7_OWN.match(e)]
    assert not errors, "the page logged errors:\n" + "\n".join(errors)
