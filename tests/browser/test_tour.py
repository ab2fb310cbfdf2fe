"""The README's tour, typed as written into a fresh notebook in JupyterLab: it runs, shows what the
README says, and the README's pictures are taken from it (build/screenshots/result-widget.png and
chaintime-table.png; copied to docs/images/ by hand after a look)."""

from __future__ import annotations

import re
from typing import Any

import nbformat

from .conftest import ROOT
from .test_tutorials import SHOTS, cell_of, run_all, wait_idle

TOUR = re.compile(r"## A 20-second tour\n(.*?)\n## ", re.S)
BLOCK = re.compile(r"```\n(.*?)```", re.S)


def tour_cells() -> list[str]:
    """The code blocks of the README's tour, in order: what a reader types."""
    readme = (ROOT / "README.md").read_text()
    match = TOUR.search(readme)
    assert match, "the README has no '## A 20-second tour' section"
    return [block.strip() for block in BLOCK.findall(match.group(1))]


def test_the_readme_tour_runs_as_written(page: Any, lab: Any) -> None:
    cells = tour_cells()
    assert cells[0] == "%load_ext chainmagic" and len(cells) == 3
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {  # else JupyterLab asks which kernel to start
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(nb, lab.root / "tour.ipynb")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(lab.tree("tour.ipynb"))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    wait_idle(page)
    if page.locator("#jp-left-stack").is_visible():
        page.keyboard.press("Control+b")
    run_all(page)
    page.wait_for_timeout(500)
    result = cell_of(page, cells[1])
    assert result.locator(".chainmagic-card").count() == 2
    assert "tell me a joke about bear" in result.inner_text()
    result.screenshot(path=str(SHOTS / "result-widget.png"))
    timing = cell_of(page, cells[2])
    text = timing.locator(".jp-OutputArea").inner_text()
    for label in ("joke_chain", "poem_chain", "map_chain"):
        assert label in text
    # What the README says: the map costs about its slowest branch, not the sum of both.
    speedup = re.search(r"map_chain: (\d+\.\d+)× faster than its branches", text)
    assert speedup and float(speedup.group(1)) > 1.3, text
    timing.screenshot(path=str(SHOTS / "chaintime-table.png"))
    assert not page.locator(".jp-OutputArea-output[data-mime-type*='stderr']").count()
