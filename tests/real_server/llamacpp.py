"""Route B: llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) with ``tiny-chat``.

It serves ``/v1/embeddings`` (``transformers serve`` does not), but pip builds llama.cpp from source:
6-10 minutes on 2 cores, once per machine (cached beside the other venv). So these tests run only
with ``make test-llamacpp``, never in ``make test``.

The model is the same ``tiny-chat``, converted to GGUF with the converter shipped inside the
llama-cpp-python sdist (``vendor/llama.cpp``), run by the transformers venv. The server config
turns off ``interrupt_requests`` (else each new request cuts the stream in progress short) and is
started twice over for the embedding tests: once with mean pooling, once without (then llama.cpp
returns one vector per token, the case chainmagic must report clearly).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import time
from pathlib import Path

from .served import (
    MODEL,
    START_TIMEOUT,
    Served,
    _healthy,
    _locked,
    _run,
    cache_dir,
    die_with_parent,
    ensure_model,
    ensure_venv,
    free_port,
    offline_env,
)

VERSION = "0.3.36"
REQUIREMENTS = (f"llama-cpp-python[server]=={VERSION}",)
BUILD_ENV = {"CMAKE_ARGS": "-DLLAVA_BUILD=OFF", "CMAKE_BUILD_PARALLEL_LEVEL": "2"}
CONVERTER = Path(__file__).resolve().parent / "to_gguf.py"


def ensure_gguf(root: Path, tf_python: Path) -> Path:
    """``tiny-chat.gguf`` beside the HF folder, converted once."""
    folder = ensure_model(root, tf_python)
    gguf = folder / f"{MODEL}.gguf"
    with _locked(root / "llamacpp-gguf.lock"):
        if gguf.exists():
            return gguf
        source = root / f"llamacpp-src-{VERSION}"
        if not (source / "convert_hf_to_gguf.py").exists():
            download = root / "llamacpp-sdist"
            _run(
                [
                    *(str(tf_python), "-m", "pip", "download", "--no-deps", "--no-binary=:all:"),
                    *("-d", str(download), f"llama-cpp-python=={VERSION}"),
                ],
                "downloading the llama.cpp sources",
                root / "llamacpp-download.log",
                env=offline_env(),
            )
            archive = next(download.glob("llama_cpp_python-*.tar.gz"))
            prefix = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
            wanted = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    rest = member.name.removeprefix(prefix)
                    if member.name.startswith(prefix) and rest.startswith(wanted):
                        member.name = rest
                        tar.extract(member, source, filter="data")
        partial = folder / f"{MODEL}.gguf.partial"
        _run(
            [str(tf_python), str(CONVERTER), str(source), str(folder / MODEL), str(partial)],
            "converting tiny-chat to GGUF",
            root / "llamacpp-convert.log",
            env=offline_env(),
        )
        partial.rename(gguf)
    return gguf


def start(*, pooling: bool = True, root: Path | None = None) -> Served:
    """llama.cpp's server on a free port with ``tiny-chat`` (and ``tiny-embed``, same file)."""
    root = root or cache_dir()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    python = ensure_venv(root, "llamacpp-venv", REQUIREMENTS, BUILD_ENV)
    tf_python = ensure_venv(root)
    gguf = ensure_gguf(root, tf_python)
    seconds["build"] = time.perf_counter() - clock
    clock = time.perf_counter()
    port = free_port()
    embed: dict[str, object] = {"model": str(gguf), "model_alias": "tiny-embed", "embedding": True}
    if pooling:
        embed["kv_overrides"] = ["llama.pooling_type=int:1"]  # mean: one vector per text
    config = {
        "host": "127.0.0.1",
        "port": port,
        "interrupt_requests": False,
        "models": [{"model": str(gguf), "model_alias": MODEL, "n_ctx": 512}, embed],
    }
    config_file = root / f"llamacpp-{port}.json"
    config_file.write_text(json.dumps(config))
    log = root / f"llamacpp-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(python), "-m", "llama_cpp.server", "--config_file", str(config_file)],
            env=offline_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (one C call, nothing Python-level)
        )
    served = Served(f"http://127.0.0.1:{port}/v1", MODEL, process, log, seconds)
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(f"{served.base_url}/models"):
        if process.poll() is not None or time.monotonic() > deadline:
            served.stop()
            raise RuntimeError(f"llama.cpp's server did not start (see {log})")
        time.sleep(0.25)
    seconds["start"] = time.perf_counter() - clock
    return served


if __name__ == "__main__":  # cd tests && python -m real_server.llamacpp: build, start, stop
    server = start()
    print(server.base_url, {k: round(v, 1) for k, v in server.seconds.items()})
    server.stop()
