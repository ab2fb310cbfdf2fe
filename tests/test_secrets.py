"""No key in any output, view, repr, pickle or saved notebook: the one secrets policy, end to end.

Unit tests of :mod:`chainmagic.secrets`, then a real kernel (nbclient) running a notebook that
provokes every way out — a step's error text in result views, a Python traceback with a cause
chain, ``%xmode Verbose`` locals, a server echoing the key in its 401 body, reprs, ``to_dict``,
batch and timing views, widget state — and the saved ``.ipynb`` grepped for every key.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from chainmagic.secrets import MASK, is_secret_name, redact, redact_mapping

KEY = "sk-proj-" + "A1b2C3d4" * 6
OTHER_KEY = "sk-" + "Zy9X" * 10
HEX_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
BEARER = "eyJhbGciOi" + "q" * 30


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"Incorrect API key provided: {KEY}.", KEY),
        (f"key {OTHER_KEY} refused", OTHER_KEY),
        (f"Authorization: Bearer {BEARER}", BEARER),
        (f"http://127.0.0.1:8000/v1?api-key={HEX_KEY}&x=1", HEX_KEY),
        ("https://h/openai?key=abcdef0123456789", "abcdef0123456789"),
        (f"{{'api-key': '{HEX_KEY}'}}", HEX_KEY),
        ('{"api_key": "plain-secret-value"}', "plain-secret-value"),
        ("api_key=hunter2hunter2", "hunter2hunter2"),
        (f"ValueError: bad header {HEX_KEY}", HEX_KEY),
    ],
)
def test_every_kind_of_key_is_masked(text: str, leaked: str) -> None:
    masked = redact(text)
    assert leaked not in masked
    assert MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "missing input key: topic",
        "unexpected token: '|'",
        "commit 0123456789abcdef0123456789abcdef01234567",  # 40 hex digits: a commit, not a key
        "tell me a joke about bears",
        "the sk-ies are blue",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_header_names() -> None:
    assert is_secret_name("Authorization")
    assert is_secret_name("api-key")
    assert is_secret_name("X-Api-Key")
    assert not is_secret_name("content-type")
    assert redact_mapping({"api-key": HEX_KEY, "x-team": "a"}) == {"api-key": MASK, "x-team": "a"}


def test_models_never_show_or_pickle_a_key() -> None:
    from chainmagic.core import ChatOpenAI

    model = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=f"http://127.0.0.1:9/v1?api-key={HEX_KEY}",
        api_key=KEY,
        default_headers={"api-key": HEX_KEY, "x-team": "research"},
    )
    assert HEX_KEY not in repr(model)
    assert KEY not in repr(model)
    data = pickle.dumps(model)
    for secret in (KEY, HEX_KEY):
        assert secret.encode() not in data
    again = pickle.loads(data)
    assert again._connection.headers == {"x-team": "research"}  # other headers travel


# -- a real kernel, a saved notebook ------------------------------------------------------------

CELLS = [
    "%load_ext chainmagic\n"
    "from chainmagic.core import RunnableLambda, ChatOpenAI\n"
    "import os\n"
    "KEY = os.environ['CHAINMAGIC_TEST_KEY']\n"
    "HEX = os.environ['CHAINMAGIC_TEST_HEX']\n"
    "def leaky(x):\n"
    "    raise ValueError(f'refused key {KEY} with header api-key: {HEX}')\n"
    "leak = RunnableLambda(leaky)\n"
    "echo = RunnableLambda(lambda x: f'Bearer token: {KEY}')",
    # a step raising with the key: the error line, the result view, -v and to_dict
    '%%chain failing -i topic=bear -v kept\njoke: "a joke about {topic}" | model\nbad: leak\n',
    "kept.to_dict()",
    "kept",
    # an output that holds the key
    "%chain echo -i 1",
    # a batch whose rows fail with the key
    "%chain leak --batch '[1, 2]'",
    # a timing table whose runs fail with the key
    "%chaintime -n 2 -w 0 -i 1 leak echo",
    # a plain Python traceback with a cause chain
    "try:\n    leaky(1)\nexcept ValueError as exc:\n    raise RuntimeError(f'wrapped {KEY}') from exc",
    # verbose tracebacks show locals
    "%xmode Verbose",
    "def call_with(secret):\n    local_key = secret\n    raise KeyError('nope')\ncall_with(KEY)",
    "%xmode Context",
    # a server that echoes the key in its 401 body, through the real openai client
    "model = ChatOpenAI(model='gpt-4o-mini', base_url=os.environ['CHAINMAGIC_TEST_URL'])\n"
    "model.invoke('hi')",
    '%chain "say {x}" | model -i x=1',
    # reprs of models with keys in their URL and headers
    "ChatOpenAI(model='m', base_url=os.environ['CHAINMAGIC_TEST_URL'] + '?api-key=' + HEX, "
    "default_headers={'api-key': HEX})",
    '%chain "say {x}" | model --to-python',
]


def test_a_saved_notebook_holds_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from chainmagic.testing.server import OpenAIServer

    with OpenAIServer(api_key=KEY, max_lifetime=300) as server:
        server.fail_next(count=50, status=401, message=f"Incorrect API key provided: {KEY}")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("CHAINMAGIC_TEST_KEY", KEY)
        monkeypatch.setenv("CHAINMAGIC_TEST_HEX", HEX_KEY)
        monkeypatch.setenv("CHAINMAGIC_TEST_URL", server.base_url)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
        client = nbclient.NotebookClient(
            nb,
            kernel_name="python3",
            timeout=120,
            allow_errors=True,
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = json.loads(path.read_text())
    outputs = json.dumps([cell.get("outputs", []) for cell in saved["cells"]])
    metadata = json.dumps(saved["metadata"])  # widget state lives here
    for secret in (KEY, HEX_KEY, KEY[8:20], HEX_KEY[:16]):
        assert secret not in outputs
        assert secret not in metadata
    # and the paths did run: each provoking cell shows its (masked) error or output
    errors = [
        o for c in saved["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    names = {o["ename"] for o in errors}
    assert {"ChainRunError", "RuntimeError", "KeyError"} <= names, names
    assert "sk-**********" in outputs
    assert MASK in outputs


def _texts(outputs: list[dict[str, Any]]) -> str:
    return json.dumps(outputs)
