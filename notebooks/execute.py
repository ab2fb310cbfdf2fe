"""Execute the tutorials and save them with their outputs: ``make notebooks`` runs this.

    python notebooks/execute.py                 # every notebook here, in place
    python notebooks/execute.py 02_parallel.ipynb
    python notebooks/execute.py --out DIR       # write executed copies to DIR instead

Each notebook runs top to bottom in a fresh kernel of *this* interpreter (so the venv that runs the
script is the one under test), from the notebooks folder. Per-cell timing metadata is not stored,
so re-running changes only what the code prints. No widget state is stored either: a finished
output is static text and HTML, and the live view before it is closed, so no state is worth
keeping. A cell tagged ``raises-exception`` may fail (it shows an error on purpose); any other
error stops with the cell's traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def execute(path: Path, out: Path | None = None, timeout: float = 600.0) -> Path:
    """Run ``path`` in a fresh kernel and write the executed notebook to ``out`` (default: itself)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("widgets", None)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        record_timing=False,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    target = out or path
    nbformat.validate(nb)
    nbformat.write(nb, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every *.ipynb here")
    parser.add_argument("--out", type=Path, default=None, help="write copies to this folder")
    args = parser.parse_args(argv)
    paths = [p if p.is_absolute() else Path.cwd() / p for p in args.notebooks]
    if not paths:
        paths = sorted(HERE.glob("[0-9]*.ipynb"))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        start = time.perf_counter()
        target = execute(path, args.out / path.name if args.out is not None else None)
        print(f"{target}: {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
