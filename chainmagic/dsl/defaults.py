"""Settings the language reads when a cell does not say: the default chat model.

The magics expose these as ``%config ChainMagics.default_model``; plain Python can set them here.
``model`` is a ``provider:name`` spec or a ready chat model object. ``fake:chat`` answers offline
like a hosted chat model (a few hundred ms, seeded jitter, tokens streamed at a realistic rate), so
a first notebook's timings look like real ones; ``fake:echo`` is the same model with no latency.
"""

from __future__ import annotations

from typing import Any

model: Any = "fake:chat"
