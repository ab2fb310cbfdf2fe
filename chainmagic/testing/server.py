"""``OpenAIServer``: a local OpenAI-compatible HTTP server on a background asyncio loop.

One daemon thread runs one asyncio loop that accepts connections (backlog 1024,
``TCP_NODELAY``, HTTP/1.1 keep-alive), so bursts of concurrent requests from
``AsyncOpenAI`` are served at once instead of queueing behind a thread pool or
being refused. The server stops itself after ``max_lifetime`` seconds, so one
forgotten in a notebook or a crashed test never lingers.

Run it standalone for tutorials::

    python -m chainmagic.testing.server --latency 0.6 --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Sequence
from types import TracebackType

from chainmagic.testing import wire
from chainmagic.testing.app import DEFAULT_MODELS, OpenAIApp
from chainmagic.testing.replies import Replies
from chainmagic.testing.responses import send_error

log = logging.getLogger(__name__)

BACKLOG = 1024


class OpenAIServer(OpenAIApp):
    """A mock OpenAI API for tests and offline tutorials, driven by the real openai client.

    >>> with OpenAIServer(replies=["hi"]) as server:  # doctest: +SKIP
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="test-key")
    """

    def __init__(
        self,
        replies: Replies = None,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        latency: float = 0.0,
        chunk_delay: float = 0.0,
        api_key: str | None = None,
        embedding_dimensions: int = 64,
        host: str = "127.0.0.1",
        port: int = 0,
        max_lifetime: float | None = 3600.0,
    ) -> None:
        super().__init__(
            replies,
            models=models,
            latency=latency,
            chunk_delay=chunk_delay,
            api_key=api_key,
            embedding_dimensions=embedding_dimensions,
        )
        self.host = host
        self._requested_port = port
        self.max_lifetime = max_lifetime
        self.expired = False  # True when the server stopped because max_lifetime ran out
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> OpenAIServer:
        """Bind and serve on a daemon thread; return self once the socket is listening."""
        if self.running:
            raise RuntimeError("OpenAIServer is already running")
        self._ready.clear()
        self._startup_error = None
        self.expired = False
        self._thread = threading.Thread(
            target=self._run, name="chainmagic-openai-mock", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("OpenAIServer did not start in time")
        if self._startup_error is not None:
            self._thread.join(timeout)
            raise self._startup_error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every open connection, then join the loop thread."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed: lifetime ran out
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (by ``stop()`` or ``max_lifetime``); True if it did."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The bound port (the one picked by the OS when constructed with ``port=0``)."""
        if self._port is None:
            raise RuntimeError("OpenAIServer has not been started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``url + "/v1"``: what ``openai.OpenAI(base_url=...)`` wants."""
        return f"{self.url}/v1"

    def __enter__(self) -> OpenAIServer:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        state = "running" if self.running else "stopped"
        return f"<OpenAIServer {where} {state} requests={self.requests}>"

    # -- loop thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surface startup failures to start()
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                log.exception("OpenAIServer loop crashed")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, self.host, self._requested_port, backlog=BACKLOG
        )
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await asyncio.wait_for(self._stop_event.wait(), self.max_lifetime)
        except asyncio.TimeoutError:
            self.expired = True
            log.info("OpenAIServer on port %s reached max_lifetime; stopping", self._port)
        finally:
            server.close()
            await self._close_connections()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    async def _close_connections(self) -> None:
        """Cancel every connection handler and let it finish its cleanup."""
        tasks = set(self._connections)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until the peer closes or keep-alive ends."""
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    request = await wire.read_request(reader)
                except wire.WireError as exc:
                    await send_error(writer, exc.status, exc.message, False)
                    break
                except ValueError:  # a line longer than the StreamReader limit
                    await send_error(writer, 431, "Request header line too long.", False)
                    break
                if request is None or not await self.handle(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to answer
        except asyncio.CancelledError:
            # Only our shutdown cancels these tasks. Ending normally (not "cancelled")
            # avoids Python 3.11's StreamReaderProtocol logging the CancelledError.
            writer.transport.abort()
        except Exception:
            log.exception("OpenAIServer: unexpected error while serving a connection")
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chainmagic.testing.server",
        description="Serve a mock OpenAI API locally; prints the base URL on stdout.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    parser.add_argument("--model", action="append", dest="models", help="repeatable")
    parser.add_argument("--reply", action="append", dest="replies", help="scripted, cycled")
    parser.add_argument(
        "--max-lifetime", type=float, default=3600.0, help="stop after this many seconds"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: serve until Ctrl-C or until ``--max-lifetime`` runs out."""
    args = _parse_args(argv)
    server = OpenAIServer(
        args.replies,
        models=args.models or DEFAULT_MODELS,
        latency=args.latency,
        chunk_delay=args.chunk_delay,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        max_lifetime=args.max_lifetime if args.max_lifetime > 0 else None,
    )
    server.start()
    print(server.base_url, flush=True)
    print(f"mock OpenAI API serving at {server.base_url} (Ctrl-C to stop)", file=sys.stderr)
    try:
        while not server.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


__all__ = ["OpenAIServer", "main"]

if __name__ == "__main__":
    sys.exit(main())
