"""A real, third-party OpenAI-compatible server for the tests: ``transformers serve`` with ``tiny-chat``.

chainmagic's own test server (:mod:`chainmagic.testing`) answers exactly the way chainmagic expects;
a server nobody here wrote does not (error bodies, stream endings, usage). This module makes one, from
nothing, offline apart from PyPI:

1. a venv of its own, kept in the user's cache (``~/.cache/chainmagic/real-server-venv``), with
   ``torch`` pinned exactly (see :data:`REQUIREMENTS`) and ``transformers[serving]``; torch never enters
   the project's own venv;
2. the tiny model (``tiny_model.py``, trained in seconds, deterministic), cached by the script's hash;
3. ``transformers serve`` on a free 127.0.0.1 port, polled on ``/health``, stopped by its PID.

Steps 1 and 2 are paid once per machine (≈ 1.5 min); afterwards only the start (≈ 8 s) remains.
A file lock keeps two test sessions from building the same venv at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "tiny_model.py"
MODEL = "tiny-chat"
# torch==2.13.0 exactly: a CPU build of it is what pip finds here; any other version (or a range)
# resolves to a multi-GB CUDA build.
REQUIREMENTS = ("torch==2.13.0", "transformers[serving]==5.24.0")
START_TIMEOUT = 60.0


def cache_dir() -> Path:
    """Where the venv and the model live: ``$CHAINMAGIC_CACHE``, else the user's cache directory."""
    explicit = os.environ.get("CHAINMAGIC_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chainmagic"


def offline_env() -> dict[str, str]:
    """The environment of every step: no hub access, one thread (faster for tiny matrices)."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env.update(TOKENIZERS_PARALLELISM="false", HF_HUB_DISABLE_TELEMETRY="1")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    return env


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], what: str, log: Path, **kwargs: Any) -> None:
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs)
    if done.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{what} failed ({done.returncode}), see {log}:\n" + "\n".join(tail))


def ensure_venv(
    root: Path,
    name: str = "real-server-venv",
    requirements: tuple[str, ...] = REQUIREMENTS,
    build_env: dict[str, str] | None = None,
) -> Path:
    """The venv's Python, building the venv first when it is missing or was built for other pins."""
    venv = root / name
    python = venv / "bin" / "python"
    stamp = venv / ".chainmagic-requirements"
    wanted = "\n".join(requirements)
    with _locked(root / f"{name}.lock"):
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        _run(
            [str(python), "-m", "pip", "install", "-q", *requirements],
            f"installing {name}",
            root / f"{name}-install.log",
            env={**offline_env(), **(build_env or {})},
        )
        stamp.write_text(wanted)
    return python


def ensure_model(root: Path, python: Path) -> Path:
    """The folder holding ``tiny-chat`` (made once per version of ``tiny_model.py``)."""
    digest = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:12]
    folder = root / "real-server-models" / digest
    done = folder / MODEL / "model.safetensors"
    with _locked(root / "real-server-models.lock"):
        if not done.exists():
            partial = folder / f"{MODEL}.partial"
            _run(
                [str(python), str(SCRIPT), str(partial)],
                "making the tiny model",
                root / "real-server-model.log",
                env=offline_env(),
            )
            partial.rename(folder / MODEL)
            for old in folder.parent.iterdir():  # models of earlier versions of the script
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    """A running server: where it is, which model it serves, and what it cost to get there."""

    base_url: str
    model: str
    process: subprocess.Popen[bytes]
    log: Path
    seconds: dict[str, float]

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL if it is still there after 10 s; the log goes if all went well."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            else:
                self.log.unlink(missing_ok=True)


def _prctl() -> Any:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _prctl()  # looked up here, not in the child: between fork and exec only a C call is safe


def die_with_parent() -> None:
    """In the server's process, before it runs: be sent SIGTERM when the test process dies.

    A test session that is killed (or crashes) never reaches ``stop()``; without this the server
    would keep its port and 400 MB. Linux only (``prctl``); elsewhere the server just outlives it.
    """
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start(root: Path | None = None) -> Served:
    """Build what is missing, start ``transformers serve`` and wait until it answers ``/health``."""
    root = root or cache_dir()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    python = ensure_venv(root)
    seconds["venv"] = time.perf_counter() - clock
    clock = time.perf_counter()
    models = ensure_model(root, python)
    seconds["model"] = time.perf_counter() - clock
    clock = time.perf_counter()
    port = free_port()
    log = root / f"real-server-{port}.log"
    command = [str(python.parent / "transformers"), "serve", MODEL]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=models,
            env=offline_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (one C call, nothing Python-level)
        )
    base = f"http://127.0.0.1:{port}"
    served = Served(f"{base}/v1", MODEL, process, log, seconds)
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(f"{base}/health"):
        if process.poll() is not None or time.monotonic() > deadline:
            served.stop()
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
            raise RuntimeError(f"transformers serve did not become healthy (see {log}):\n{tail}")
        time.sleep(0.25)
    seconds["start"] = time.perf_counter() - clock
    return served


def main() -> None:
    """``python tests/real_server/served.py [--keep]``: build what is missing, start, say where.

    Without ``--keep`` the server stops at once (a check of the set-up and its cost); with it, the
    server runs until Ctrl-C, for a notebook (``REAL_OPENAI_BASE_URL``) or ``curl``.
    """
    server = start()
    print(server.base_url, server.model, {k: round(v, 1) for k, v in server.seconds.items()})
    try:
        if "--keep" in sys.argv[1:]:
            print("serving until Ctrl-C", flush=True)
            server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
