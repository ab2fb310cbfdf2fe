"""Rate limits: what a user may pass, how a chat model is paced by a limiter it is given, and
how a token budget is counted.

The limiter shared through the Dask scheduler is exercised on a real cluster in
test_distributed.py; here a counting limiter shows every way a model is called takes a slot
before the call (seeing its messages) and gives it back after (with the usage it reported).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chainmagic.core import ChatPromptTemplate, FakeChatModel, RunnableParallel, StrOutputParser
from chainmagic.core.messages import HumanMessage, SystemMessage
from chainmagic.run import RateLimit
from chainmagic.run import ratelimit as rl
from chainmagic.run.ratelimit import TokenLedger, estimate_tokens, limits_for, pace, used_tokens


class Counting:
    """A limiter that records the order of acquire/release around each call, and what it saw."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.seen: list[tuple[int, object]] = []  # (ticket, usage) given back
        self.lock = threading.Lock()

    def acquire(self, messages) -> int:
        with self.lock:
            self.events.append("acquire")
            self.prompt = [m.text for m in messages]
            return len(self.events)

    async def aacquire(self, messages) -> int:
        return self.acquire(messages)

    def release(self, ticket: int, usage) -> None:
        with self.lock:
            self.events.append("release")
            self.seen.append((ticket, usage))


def test_a_rate_limit_is_positive_and_counts_leases_per_window():
    assert RateLimit(200).leases == 200
    assert RateLimit(10, window=0.5).leases == 5
    assert RateLimit(0.5).leases == 1  # at least one call per window
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            RateLimit(bad)
        with pytest.raises(ValueError, match="tokens_per_minute must be positive"):
            RateLimit(tokens_per_minute=bad)
    with pytest.raises(ValueError, match="window"):
        RateLimit(1, window=0)
    with pytest.raises(ValueError, match="token_window"):
        RateLimit(tokens_per_minute=10, token_window=0)
    with pytest.raises(ValueError, match="requests_per_second or tokens_per_minute"):
        RateLimit()


def test_a_token_limit_counts_its_budget_per_token_window():
    assert RateLimit(tokens_per_minute=90_000).token_budget == 90_000
    assert RateLimit(tokens_per_minute=90_000).leases == 0  # no request limit
    assert RateLimit(tokens_per_minute=6000, token_window=2).token_budget == 200
    both = RateLimit(50, tokens_per_minute=1000)
    assert (both.leases, both.token_budget) == (50, 1000)
    assert RateLimit(5).token_budget == 0


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
    assert limiter.prompt == ["hi"]
    [(ticket, usage)] = limiter.seen
    assert ticket == 1  # the ticket acquire gave is the one given back
    assert usage == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}  # streams too


def test_a_failing_call_gives_its_slot_back_with_no_usage():
    model = FakeChatModel(fail_on="boom")
    limiter = Counting()
    model.rate_limiter = limiter
    with pytest.raises(Exception):
        model.invoke("boom")
    assert limiter.events == ["acquire", "release"]
    assert limiter.seen == [(1, None)]  # nothing reported: its estimate stands


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
    assert a.rate_limiter.shared is given["fake:a"] and b.rate_limiter is None
    assert pace(chain, {"*": RateLimit(5)}) == 2


# -- tokens: estimated before, settled after ------------------------------------------------------


def test_an_estimate_counts_the_prompt_generously_and_the_whole_completion():
    short = [HumanMessage("say 7")]
    assert estimate_tokens(short, 10) == 2 + 4 + 10  # 2 words, 4 for the message, max_tokens
    assert estimate_tokens(short, None) == 2 + 4 + 256  # no max_tokens: a default completion
    long_word = [SystemMessage("x" * 400), HumanMessage("hi")]
    assert estimate_tokens(long_word, 0) == 100 + 4 + 1 + 4  # a quarter of the characters
    # never below what the fake model (or the test server) will report for the prompt
    model = FakeChatModel(max_tokens=5)
    answer = model.invoke(short)
    assert estimate_tokens(short, 5) >= answer.usage_metadata["total_tokens"]


