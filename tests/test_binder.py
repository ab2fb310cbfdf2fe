"""Binder's build, rehearsed: a fresh virtualenv from binder/'s files alone runs every tutorial.

repo2docker copies the repository, then (because binder/requirements.txt names the local path
``.``) runs ``pip install -r binder/requirements.txt`` from the repository's root in its Python
environment, the one JupyterLab and the kernel share. Here the same happens in a new virtualenv on
a copy of the working tree; then each tutorial is executed in that environment (nbclient, a kernel
of the new interpreter) and JupyterLab there must carry the ipywidgets frontend.

pip may use its cache and the machine's configured indexes, so a rerun costs about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    ".ipynb_checkpoints", "node_modules",
)  # fmt: skip
REPO2DOCKER_FILES = {"requirements.txt", "runtime.txt", "postBuild", "apt.txt", "start"}
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 600


def run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done.stdout


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(the repository's copy, the new environment's python, its environment variables)."""
    base = tmp_path_factory.mktemp("binder")
    repo = base / "repo"
    shutil.copytree(ROOT, repo, ignore=NOT_SHIPPED)
    home = base / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.pop("OPENAI_BASE_URL", None)
    venv = base / "venv"
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    run([sys.executable, "-m", "venv", str(venv)], cwd=base, env=env, timeout=120)
    python = venv / "bin" / "python"
    requirements = Path("binder") / "requirements.txt"
    run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
        cwd=repo,
        env=env,
        timeout=INSTALL_TIMEOUT,
    )
    return repo, python, env


def test_binder_holds_only_repo2docker_files() -> None:
    names = {p.name for p in BINDER.iterdir()}
    assert "requirements.txt" in names
    assert names <= REPO2DOCKER_FILES, f"repo2docker ignores {sorted(names - REPO2DOCKER_FILES)}"
    lines = [
        line.split("#", 1)[0].strip()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
    ]
    assert "." in lines, "binder/requirements.txt must install this repository ('.')"
    assert any(line.startswith("jupyterlab") for line in lines)


def test_the_package_installs_from_binder_requirements(
    binder_env: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    _, python, env = binder_env
    probe = (
        "import json, chainmagic, ipywidgets, faiss, openai, jupyterlab;"
        "print(json.dumps({'chainmagic': chainmagic.__file__, 'jupyterlab': jupyterlab.__version__}))"
    )
    found = json.loads(run([str(python), "-c", probe], cwd=tmp_path, env=env, timeout=120))
    assert Path(found["chainmagic"]).is_relative_to(python.parent.parent), found
    extensions = run(
        [str(python), "-m", "jupyter", "labextension", "list"], cwd=tmp_path, env=env, timeout=120
    )
    # JupyterLab lists extensions on stderr in some versions; ask pip for the frontend as well
    shown = extensions + run(
        [str(python), "-m", "pip", "show", "jupyterlab_widgets"], cwd=tmp_path, env=env, timeout=60
    )
    assert "jupyterlab_widgets" in shown or "jupyterlab-manager" in shown


def test_every_tutorial_runs_in_the_binder_environment(
    binder_env: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, python, env = binder_env
    notebooks = sorted((repo / "notebooks").glob("[0-9]*.ipynb"))
    assert len(notebooks) == 6, notebooks
    out = tmp_path / "executed"
    run(
        [
            str(python),
            str(repo / "notebooks" / "execute.py"),
            "--out",
            str(out),
            *map(str, notebooks),
        ],
        cwd=tmp_path,
        env=env,
        timeout=RUN_TIMEOUT,
    )
    for source in notebooks:
        nb = nbformat.read(out / source.name, as_version=4)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert all(cell.execution_count for cell in code), f"{source.name}: a cell did not run"
        for cell in code:
            errors = [o for o in cell.outputs if o.output_type == "error"]
            expected = "raises-exception" in cell.metadata.get("tags", [])
            assert not errors or expected, f"{source.name}: {errors[0].ename}: {errors[0].evalue}"
        # finished outputs are static: no widget view that a reopened notebook could not draw
        views = [
            o
            for cell in code
            for o in cell.outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert not views, f"{source.name}: an output still refers to a live widget"
        assert any("text/html" in o.get("data", {}) for cell in code for o in cell.outputs)


def test_binder_jupyterlab_has_the_chain_editor_extension(
    binder_env: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """The wheel built from the repository carries the prebuilt extension that colours chain cells."""
    _, python, env = binder_env
    done = subprocess.run(
        [str(python), "-m", "jupyter", "labextension", "list"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "chainmagic" in line]
    assert len(lines) == 1 and "enabled" in lines[0] and "OK" in lines[0], done.stderr
