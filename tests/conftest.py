"""Fixtures for the magics' tests: a real IPython shell with chainmagic loaded, and a real kernel.

``ipython`` runs cells through ``InteractiveShell.run_cell`` and captures what a notebook would see
(displayed bundles, stdout, stderr). ``kernel`` is one ipykernel for the whole session, driven by
nbclient cell by cell, so the kernel tests pay for a single kernel start.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"
TIME = re.compile(r"\d+(?:\.\d+)? (?:s|ms|µs|ns)\b")


def mask_times(text: str) -> str:
    """Measured times replaced by ``T`` (the way nbval's sanitizer would), the rest kept as is."""
    return TIME.sub("T", text)


# -- a real InteractiveShell ----------------------------------------------------------------------


@dataclass
class Ran:
    """What running one cell produced: IPython's result and everything the user would see."""

    result: Any
    outputs: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    @property
    def error(self) -> BaseException | None:
        return self.result.error_before_exec or self.result.error_in_exec

    @property
    def value(self) -> Any:
        return self.result.result

    @property
    def texts(self) -> list[str]:
        return [o.get("text/plain", "") for o in self.outputs]

    @property
    def text(self) -> str:
        """The one displayed ``text/plain`` (fails when the cell displayed more or less than one)."""
        assert len(self.outputs) == 1, self.outputs
        return self.outputs[0]["text/plain"]

    def seen(self) -> str:
        """Every character the cell showed: bundles in all their mime types, stdout, stderr."""
        parts = [self.stdout, self.stderr]
        for data in self.outputs:
            parts.extend(str(v) for v in data.values())
        return "\n".join(parts)


class Shell:
    """Runs cells in one ``InteractiveShell`` with chainmagic loaded, capturing their outputs."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.ns = shell.user_ns

    def __call__(self, source: str) -> Ran:
        from IPython.utils.capture import capture_output

        with capture_output() as captured:
            result = self.shell.run_cell(source, store_history=False)
        outputs = [dict(o.data) for o in captured.outputs]
        return Ran(result, outputs, captured.stdout, captured.stderr)

    def ok(self, source: str) -> Ran:
        """Run a cell that must succeed."""
        ran = self(source)
        assert ran.error is None, f"{ran.error!r}\n{ran.stdout}\n{ran.stderr}"
        return ran

    @property
    def magics(self) -> Any:
        from chainmagic.magics import ChainMagics

        return self.shell.magics_manager.registry[ChainMagics.__name__]


@pytest.fixture(scope="module")
def _module_shell() -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    existed = InteractiveShell.initialized()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    # The notebook's default model answers like a hosted one (~0.5 s); magics tests check what
    # the magics do, not how long a model takes, so they use the same model with no latency.
    config.ChainMagics.default_model = "fake:echo"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "chainmagic")
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "chainmagic")
        if not existed:
            InteractiveShell.clear_instance()


@pytest.fixture
def ipython(_module_shell: Any) -> Iterator[Shell]:
    """A real IPython shell with ``%load_ext chainmagic`` done; ChainMagics settings reset after."""
    runner = Shell(_module_shell)
    magics = runner.magics
    saved = {
        name: getattr(magics, name) for name in magics.trait_names() if _configurable(magics, name)
    }
    try:
        yield runner
    finally:
        _module_shell.config.pop("ChainMagics", None)  # where %config keeps what it set
        for name, value in saved.items():
            setattr(magics, name, value)


def _configurable(obj: Any, name: str) -> bool:
    return bool(obj.trait_metadata(name, "config"))


# -- a real kernel, driven by nbclient ------------------------------------------------------------


class Kernel:
    """One ipykernel (the current interpreter) that runs cells one at a time through nbclient."""

    def __init__(self) -> None:
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from nbclient import NotebookClient

        specs = KernelSpecManager().find_kernel_specs()
        assert "python3" in specs, f"no python3 kernelspec (ipykernel installs one): {specs}"
        self.nb = nbformat.v4.new_notebook()
        self.client = NotebookClient(
            self.nb,
            kernel_name="python3",
            timeout=60,
            timeout_func=lambda cell: cell.metadata.get("timeout", 60),
            interrupt_on_timeout=True,  # a cell's own short timeout interrupts the kernel
            allow_errors=True,
            resources={"metadata": {"path": str(ROOT)}},
            on_cell_executed=self._executed,
        )
        self.reply: dict[str, Any] = {}
        self._context = self.client.setup_kernel()
        self._context.__enter__()

    def run(self, source: str, *, timeout: float | None = None) -> tuple[list[Any], float]:
        """Execute one cell; its outputs (nbformat dicts) and how long it took, in seconds.

        With ``timeout``, the kernel is interrupted once the cell has run that long. The kernel's
        execute reply (``status``, ``ename``) is kept in :attr:`reply`.
        """
        import nbformat

        cell = nbformat.v4.new_code_cell(source)
        if timeout is not None:
            cell.metadata["timeout"] = timeout
        self.nb.cells.append(cell)
        self.reply = {}
        start = time.perf_counter()
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return cell.outputs, time.perf_counter() - start

    def _executed(self, cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        self.reply = execute_reply["content"]

    @property
    def widget_state(self) -> dict[str, dict[str, Any]]:
        return self.client.widget_state

    def close(self) -> None:
        self._context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def kernel() -> Iterator[Kernel]:
    """A kernel with ``%load_ext chainmagic`` done and ``FakeChatModel`` imported."""
    pytest.importorskip("nbclient")
    kernel = Kernel()
    try:
        outputs, _ = kernel.run("%load_ext chainmagic\nfrom chainmagic.core import FakeChatModel")
        assert outputs == [], outputs
        yield kernel
    finally:
        kernel.close()


@pytest.fixture
def run_kernel(kernel: Kernel) -> Callable[..., tuple[list[Any], float]]:
    return kernel.run


@pytest.fixture
def mask() -> Callable[[str], str]:
    """Measured times in a text replaced by ``T``."""
    return mask_times
