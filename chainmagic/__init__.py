"""chainmagic: compose, run and time LLM chains in Jupyter.

``%load_ext chainmagic`` registers the ``%%chain`` and ``%chaintime`` magics. The runnable core
(``chainmagic.core``) works on its own, without IPython.
"""

from __future__ import annotations

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
]
