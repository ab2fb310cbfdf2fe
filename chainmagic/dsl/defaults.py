"""Settings the language reads when a cell does not say: the default chat model.

The magics expose these as ``%config ChainMagics.default_model``; plain Python can set them here.
``model`` is a ``provider:name`` spec or a ready chat model object.
"""

from __future__ import annotations

from typing import Any

model: Any = "fake:echo"
