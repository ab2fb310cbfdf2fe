"""How a chain travels to other processes: as what defines it, its secrets carried apart.

A distributed batch sends the chain to every worker once, in one of two forms:

- **its definition**, when the chain was written in the language (a ``%%chain`` cell or a
  ``%chain`` line: it carries a :class:`~chainmagic.dsl.source.Definition`): the cell's text
  and the notebook values it named, each pickled on its own; every worker compiles it again
  once. The text shows what runs, and is a few hundred bytes however the chain was built.
- **the chain itself**, pickled whole, where that is not possible: a chain built in Python, a
  named value that cannot travel alone (``holder.fn``, where ``holder`` holds a file), a key
  the text spells in a way that cannot be told apart from the rest.

Pickling uses ``cloudpickle`` (so lambdas and functions defined in the notebook travel by
value), with two exceptions made on the way:

- an API key (:class:`~chainmagic.core.openai_client.Secret`) is replaced by an opaque token; the
  key itself goes in :attr:`Package.secrets`, which the caller hands to workers over a direct
  message (never the task graph, which the dashboard shows and the scheduler logs);
- a model's :class:`~chainmagic.core.openai_client.Connection` travels as its settings, without
  the clients it built (sockets and event loops do not travel).

In the text, a model's key written in the cell (``model("openai:…", api_key="sk-…")``) is replaced
by its token the same way. When something in the chain cannot be pickled (a lambda over an open
file), the error names the step that holds it, by the same path a failing step would have
(``map › poem``).
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
from chainmagic.dsl.source import Definition
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
    how: str = "pickle"  # "definition": the cell's text and values; "pickle": the chain whole

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


@dataclass(frozen=True)
class _Shipped:
    """A :class:`Definition` as it travels: keys in ``text`` replaced by ``tokens``, each value
    (and the default model) pickled on its own."""

    text: str
    first_line: int
    values: dict[str, bytes]
    default_model: bytes | None
    pick: str | None
    tokens: tuple[str, ...]

    def build(self) -> Any:
        """On a worker (after :func:`store_secrets`): the chain, compiled from its text again."""
        text = self.text
        for token in self.tokens:
            text = text.replace(token, _secret(token).get())
        values = {name: _loaded(name, data) for name, data in self.values.items()}
        default = None if self.default_model is None else _loaded("model", self.default_model)
        return Definition(text, self.first_line, values, default, self.pick).build()


def _loaded(name: str, data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except ChainError:
        raise
    except Exception as exc:
        raise ChainError(
            f"{name} could not be rebuilt on a worker ({type(exc).__name__}: {exc}); "
            "is the same software installed there?"
        ) from None


def pack(chain: Any) -> Package:
    """``chain`` as bytes plus the secrets it needs; :class:`CannotTravel` names a step that can't.

    A chain written in the language travels as its definition, any other (or one whose
    definition cannot travel) pickled whole."""
    definition = getattr(chain, "dsl_source", None)
    if isinstance(definition, Definition):
        package = _pack_definition(chain, definition)
        if package is not None:
            return package
    return _pack_whole(chain)


def _pack_definition(chain: Any, definition: Definition) -> Package | None:
    """The definition as a :class:`Package`, or None where it cannot travel as one."""
    text, secrets = definition.text, {}
    written = {*definition.keys, *_written_keys(chain)}  # the cell's other chains' keys too
    for key in sorted(written, key=len, reverse=True):  # a key inside another: the longer first
        if key not in text:  # spelled with escapes: only the whole chain can hide it
            return None
        token = _token(key)
        secrets[token] = key
        text = text.replace(key, token)
    tokens = tuple(sorted(secrets))
    values: dict[str, bytes] = {}
    connections = _holds_connection(chain)
    named = dict(definition.values)
    if definition.default_model is not None:
        named[" model"] = definition.default_model  # no notebook name has a space
    for name, value in named.items():
        try:
            values[name], pickler = _dumps(value)
        except Exception:
            return None  # the chain whole, which names the step if it cannot travel either
        secrets.update(pickler.secrets)
        connections = connections or pickler.connections > 0
    default = values.pop(" model", None)
    shipped = _Shipped(text, definition.first_line, values, default, definition.pick, tokens)
    payload = pickle.dumps(shipped, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest()[:20]
    environment = _environment() if connections else {}
    return Package(payload, digest, secrets, environment, how="definition")


def _pack_whole(chain: Any) -> Package:
    try:
        payload, pickler = _dumps(chain)
    except Exception as exc:
        root = _segment(chain) if isinstance(chain, Runnable) else None
        path, cause = _culprit(chain, [root] if root else [], exc)
        raise CannotTravel(path, cause) from None
    environment = _environment() if pickler.connections else {}
    digest = hashlib.sha256(payload).hexdigest()[:20]
    return Package(payload, digest, pickler.secrets, environment)


def _environment() -> dict[str, str]:
    """The provider variables set here: models read keys and URLs from them, at call time."""
    environment: dict[str, str] = {}
    for provider in _PROVIDERS.values():
        for variable in (provider.key_variable, provider.url_variable):
            if variable and os.environ.get(variable):
                environment[variable] = os.environ[variable]
    return environment


def _walk(chain: Any) -> Iterator[Any]:
    seen: set[int] = set()
    todo = [chain]
    while todo:
        step = todo.pop()
        if id(step) in seen:
            continue
        seen.add(id(step))
        yield step
        todo.extend(child for _, child in steps_of(step))


def _written_keys(chain: Any) -> list[str]:
    """The keys a cell wrote into its models' arguments (``model(..., api_key="…")``)."""
    keys = []
    for step in _walk(chain):
        spec = getattr(step, "dsl_spec", None)
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
            key = spec[1].get("api_key")
            if isinstance(key, str) and key:
                keys.append(key)
    return keys


def _holds_connection(chain: Any) -> bool:
    return any(isinstance(getattr(step, "_connection", None), Connection) for step in _walk(chain))


def unpack(payload: bytes) -> Any:
    """Rebuild a packed chain (on a worker, after :func:`store_secrets`)."""
    shipped = pickle.loads(payload)
    return shipped.build() if isinstance(shipped, _Shipped) else shipped


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
            labelled = getattr(step, "dsl_ref", None)  # a notebook name: what it wraps is it
            if segment and not labelled and (not path or path[-1] != segment):
                path = [*path, segment]
            return _culprit(child, path, exc)
    return path, error
