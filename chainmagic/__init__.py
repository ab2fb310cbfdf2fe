"""chainmagic: compose, run and time LLM chains in Jupyter.

``%load_ext chainmagic`` registers the ``%%chain`` and ``%chaintime`` magics. The runnable core
(``chainmagic.core``) works on its own, without IPython.
"""

from __future__ import annotations

from typing import Any

from chainmagic.errors import (
    ChainError,
    ChainNameError,
    ChainRunError,
    ChainSyntaxError,
    MissingCredentialsError,
    ModelError,
)

__version__ = "0.1.0"

__all__ = [
    "ChainError",
    "ChainNameError",
    "ChainRunError",
    "ChainSyntaxError",
    "MissingCredentialsError",
    "ModelError",
    "__version__",
    "last_result",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext chainmagic``: register the chain magics, and completion and help in their cells."""
    from chainmagic import completion, input_lines, tracebacks
    from chainmagic.display.register import register
    from chainmagic.magics import ChainMagics

    ipython.register_magics(ChainMagics)
    register(ipython)
    completion.register(ipython)
    tracebacks.install(ipython)
    input_lines.install(ipython)


def last_result() -> Any:
    """The result of the latest magic run (``ChainResult``, ``BatchResult``, ``TimingResult``).

    Kept even when the run failed or was interrupted, so what finished is never lost: a failing
    ``r = %chain ... -o`` assigns nothing, ``chainmagic.last_result()`` still has it.
    """
    from chainmagic.magics import last_result as last

    return last()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext chainmagic``: remove the magics (and the result formatters) again."""
    from chainmagic.display.register import unregister

    unregister(ipython)
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        for name in ("chain", "chaintime"):
            manager.magics[kind].pop(name, None)
    manager.registry.pop("ChainMagics", None)
    from chainmagic import completion, input_lines, tracebacks

    completion.unregister(ipython)
    tracebacks.uninstall(ipython)
    input_lines.uninstall(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the editor extension (``jupyter labextension develop`` uses it)."""
    return [{"src": "labextension", "dest": "chainmagic"}]
