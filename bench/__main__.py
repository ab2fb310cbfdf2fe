"""``python -m bench``: every benchmark row, chainmagic beside langchain-core, with ratios."""

from __future__ import annotations

import importlib
import sys

from bench.timing import Row, fmt

SECTIONS = (
    "bench.core_bench",
    "bench.dsl_bench",
    "bench.openai_bench",
    "bench.timing_bench",
    "bench.distributed_bench",
)


def main(argv: list[str]) -> int:
    wanted = [s for s in SECTIONS if not argv or any(a in s for a in argv)]
    print("reference: langchain-core (core rows), the raw openai client (openai rows),")
    print("           the true latency (chaintime rows); ratio = reference / chainmagic")
    print(f"{'row':<52} {'chainmagic':>11} {'reference':>11} {'ratio':>8} {'target':>9}  ok")
    failed = 0
    for name in wanted:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        for row in module.rows():
            failed += row.ok is False
            print(_line(row))
    return 1 if failed and "--strict" in argv else 0


def _line(row: Row) -> str:
    ratio = f"{row.ratio:.1f}x" if row.ratio else "—"
    ok = {True: "yes", False: "NO", None: ""}[row.ok]
    show = (lambda v: "—" if v is None else f"{v:.4g}") if row.unit == "n" else fmt
    if row.minimum is not None:
        target = f"≥ {show(row.minimum)}"
    else:
        target = f"≤ {show(row.target)}" if row.target else "—"
    return f"{row.label:<52} {show(row.ours):>11} {show(row.reference):>11} {ratio:>8} {target:>9}  {ok}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
