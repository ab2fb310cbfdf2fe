"""``python -m bench.conformance``: LangChain's own unit tests, run against chainmagic.core.

Nothing of LangChain is kept in the repository: the langchain-core sdist is downloaded from PyPI
into a cache directory at run time, a selection of its unit tests runs unmodified, and an import
shim answers ``langchain_core.*`` imports with chainmagic's objects of the same name. A name
chainmagic does not have becomes a stand-in that fails when used, so only the tests that need it
fail. The test tools LangChain's suite needs (syrupy, pytest-mock, blockbuster, freezegun) are
installed next to the download, never into the project's environment. Not part of ``make test``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

VERSION = "1.8.3"
CACHE = Path(os.environ.get("CHAINMAGIC_CONFORMANCE_CACHE", Path.home() / ".cache/chainmagic-lc"))
TOOLS = ["syrupy", "pytest-mock", "blockbuster", "freezegun"]
SELECTED = [
    "prompts/test_chat.py",
    "prompts/test_prompt.py",
    "prompts/test_image.py",
    "output_parsers/test_json.py",
    "output_parsers/test_base_parsers.py",
    "runnables/test_fallbacks.py",
    "messages/test_ai.py",
]

SHIM = '''"""Answers langchain_core imports with chainmagic's objects of the same name."""
import importlib.abc
import importlib.machinery
import sys
import types

import chainmagic.core as _core
from chainmagic.core import (
    chat_prompts, image_prompts, json_text, lambdas, messages, parallel, parser_bases, parsers,
    passthrough, prompt_values, prompts, runnable, sequence, serialization, string_prompts,
    wrappers,
)
from chainmagic.core.models import scripted

TABLE = {}
for _mod in (
    messages, prompt_values, string_prompts, chat_prompts, image_prompts, prompts, parsers,
    parser_bases, json_text, serialization, runnable, sequence, parallel, passthrough, lambdas, wrappers,
    scripted, _core,
):
    for _name in dir(_mod):
        if not _name.startswith("_"):
            TABLE.setdefault(_name, getattr(_mod, _name))
TABLE["OutputParserException"] = parsers.OutputParserException
# Private names LangChain's tests import, mapped to chainmagic's public function of the same job.
TABLE["_convert_to_message_template"] = chat_prompts.message_template
# Constants of LangChain's test set-up, not features: the installed pydantic's version.
import pydantic as _pydantic
from packaging.version import parse as _parse

TABLE["PYDANTIC_VERSION"] = _parse(_pydantic.VERSION)
TABLE["PYDANTIC_MAJOR_VERSION"] = _parse(_pydantic.VERSION).major


def _missing(name):
    if name.endswith("Warning"):  # pytest's warning filters name LangChain's warning classes
        return type(name, (Warning,), {})
    if name.endswith(("Error", "Exception")):
        return type(name, (Exception,), {})

    def fail(*args, **kwargs):
        raise NotImplementedError(f"chainmagic has no {name}")

    return type(name, (), {"__init__": fail, "__call__": fail})


def _lookup(module, name):
    if name.startswith("__"):
        raise AttributeError(name)
    value = TABLE.get(name)
    if value is None:
        value = _missing(name)
    setattr(module, name, value)
    return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.startswith("langchain_core."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda name: _lookup(module, name)
        return module

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _Finder())
__path__ = []


def __getattr__(name):
    return _lookup(sys.modules[__name__], name)
'''


NO_BLOCKBUSTER = """import pytest


@pytest.fixture(autouse=True)
def blockbuster():
    yield None
"""


def fetch() -> Path:
    """The unpacked sdist (downloaded once into the cache) and the test tools beside it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / f"langchain_core-{VERSION}"
    if not root.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"langchain-core=={VERSION}",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
        with tarfile.open(CACHE / f"langchain_core-{VERSION}.tar.gz") as archive:
            archive.extractall(CACHE, filter="data")
    tools = CACHE / "tools"
    if not tools.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(tools), *TOOLS],
            check=True,
        )
    shim = CACHE / "shim" / "langchain_core"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text(SHIM, encoding="utf-8")
    # The tests alone, away from the sdist's own langchain_core package (which must not load).
    suite = CACHE / "suite"
    if not suite.exists():
        shutil.copytree(root / "tests", suite / "tests")
        shutil.copy(root / "pyproject.toml", suite / "pyproject.toml")
    # LangChain's suite watches for blocking calls with blockbuster, which cannot patch this
    # interpreter; a conftest of ours one level down turns that fixture off (and nothing else).
    for folder in {Path(name).parent for name in SELECTED}:
        conftest = suite / "tests/unit_tests" / folder / "conftest.py"
        before = conftest.read_text(encoding="utf-8") if conftest.exists() else ""
        if "def blockbuster" not in before:
            conftest.write_text(before + "\n\n" + NO_BLOCKBUSTER, encoding="utf-8")
    return suite


def main() -> int:
    root = fetch()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(CACHE / "shim"), str(CACHE / "tools"), str(root)]),
        "CHAINMAGIC_SHIM": "1",
    }
    total_passed = total = 0
    for name in SELECTED:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "--rootdir",
                str(root),
                f"tests/unit_tests/{name}",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
        passed = sum(int(n) for n in re.findall(r"(\d+) passed", tail))
        ran = passed + sum(int(n) for n in re.findall(r"(\d+) (?:failed|error|errors)", tail))
        total_passed, total = total_passed + passed, total + ran
        print(f"{name:<40} {passed:>4} of {ran:<4} {tail}")
    print(f"{'chainmagic passes':<40} {total_passed:>4} of {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
