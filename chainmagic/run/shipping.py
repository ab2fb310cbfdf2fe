"""How a chain travels to other processes: pickled by value, its secrets carried apart.

A distributed batch sends the chain to every worker once. The chain is serialised with
``cloudpickle`` (so lambdas and functions defined in the notebook travel by value), with two
exceptions made on the way:

- an API key (:class:`~chainmagic.core.openai_client.Secret`) is replaced by an opaque token; the
  key itself goes in :attr:`Package.secrets`, which the caller hands to workers over a direct
  message (never the task graph, which the dashboard shows and the scheduler logs);
- a model's :class:`~chainmagic.core.openai_client.Connection` travels as its settings, without
  the clients it built (sockets and event loops do not travel).

When something in the chain cannot be pickled (a lambda over an open file, a lock), the error
names the step that holds it, by the same path a failing step would have (``map › poem``).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from chainmagic.core.openai_client import _PROVIDERS, Connection, Secret
from chainmagic.core.runnable import Runnable
from chainmagic.errors import PATH_SEP, ChainError

__all__ = ["CannotTravel", "Package", "pack", "steps_of", "store_secrets", "unpack"]

_LOCKS = (type(threading.Lock()), type(threading.RLock()))
# Filled on a worker by store_secrets (sent by the client directly, outside any task).
_SECRETS: dict[str, str] = {}


class CannotTravel(ChainError):
    """The chain cannot be sent to other processes; ``.path`` names the step that holds the cause."""

    def __init__(self, path: list[str], cause: BaseException) -> None:
        self.path = path
        self.cause = cause
        where = PATH_SEP.join(path) if path else "the chain"
        super().__init__(
            f"{where} cannot be sent to the workers ({type(cause).__name__}: {cause}); "
            "define it in a cell from plain values, or run the batch locally"
        )


@dataclass(frozen=True)
class Package:
    """A chain ready to travel: ``payload`` is safe to show; ``secrets`` must go apart."""

    payload: bytes
    digest: str  # identifies the chain: workers rebuild it once per digest
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    environment: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def carried(self) -> dict[str, str]:
        """Everything a worker needs besides the payload: secrets and provider variables."""
        return {**self.secrets, **{f"env:{k}": v for k, v in self.environment.items()}}


def _token(value: str) -> str:
    return "secret-" + hashlib.sha256(value.encode()).hexdigest()[:16]


def _secret(token: str) -> Secret:
    """On a worker: the key a token stands for (sent beforehand by :func:`store_secrets`)."""
    try:
        return Secret(_SECRETS[token])
    except KeyError:
        raise ChainError("an API key of this chain did not reach this worker") from None


def _restore(cls: type[Any], state: dict[str, Any]) -> Any:
    obj = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _fresh_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _connection(  # noqa: PLR0917 - a pickle reconstructor takes positional arguments
    provider: str,
    base_url: str | None,
    api_key: Secret | None,
    timeout: float | None,
    max_retries: int,
    headers: dict[str, str] | None,
) -> Connection:
    connection = Connection(
        provider,
        base_url=base_url,
        api_key=None,
        timeout=timeout,
        max_retries=max_retries,
        default_headers=headers,
    )
    connection.api_key = api_key
    return connection


class _Pickler(cloudpickle.Pickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.secrets: dict[str, str] = {}
        self.connections = 0

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Secret):
            token = _token(obj.get())
            self.secrets[token] = obj.get()
            return _secret, (token,)
        if isinstance(obj, Connection):
            self.connections += 1
            args = (obj.provider, obj.base_url, obj.api_key, obj.timeout, obj.max_retries)
            return _connection, (*args, obj.headers)
        spec = getattr(obj, "dsl_spec", None) if isinstance(obj, Runnable) else None
        if isinstance(spec, tuple) and len(spec) == 2 and "api_key" in spec[1]:
            # the language remembers a model's arguments (for --to-python): the key among them
            state = dict(obj.__dict__)
            key = spec[1]["api_key"]
            hidden = Secret(key) if isinstance(key, str) and key else key
            state["dsl_spec"] = (spec[0], {**spec[1], "api_key": hidden})
            return _restore, (type(obj), state)
        if isinstance(obj, _LOCKS):  # a step's lock guards its own process: a fresh one there
            return _fresh_lock, (isinstance(obj, _LOCKS[1]),)
        return super().reducer_override(obj)


def _dumps(obj: Any) -> tuple[bytes, _Pickler]:
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.dump(obj)
    return buffer.getvalue(), pickler


def pack(chain: Any) -> Package:
    """``chain`` as bytes plus the secrets it needs; :class:`CannotTravel` names a step that can't."""
    try:
        payload, pickler = _dumps(chain)
    except Exception as exc:
        root = _segment(chain) if isinstance(chain, Runnable) else None
        path, cause = _culprit(chain, [root] if root else [], exc)
        raise CannotTravel(path, cause) from None
    environment: dict[str, str] = {}
    if pickler.connections:  # models read keys and URLs from the environment, at call time
        for provider in _PROVIDERS.values():
            for variable in (provider.key_variable, provider.url_variable):
                if variable and os.environ.get(variable):
                    environment[variable] = os.environ[variable]
    digest = hashlib.sha256(payload).hexdigest()[:20]
    return Package(payload, digest, pickler.secrets, environment)


def unpack(payload: bytes) -> Any:
    """Rebuild a packed chain (on a worker, after :func:`store_secrets`)."""
    return pickle.loads(payload)


def store_secrets(carried: dict[str, str]) -> None:
    """Run on each worker: keep the chain's keys in memory and set the provider variables."""
    for name, value in carried.items():
        if name.startswith("env:"):
            os.environ[name[4:]] = value
        else:
            _SECRETS[name] = value


def steps_of(step: Any) -> Iterator[tuple[str | None, Any]]:
    """The runnables directly inside ``step``, each with its part of a path (or None)."""
    values = list(getattr(step, "__dict__", {}).items())
    slots = getattr(type(step), "__slots__", ())
    values.extend((slot, getattr(step, slot)) for slot in slots if hasattr(step, slot))
    for attr, value in values:
        if attr.startswith("__"):
            continue
        if isinstance(value, Runnable):
            yield _segment(value), value
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, Runnable):
                    yield str(key), item
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Runnable):
                    yield _segment(item), item


def _segment(step: Runnable) -> str | None:
    try:
        return step.segment
    except Exception:
        return None


def _culprit(step: Any, path: list[str], error: BaseException) -> tuple[list[str], BaseException]:
    """The deepest step whose pickling fails, and why: where the user should look."""
    seen: set[int] = set()
    for segment, child in steps_of(step):
        if id(child) in seen:
            continue
        seen.add(id(child))
        try:
            _dumps(child)
        except Exception as exc:
            if segment and (not path or path[-1] != segment):  # not a label and what it labels
                path = [*path, segment]
            return _culprit(child, path, exc)
    return path, error
