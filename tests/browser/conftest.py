"""A real JupyterLab (or Notebook 7) server on 127.0.0.1 and Debian's headless Chromium, driven by
Playwright.

The server runs from this test's interpreter (so its kernels use the package under test) on copies
of the tutorials in a temporary root, with its own settings: no news pop-up, no autosave (outputs
never go back to disk), and no virtual scrolling (every cell is in the page, for the checks and the
screenshots). It is stopped by its own PID.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
START_TIMEOUT = 90.0


@dataclass
class Lab:
    """A running JupyterLab: where it is, its token, and the folder it serves."""

    url: str
    token: str
    root: Path
    log: Path

    def tree(self, name: str) -> str:
        """Where JupyterLab opens ``name``."""
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def notebook(self, name: str) -> str:
        """Where Notebook 7 opens ``name`` (its own page per notebook)."""
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def api(self, path: str) -> Any:
        """The server's REST answer at ``/api/<path>``, as JSON."""
        with urllib.request.urlopen(f"{self.url}/api/{path}?token={self.token}", timeout=10) as r:
            return json.loads(r.read())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def serve(base: Path, app: str, user_settings: dict[str, Any] | None = None) -> Iterator[Lab]:
    """A Jupyter server (``app``: ``jupyterlab`` or ``notebook``, i.e. Notebook 7) on copies of the
    tutorials under ``base``, with ``user_settings`` (:data:`SETTINGS` unless given); stopped by
    its PID when the block ends."""
    root = base / "notebooks"
    root.mkdir()
    for notebook in NOTEBOOKS.glob("[0-9]*.ipynb"):
        shutil.copy(notebook, root)
    settings = base / "settings"
    for name, value in (SETTINGS if user_settings is None else user_settings).items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    for folder in ("workspaces", "config", "runtime", "ipython"):
        (base / folder).mkdir(exist_ok=True)
    port, token = _free_port(), secrets.token_hex(16)
    cls = {"jupyterlab": "LabApp", "notebook": "JupyterNotebookApp"}[app]
    command = [
        sys.executable, "-m", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", f"--{cls}.workspaces_dir={base / 'workspaces'}",
        f"--{cls}.user_settings_dir={settings}",
    ]  # fmt: skip
    if app == "jupyterlab":  # Notebook 7 has no news feed, update check or extension manager
        command += [
            "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # as root, the server refuses to start without it
    env = server_env(base)
    log = base / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(f"{url}/api/status?token={token}"):
            if server.poll() is not None:
                pytest.fail(f"{app} exited ({server.returncode}):\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"{app} did not answer in {START_TIMEOUT:.0f} s:\n{_tail(log)}")
            time.sleep(0.2)
        yield Lab(url, token, root, log)
    finally:
        server.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def server_env(base: Path) -> dict[str, str]:
    """The environment a server under ``base`` runs in (Jupyter's folders kept inside it)."""
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
    }
    env.pop("OPENAI_BASE_URL", None)
    return env


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with serve(tmp_path_factory.mktemp("jupyterlab"), "jupyterlab") as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


# Chromium reports a layout that settles over two frames as an uncaught "ResizeObserver loop"
# error; it is a notice, not a failure of the page. Every other error is collected in page.errors.
BENIGN = re.compile(r"ResizeObserver loop")
VIEWPORT = {"width": 1280, "height": 900}
OPEN_TIMEOUT = 60_000  # ms: first load compiles nothing, but a cold kernel start can be slow


@contextmanager
def browser_page(browser: Any) -> Iterator[Any]:
    """A page in a context of its own; what it logs as errors is collected in ``page.errors``."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(OPEN_TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and not BENIGN.search(msg.text)
            else None
        ),
    )
    page.errors = errors
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(lab: Any, browser: Any) -> Iterator[Any]:
    with browser_page(browser) as page:
        yield page
