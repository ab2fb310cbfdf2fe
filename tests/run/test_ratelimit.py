"""Rate limits: what a user may pass, and how a chat model is paced by a limiter it is given.

The limiter shared through the Dask scheduler is exercised on a real cluster in
test_distributed.py; here a counting limiter shows every way a model is called takes a slot
before the call and gives it back after.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from chainmagic.core import ChatPromptTemplate, FakeChatModel, RunnableParallel, StrOutputParser
from chainmagic.run import RateLimit
from chainmagic.run import ratelimit as rl
from chainmagic.run.ratelimit import limits_for, pace


class Counting:
    """A limiter that records the order of acquire/release around each call."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:
            self.events.append("acquire")

    async def aacquire(self) -> None:
        self.acquire()

    def release(self) -> None:
        with self.lock:
            self.events.append("release")


def test_a_rate_limit_is_positive_and_counts_leases_per_window():
    assert RateLimit(200).leases == 200
    assert RateLimit(10, window=0.5).leases == 5
    assert RateLimit(0.5).leases == 1  # at least one call per window
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            RateLimit(bad)
    with pytest.raises(ValueError, match="window"):
        RateLimit(1, window=0)


def test_limits_for_reads_a_number_a_limit_or_one_per_model():
    assert limits_for(None) == {}
    assert limits_for(50) == {"*": RateLimit(50.0)}
    assert limits_for(RateLimit(5, 2.0)) == {"*": RateLimit(5, 2.0)}
    assert limits_for({"gpt-4o-mini": 50, "fake:echo": RateLimit(3)}) == {
        "gpt-4o-mini": RateLimit(50.0),
        "fake:echo": RateLimit(3),
    }


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
def test_every_way_of_calling_a_model_takes_and_gives_back_a_slot(how):
    model = FakeChatModel(["hello there"], token_delay=0.0)
    limiter = Counting()
    model.rate_limiter = limiter

    if how == "invoke":
        model.invoke("hi")
    elif how == "ainvoke":
        asyncio.run(model.ainvoke("hi"))
    elif how == "stream":
        assert limiter.events == []
        chunks = list(model.stream("hi"))
        assert "".join(c.content for c in chunks) == "hello there"
    else:

        async def collect():
            return [c async for c in model.astream("hi")]

        asyncio.run(collect())

    assert limiter.events == ["acquire", "release"]


def test_a_failing_call_gives_its_slot_back():
    model = FakeChatModel(fail_on="boom")
    limiter = Counting()
    model.rate_limiter = limiter
    with pytest.raises(Exception):
        model.invoke("boom")
    assert limiter.events == ["acquire", "release"]


def test_pace_gives_each_model_of_a_chain_its_limiter(monkeypatch):
    given: dict[str, Counting] = {}

    def fake_shared(model: str, limits):
        limit = limits.get(model) or limits.get("*")
        return None if limit is None else given.setdefault(model, Counting())

    monkeypatch.setattr(rl, "shared_limiter", fake_shared)
    a = FakeChatModel(model="fake:a")
    b = FakeChatModel(model="fake:b")
    chain = RunnableParallel(
        x=ChatPromptTemplate.from_template("{t}") | a | StrOutputParser(),
        y=ChatPromptTemplate.from_template("{t}") | b,
    )
    assert pace(chain, {"fake:a": RateLimit(5)}) == 1
    assert a.rate_limiter is given["fake:a"] and b.rate_limiter is None
    assert pace(chain, {"*": RateLimit(5)}) == 2
