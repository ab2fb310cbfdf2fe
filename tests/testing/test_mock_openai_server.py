"""Lifecycle, HTTP plumbing (keep-alive, chunked bodies, bursts) and the CLI."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import openai
import pytest

import chainmagic.testing
from chainmagic.testing import OpenAIServer

pytest_plugins = ["chainmagic.testing.fixtures"]

REPO_ROOT = Path(chainmagic.testing.__file__).resolve().parents[2]


def test_context_manager_and_urls():
    server = OpenAIServer()
    with pytest.raises(RuntimeError):
        server.url  # not started yet
    with server as running:
        assert running is server and server.running
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.base_url == server.url + "/v1"
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    assert not server.running
    with (
        openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.models.list()


def test_start_returns_self_and_can_restart():
    server = OpenAIServer().start()
    try:
        assert server.running
    finally:
        server.stop()
    assert server.start() is server
    server.stop()
    assert not server.running


def test_port_in_use_raises_from_start(openai_server):
    with pytest.raises(OSError):
        OpenAIServer(port=openai_server.port).start()


def test_max_lifetime_stops_the_server():
    server = OpenAIServer(max_lifetime=0.3).start()
    assert server.wait(timeout=3)
    assert server.expired and not server.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_keep_alive_serves_several_requests_on_one_connection(openai_server):
    conn = http.client.HTTPConnection("127.0.0.1", openai_server.port, timeout=5)
    for _ in range(3):
        conn.request("GET", "/v1/models")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") == "keep-alive"
        response.read()
    local = conn.sock.getsockname()
    conn.request("GET", "/v1/models")
    conn.getresponse().read()
    assert conn.sock.getsockname() == local  # same socket: nothing was reconnected
    conn.close()
    assert openai_server.requests == 4


def test_connection_close_is_honoured(openai_server):
    with socket.create_connection(("127.0.0.1", openai_server.port), timeout=5) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):  # ends only because the server closes
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in data


def test_chunked_request_body_is_read(openai_server):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "chunky"}]})
    half = len(body) // 2
    chunks = [body[:half].encode(), body[half:].encode()]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", openai_server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + framed
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload)["choices"][0]["message"]["content"] == "chunky"


def test_malformed_request_gets_400_and_close(openai_server):
    with socket.create_connection(("127.0.0.1", openai_server.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 Bad Request")


def test_burst_of_fresh_connections_is_not_refused(openai_server):
    def get(_):
        conn = http.client.HTTPConnection("127.0.0.1", openai_server.port, timeout=5)
        conn.request("GET", "/v1/models")
        status = conn.getresponse().status
        conn.close()
        return status

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(get, range(200)))
    assert statuses == [200] * 200


def test_cli_prints_base_url_and_serves():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chainmagic.testing.server",
            "--latency",
            "0",
            "--port",
            "0",
            "--api-key",
            "cli-key",
            "--max-lifetime",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            with openai.OpenAI(base_url=base_url, api_key="cli-key", max_retries=0) as client:
                assert "gpt-4o-mini" in [m.id for m in client.models.list()]
            process.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
            assert process.wait(timeout=5) == 0
            assert "Traceback" not in process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()


def test_cli_exits_when_lifetime_ends():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "chainmagic.testing.server", "--max-lifetime", "0.2"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=10,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("http://127.0.0.1:")


def test_sequential_keep_alive_requests_do_not_stall(openai_server):
    """One write per response: no 40 ms Nagle/delayed-ACK stall per request."""
    import time

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    conn = http.client.HTTPConnection("127.0.0.1", openai_server.port, timeout=5)
    start = time.perf_counter()
    for _ in range(50):
        conn.request("POST", "/v1/chat/completions", body=body.encode())
        assert conn.getresponse().read()
    elapsed = time.perf_counter() - start
    conn.close()
    assert elapsed < 50 * 0.02  # a stall would cost ~2 s


def test_stop_with_requests_in_flight_is_prompt():
    import threading
    import time

    server = OpenAIServer(latency=5).start()
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    errors = []

    def call():
        try:
            client.models.list()
        except openai.APIConnectionError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    while server.in_flight == 0:
        time.sleep(0.01)
    start = time.perf_counter()
    server.stop()
    thread.join(timeout=5)
    client.close()
    assert time.perf_counter() - start < 1
    assert len(errors) == 1
    assert server.in_flight == 0
