"""The editor extension as installed: JupyterLab lists it enabled, and it carries today's token rules.

``pip install`` builds the extension from ``labextension/`` and puts it under
``share/jupyter/labextensions/chainmagic``; these checks read what the install left there, so a
stale or missing build (or a version out of step with the package) fails here, before any browser.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import chainmagic
from chainmagic.dsl.highlight import token_rules

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "chainmagic"


def test_jupyterlab_lists_the_extension_enabled() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "chainmagic" in line]
    assert len(lines) == 1, done.stdout + done.stderr
    assert f"chainmagic v{chainmagic.__version__}" in lines[0]
    assert "enabled" in lines[0] and "OK" in lines[0], lines[0]


def test_the_installed_bundle_is_this_version_built_from_these_rules() -> None:
    meta = json.loads((INSTALLED / "package.json").read_text())
    source = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert meta["name"] == source["name"] == "chainmagic"
    assert meta["version"] == source["version"] == chainmagic.__version__
    bundle = "\n".join(p.read_text() for p in (INSTALLED / "static").glob("*.js"))
    rules = token_rules()
    for word in [*rules["patterns"], *rules["classes"], rules["mimeType"], rules["cssPrefix"]]:
        assert word in bundle, f"{word!r} is not in the built extension: rebuild it (pip install)"
    for pattern in rules["patterns"].values():
        escaped = json.dumps(pattern)[1:-1].replace("\\", "\\\\").replace("'", "\\'")
        assert escaped in bundle, f"pattern {pattern!r} differs in the built extension"