def test_used_tokens_reads_what_a_provider_reported():
    assert used_tokens({"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}) == 7
    assert used_tokens({"input_tokens": 3, "output_tokens": 4}) == 7
    assert used_tokens(None) is None and used_tokens({}) is None
    assert used_tokens({"input_tokens": 3}) is None


def test_the_ledger_grants_what_fits_and_says_how_long_to_wait():
    ledger = TokenLedger(budget=100, window=10.0)
    first, wait = ledger.take(60, now=0.0)
    assert first is not None and wait == 0
    assert ledger.take(50, now=1.0)[0] is None  # 60 + 50 > 100: wait
    second, _ = ledger.take(40, now=1.0)
    assert second is not None and ledger.in_use(1.0) == 100

    ledger.settle(first, 20, now=2.0)  # it used 20, not the 60 estimated
    assert ledger.in_use(2.0) == 60
    third, _ = ledger.take(40, now=2.0)  # what the settlement freed
    assert third is not None
    ticket, wait = ledger.take(1, now=3.0)
    assert ticket is None and wait == pytest.approx(9.0)  # the first expires at 2 + 10

    assert ledger.in_use(12.0) == 80  # settled 20 is gone one window after its answer
    ledger.settle(second, None, now=12.0)  # nothing reported: the estimate stands a window more
    assert ledger.in_use(21.9) == 80 and ledger.in_use(22.0) == 40


def test_a_call_larger_than_the_budget_waits_for_an_empty_window_not_forever():
    ledger = TokenLedger(budget=100, window=10.0)
    small, _ = ledger.take(10, now=0.0)
    assert ledger.take(500, now=0.0)[0] is None
    ledger.settle(small, 10, now=1.0)
    big, _ = ledger.take(500, now=11.0)
    assert big is not None and ledger.in_use(11.0) == 100  # the whole budget, no more


def test_a_reservation_never_settled_expires_after_the_hold_limit():
    ledger = TokenLedger(budget=100, window=10.0)
    lost, _ = ledger.take(100, now=0.0)  # its worker died mid-call
    assert ledger.take(1, now=rl.HOLD_LIMIT - 1)[0] is None
    assert ledger.take(1, now=rl.HOLD_LIMIT)[0] is not None
    ledger.settle(lost, 5, now=rl.HOLD_LIMIT + 1)  # too late: nothing comes back
    assert ledger.in_use(rl.HOLD_LIMIT + 1) == 1


def test_a_paced_model_reserves_its_estimate_and_settles_its_usage():
    class Shared:
        limit = RateLimit(tokens_per_minute=1000)

        def __init__(self) -> None:
            self.calls: list[tuple[str, object]] = []

        def acquire(self, tokens: int) -> int:
            self.calls.append(("acquire", tokens))
            return 9

        async def aacquire(self, tokens: int) -> int:
            return self.acquire(tokens)

        def release(self, ticket, tokens) -> None:
            self.calls.append(("release", (ticket, tokens)))

    shared = Shared()
    model = FakeChatModel(["one two three"], max_tokens=8)
    model.rate_limiter = rl.ModelPace(shared, max_tokens=8)  # type: ignore[arg-type]
    answer = asyncio.run(model.ainvoke("hello"))
    total = answer.usage_metadata["total_tokens"]
    assert shared.calls == [("acquire", 2 + 4 + 8), ("release", (9, total))]


def test_a_call_cancelled_while_it_waits_gives_back_what_it_gets_later():
    granted = threading.Event()
    given_back: list[tuple[object, int]] = []

    def acquire(tokens: int) -> str:
        granted.wait(5)  # the shared budget is busy
        return f"ticket for {tokens}"

    async def cancelled_while_waiting() -> None:
        waiting = asyncio.ensure_future(
            rl.acquired_in(pool, acquire, lambda t, n: given_back.append((t, n)), 30)
        )
        await asyncio.sleep(0.05)
        waiting.cancel()  # the partition is given up
        with pytest.raises(asyncio.CancelledError):
            await waiting

    with ThreadPoolExecutor(1) as pool:
        asyncio.run(cancelled_while_waiting())
        assert given_back == []
        granted.set()  # the budget is granted after all, to nobody
    assert given_back == [("ticket for 30", 0)]  # settled as unused at once


def test_a_call_that_waits_gets_its_ticket():
    with ThreadPoolExecutor(1) as pool:
        got = asyncio.run(rl.acquired_in(pool, lambda n: n * 2, lambda t, n: None, 21))
    assert got == 42
