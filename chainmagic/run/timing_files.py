"""The files a timing result is kept and exported as: its own JSON, CSV and hyperfine's JSON.

The JSON holds the raw runs (never the derived rows), with each distinct output stored once per
chain, errors as their kind and one redacted line, and inputs masked where they hold a key: it
travels in the saved notebook (``application/vnd.chainmagic.timing+json``). ``from_json`` checks the
format and version and gives the pieces :class:`~chainmagic.run.timing_result.TimingResult` is
built from, so this module needs nothing of that class but its attributes.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

from chainmagic.run.timing import BranchRun, ChainTiming, RunRecord, rebuild_error

__all__ = ["CSV_COLUMNS", "JSON_VERSION", "csv_text", "from_json", "hyperfine_json", "json_dict"]

JSON_VERSION = 1
CSV_COLUMNS = (
    "chain", "model", "concurrency", "round", "status", "total", "ttft", "itl", "tpot",
    "output_tokens", "tokens_per_s", "error_kind", "critical",
)  # fmt: skip


def json_dict(result: Any) -> dict[str, Any]:
    """Everything ``result`` measured, as JSON-ready data."""
    return {
        "format": "chainmagic.timing",
        "version": JSON_VERSION,
        "stat": result.stat,
        "baseline": result.baseline,
        "precision": result.precision,
        "runs_requested": result.runs_requested,
        "warmup": result.warmup,
        "stopped_by": result.stopped_by,
        "rel_ci": result.rel_ci,
        "slo": dict(result.slo),
        "columns": result.columns,
        "input": _plain(result.input),
        "orders": [list(o) for o in result.orders],
        "chains": [_timing_dict(t) for t in result.chains.values()],
        "load": [_level_dict(level) for level in result.load],
    }


def from_json(data: str | dict[str, Any]) -> tuple[dict[str, ChainTiming], dict[str, Any]]:
    """The chains and the other fields of a result, from :func:`json_dict`'s data (or its text)."""
    try:
        raw = json.loads(data) if isinstance(data, str) else data
        if not isinstance(raw, dict) or raw.get("format") != "chainmagic.timing":
            raise ValueError("not a chainmagic timing result")
        if raw.get("version") != JSON_VERSION:
            raise ValueError(f"timing format version {raw.get('version')!r} is not supported")
        chains = {c["label"]: _timing_from(c) for c in raw["chains"]}
        return chains, {
            "input": raw["input"],
            "stat": raw["stat"],
            "baseline": raw["baseline"],
            "orders": [list(o) for o in raw["orders"]],
            "runs_requested": raw["runs_requested"],
            "warmup": raw["warmup"],
            "precision": raw["precision"],
            "stopped_by": raw["stopped_by"],
            "rel_ci": raw["rel_ci"],
            "slo": dict(raw["slo"]),
            "load": [_level_from(level) for level in raw["load"]],
            "columns": raw["columns"],
        }
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a complete chainmagic timing result ({exc!r})") from None


def csv_text(result: Any) -> str:
    """One line per run of ``result`` (interleaved rounds, then load levels)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def emit(label: str, model: str | None, concurrency: int | None, r: Any) -> None:
        writer.writerow([
            label, model or "", "" if concurrency is None else concurrency, r.round,
            r.status, r.total, _blank(r.ttft), _blank(r.itl), _blank(r.tpot),
            _blank(r.output_tokens), _blank(r.tokens_per_s), r.error_kind or "",
            r.critical or "",
        ])  # fmt: skip

    for label, t in result.chains.items():
        for r in t.records:
            emit(label, t.model, None, r)
    for level in result.load:
        model = result.chains[level.label].model if level.label in result.chains else None
        for r in level.records:
            emit(level.label, model, level.concurrency, r)
    return out.getvalue()


def hyperfine_json(result: Any, indent: int | None = 2) -> str:
    """``result`` in hyperfine's export shape."""
    results = []
    for label, t in result.chains.items():
        runs = t.all_runs
        results.append({
            "command": label,
            "mean": t.average if runs else None,
            "stddev": t.stdev if len(runs) > 1 else None,
            "median": t.median if runs else None,
            "min": t.best if runs else None,
            "max": t.worst if runs else None,
            "times": list(runs),
            "exit_codes": [0 if r.ok else 1 for r in t.records] or [0] * len(runs),
        })  # fmt: skip
    return json.dumps({"results": results}, indent=indent, ensure_ascii=False)


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _plain(value: Any) -> Any:
    """``value`` if JSON keeps it exactly, else its repr (an input is data, not always JSON); masked
    where it holds something like an API key (the JSON travels into the saved notebook)."""
    from chainmagic.errors import redact

    try:
        text = json.dumps(value)
        if json.loads(text) == value and redact(text) == text:
            return value
    except (TypeError, ValueError, RecursionError):
        pass
    return redact(repr(value))


def _record_dict(r: RunRecord) -> dict[str, Any]:
    return asdict(r)


def _record_from(d: dict[str, Any], texts: list[str] | None = None) -> RunRecord:
    fields = dict(d)
    if texts is not None and isinstance(fields.get("output"), int):
        fields["output"] = texts[fields["output"]]
    fields["branches"] = {k: BranchRun(**b) for k, b in d.get("branches", {}).items()}
    return RunRecord(**fields)


def _records_dicts(records: list[RunRecord], texts: dict[str, int]) -> list[dict[str, Any]]:
    """Records as dicts, each output replaced by its index in ``texts`` (filled here): a chain that
    answers alike 500 times stores its answer once."""
    out = []
    for r in records:
        d = _record_dict(r)
        if r.output is not None:
            d["output"] = texts.setdefault(r.output, len(texts))
        out.append(d)
    return out


def _timing_dict(t: ChainTiming) -> dict[str, Any]:
    texts: dict[str, int] = {}
    return {
        "label": t.label,
        "model": t.model,
        "failures": t.failures,
        "all_runs": list(t.all_runs),
        "ttfts": list(t.ttfts),
        "branches": {k: list(v) for k, v in t.branches.items()},
        "warmup_runs": list(t.warmup_runs),
        "records": _records_dicts(t.records, texts),
        "outputs": list(texts),
    }


def _timing_from(d: dict[str, Any]) -> ChainTiming:
    timing = ChainTiming(
        d["label"],
        all_runs=list(d["all_runs"]),
        ttfts=list(d["ttfts"]),
        branches={k: list(v) for k, v in d["branches"].items()},
        failures=d["failures"],
        records=[_record_from(r, d["outputs"]) for r in d["records"]],
        warmup_runs=list(d["warmup_runs"]),
        model=d["model"],
    )
    failed = [r for r in timing.records if not r.ok]
    if failed:
        timing.last_error = rebuild_error(failed[-1])
    return timing


def _level_dict(level: Any) -> dict[str, Any]:
    texts: dict[str, int] = {}
    data = {k: v for k, v in level.__dict__.items() if k != "records"}
    data["records"] = _records_dicts(level.records, texts)
    data["outputs"] = list(texts)
    return data


def _level_from(d: dict[str, Any]) -> Any:
    from chainmagic.run.load import LoadLevel

    fields = {k: v for k, v in d.items() if k not in ("records", "outputs")}
    return LoadLevel(**fields, records=[_record_from(r, d["outputs"]) for r in d["records"]])
