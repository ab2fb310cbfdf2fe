"""``%load_ext chainmagic`` / ``%unload_ext`` / ``%reload_ext``, and what the package exports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.magic import MAGIC_NO_VAR_EXPAND_ATTR

import chainmagic

MAGICS = {"line": {"chain", "chaintime"}, "cell": {"chain", "chaintime"}}


@pytest.fixture
def bare_shell(_module_shell: Any) -> Iterator[Any]:
    """The module's shell with chainmagic unloaded; loaded again afterwards, settings reset."""
    _module_shell.run_line_magic("unload_ext", "chainmagic")
    try:
        yield _module_shell
    finally:
        _module_shell.config.pop("ChainMagics", None)
        _module_shell.run_line_magic("reload_ext", "chainmagic")


def registered(shell: Any) -> dict[str, set[str]]:
    magics = shell.magics_manager.magics
    return {kind: MAGICS[kind] & set(magics[kind]) for kind in MAGICS}


def test_load_registers_both_magics_in_line_and_cell_form(bare_shell: Any) -> None:
    assert registered(bare_shell) == {"line": set(), "cell": set()}
    bare_shell.run_line_magic("load_ext", "chainmagic")
    assert registered(bare_shell) == MAGICS
    assert "chainmagic" in bare_shell.extension_manager.loaded


def test_unload_removes_them_and_reload_brings_them_back(bare_shell: Any) -> None:
    bare_shell.run_line_magic("load_ext", "chainmagic")
    bare_shell.run_line_magic("unload_ext", "chainmagic")
    assert registered(bare_shell) == {"line": set(), "cell": set()}
    assert not bare_shell.run_cell("%chain passthrough -i x=1", store_history=False).success
    bare_shell.run_line_magic("reload_ext", "chainmagic")
    assert registered(bare_shell) == MAGICS


def test_loading_twice_is_harmless(bare_shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bare_shell.run_line_magic("load_ext", "chainmagic")
    bare_shell.run_line_magic("load_ext", "chainmagic")
    assert registered(bare_shell) == MAGICS
    assert "already loaded" in capsys.readouterr().out


def test_settings_made_with_config_survive_a_reload(bare_shell: Any) -> None:
    bare_shell.run_line_magic("load_ext", "chainmagic")
    bare_shell.run_line_magic("config", 'ChainMagics.default_model = "fake:kept"')
    bare_shell.run_line_magic("reload_ext", "chainmagic")
    magics = bare_shell.magics_manager.registry["ChainMagics"]
    assert magics.default_model == "fake:kept"


def test_the_magics_do_not_expand_variables(ipython: Any) -> None:
    for kind in ("line", "cell"):
        for name in ("chain", "chaintime"):
            func = ipython.shell.magics_manager.magics[kind][name]
            assert getattr(func, MAGIC_NO_VAR_EXPAND_ATTR, False), (kind, name)


def test_the_public_names() -> None:
    assert sorted(chainmagic.__all__) == [
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
    for name in chainmagic.__all__:
        assert getattr(chainmagic, name) is not None


def test_importing_the_package_loads_neither_ipython_nor_the_heavy_libraries() -> None:
    code = (
        "import sys, chainmagic; "
        "print(sorted(m for m in ('IPython', 'ipywidgets', 'openai', 'faiss', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
