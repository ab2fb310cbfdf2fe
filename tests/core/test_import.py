"""Importing chainmagic (or its core) loads none of the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["openai", "faiss", "numpy", "IPython", "ipywidgets"]


def loaded_after(statement: str) -> list[str]:
    """The heavy top-level packages a fresh interpreter has loaded after ``statement``."""
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "statement",
    [
        "import chainmagic.core",
        "import chainmagic",
        "from chainmagic.core import RunnableParallel, FakeChatModel, ChatPromptTemplate",
        "import chainmagic.core as c; c.init_chat_model('fake:echo').invoke('hi')",
        "from chainmagic.core import RunnableParallel as P; P(a=lambda x: x).invoke(1)",
    ],
)
def test_no_heavy_import(statement):
    assert loaded_after(statement) == []


def test_the_check_itself_can_fail():
    assert loaded_after("import json as _; import numpy") == ["numpy"]
