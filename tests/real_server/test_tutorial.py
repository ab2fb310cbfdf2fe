"""Tutorial 05 against the real server: its last section runs when ``REAL_OPENAI_BASE_URL`` is set.

Under nbval (``make nbval``) no real server is running and the cell says so; here one is, and the
cell must find the model the server serves, run the joke/poem map on it and time it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .served import Served

TUTORIAL = Path(__file__).resolve().parents[2] / "notebooks" / "05_real_models.ipynb"
REAL_CELL = "c05-24"


def test_tutorial_05_runs_its_chains_on_the_real_server(real_server: Served, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("REAL_OPENAI_BASE_URL", real_server.base_url)  # the kernel inherits it
    nb = nbformat.read(TUTORIAL, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(TUTORIAL.parent)}},
    )
    client.execute()
    cell = next(c for c in nb.cells if c.get("id") == REAL_CELL)
    seen = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for out in cell.outputs
    )
    assert not [out for out in cell.outputs if out.output_type == "error"], seen
    assert "the server serves: tiny-chat" in seen
    assert "cross the road" in seen  # the map's joke, from tiny-chat
    assert "real_map" in seen and "per run" in seen  # %chaintime's table
