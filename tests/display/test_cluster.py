"""The lines a distributed batch adds to the batch view (and that a local one does not get)."""

from __future__ import annotations

from chainmagic.display import batch_html, batch_text
from chainmagic.display._cluster import cluster_line, error_kinds
from chainmagic.errors import ChainRunError
from chainmagic.run import BatchResult, ChainResult


def a_batch(statuses: list[str], **fields) -> BatchResult:
    batch = BatchResult(name="m", size=len(statuses), **fields)
    for i, status in enumerate(statuses):
        result = ChainResult(name="m", input=i, status=status, output=i if status == "ok" else None)
        if status == "error":
            cause = TimeoutError("slow") if i % 2 else ValueError("bad")
            result.error = ChainRunError(cause, ["m", "model"])
        batch.results.append(result)
    return batch


def test_a_local_batch_shows_no_cluster_line():
    batch = a_batch(["ok", "ok"], total=1.0)
    assert cluster_line(batch) is None
    assert "dask" not in batch_text(batch) and "dashboard" not in batch_html(batch)


def test_a_running_distributed_batch_shows_pace_eta_and_errors_by_kind():
    statuses = ["ok"] * 6 + ["error"] * 3 + ["running"] * 9
    batch = a_batch(statuses, where="dask · 2 workers", elapsed=3.0)
    assert error_kinds(batch) == {"ValueError": 2, "TimeoutError": 1}
    assert cluster_line(batch) == (
        "dask · 2 workers · 3 rows/s · ETA 3.00 s · errors: ValueError ×2, TimeoutError ×1"
    )


def test_a_finished_distributed_batch_shows_its_rate_and_dashboard_link():
    link = "http://127.0.0.1:8787/status"
    batch = a_batch(["ok"] * 40, where="dask · 2 workers", total=2.0, dashboard=link)
    text = batch_text(batch).splitlines()
    assert text[1] == "dask · 2 workers · 20 rows/s"
    assert text[2] == f"dashboard: {link}"
    assert f'<a href="{link}" target="_blank" ' in batch_html(batch)


def test_a_dashboard_that_is_not_a_web_address_is_not_a_link():
    batch = a_batch(["ok"], where="dask", total=1.0, dashboard="javascript:alert(1)")
    assert "<a " not in batch_html(batch)
