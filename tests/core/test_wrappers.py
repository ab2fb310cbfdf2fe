"""with_retry, with_fallbacks and with_config."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from chainmagic.core import (
    FakeChatModel,
    RunnableBinding,
    RunnableLambda,
    RunnableParallel,
    RunnableRetry,
    RunnableWithFallbacks,
    StrOutputParser,
)
from chainmagic.errors import PATH_SEP, step_path


class Flaky:
    """Fails ``failures`` times with ``error``, then answers; records when it was called."""

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.times: list[float] = []

    def __call__(self, x):
        self.times.append(time.perf_counter())
        if len(self.times) <= self.failures:
            raise self.error(f"attempt {len(self.times)}")
        return f"ok {x}"

    async def acall(self, x):
        return self(x)

    @property
    def gaps(self) -> list[float]:
        return [b - a for a, b in pairwise(self.times)]


# -- retry -----------------------------------------------------------------------------------------


def test_retry_succeeds_after_failures():
    flaky = Flaky(2)
    step = RunnableLambda(flaky).with_retry(stop_after_attempt=3, backoff=0.01)
    assert isinstance(step, RunnableRetry)
    assert step.invoke(1) == "ok 1"
    assert len(flaky.times) == 3


def test_retry_gives_up_after_the_last_attempt_with_the_last_error():
    flaky = Flaky(5)
    step = RunnableLambda(flaky, name="flaky").with_retry(stop_after_attempt=2, backoff=0.01)
    with pytest.raises(Exception) as info:
        step.invoke(1)
    assert len(flaky.times) == 2
    assert step_path(info.value) == ["flaky"]
    assert str(info.value) == "attempt 2"


def test_retry_waits_with_exponential_backoff():
    flaky = Flaky(3)
    step = RunnableLambda(flaky).with_retry(stop_after_attempt=4, backoff=0.05, backoff_factor=2)
    step.invoke(1)
    expected = [0.05, 0.1, 0.2]
    for gap, want in zip(flaky.gaps, expected):
        assert want * 0.95 <= gap < want + 0.1


def test_retry_waits_are_capped_and_have_no_jitter_by_default():
    step = RunnableLambda(len).with_retry(backoff=0.1, backoff_factor=3, max_backoff=0.5)
    assert [step.wait(n) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.3, 0.5, 0.5])
    assert [step.wait(2) for _ in range(20)] == [step.wait(2)] * 20


def test_retry_jitter_is_opt_in():
    step = RunnableLambda(len).with_retry(backoff=0.1, jitter=0.5)
    waits = {step.wait(1) for _ in range(50)}
    assert len(waits) > 1
    assert all(0.05 <= w <= 0.15 for w in waits)
    lcel_flag = RunnableLambda(len).with_retry(backoff=0.1, wait_exponential_jitter=True)
    assert lcel_flag.jitter == 0.1


def test_retry_only_on_chosen_exception_types():
    flaky = Flaky(1, error=ValueError)
    step = RunnableLambda(flaky).with_retry(
        retry_if_exception_type=(ConnectionError,), backoff=0.01
    )
    with pytest.raises(Exception) as info:
        step.invoke(1)
    assert isinstance(info.value, ValueError)
    assert len(flaky.times) == 1


def test_retry_needs_at_least_one_attempt():
    with pytest.raises(ValueError, match="at least 1"):
        RunnableLambda(len).with_retry(stop_after_attempt=0)


async def test_retry_async():
    flaky = Flaky(2)
    step = RunnableLambda(flaky.acall).with_retry(stop_after_attempt=3, backoff=0.02)
    assert await step.ainvoke(2) == "ok 2"
    assert len(flaky.times) == 3
    assert all(gap >= 0.019 for gap in flaky.gaps)


def test_retry_of_a_failing_fake_model_keeps_the_models_path():
    model = FakeChatModel(fail_rate=1.0).with_config(run_name="model")
    chain = RunnableParallel(
        poem="{topic}" | model.with_retry(stop_after_attempt=2, backoff=0.01)
    ).with_config(run_name="map_chain")
    with pytest.raises(Exception) as info:
        chain.invoke({"topic": "x"})
    assert PATH_SEP.join(step_path(info.value)) == "map_chain › poem › model"


def test_retry_of_a_sequence_sees_the_inner_cause():
    flaky = Flaky(1)
    step = (RunnableLambda(str) | RunnableLambda(flaky)).with_retry(
        retry_if_exception_type=(ConnectionError,), backoff=0.01
    )
    assert step.invoke(3) == "ok 3"


def test_retry_streams_and_retries_only_before_the_first_chunk():
    flaky = Flaky(1)
    step = RunnableLambda(flaky).with_retry(backoff=0.01)
    assert list(step.stream(1)) == ["ok 1"]

    calls = []

    def cut(chunks):
        calls.append(1)
        for _ in chunks:
            yield "half"
            raise ConnectionError("dropped")

    from chainmagic.core import RunnableGenerator

    streaming = RunnableGenerator(cut).with_retry(backoff=0.01)
    seen = []
    with pytest.raises(Exception):
        for chunk in streaming.stream(None):
            seen.append(chunk)
    assert seen == ["half"]  # a half-sent answer is never repeated
    assert len(calls) == 1


async def test_retry_astreams():
    flaky = Flaky(2)
    step = RunnableLambda(flaky.acall).with_retry(backoff=0.01)
    assert [c async for c in step.astream(1)] == ["ok 1"]


# -- fallbacks -------------------------------------------------------------------------------------


def test_fallbacks_answer_when_the_step_fails():
    primary = FakeChatModel(fail_rate=1.0)
    backup = FakeChatModel(["from the backup"])
    chain = "{q}" | primary.with_fallbacks([backup]) | StrOutputParser()
    assert isinstance(chain.steps[1], RunnableWithFallbacks)
    assert chain.invoke({"q": "hi"}) == "from the backup"


async def test_fallbacks_async():
    step = RunnableLambda(Flaky(9)).with_fallbacks([lambda x: "fallback"])
    assert await step.ainvoke(1) == "fallback"


def test_fallbacks_are_tried_in_order_and_skipped_when_not_needed():
    calls = []

    def make(name, fail):
        def body(x):
            calls.append(name)
            if fail:
                raise ConnectionError(name)
            return name

        return body

    step = RunnableLambda(make("a", True)).with_fallbacks(
        [make("b", True), make("c", False), make("d", False)]
    )
    assert step.invoke(None) == "c"
    assert calls == ["a", "b", "c"]
    assert RunnableLambda(make("e", False)).with_fallbacks([make("f", False)]).invoke(1) == "e"


def test_when_every_fallback_fails_the_first_failure_is_raised():
    step = RunnableLambda(Flaky(9, ValueError), name="primary").with_fallbacks(
        [RunnableLambda(Flaky(9, KeyError))]
    )
    with pytest.raises(Exception) as info:
        step.invoke(1)
    assert isinstance(info.value, ValueError)
    assert step_path(info.value) == ["primary"]


def test_fallbacks_only_for_chosen_exceptions():
    step = RunnableLambda(Flaky(9, ValueError)).with_fallbacks(
        [lambda x: "fallback"], exceptions_to_handle=(ConnectionError,)
    )
    with pytest.raises(Exception) as info:
        step.invoke(1)
    assert isinstance(info.value, ValueError)


# -- with_config -----------------------------------------------------------------------------------


def test_with_config_run_name_labels_the_step():
    step = RunnableLambda(len).with_config(run_name="count")
    assert isinstance(step, RunnableBinding)
    assert step.name == "count"
    assert repr(step) == "count"
    assert step.invoke("abc") == 3


def test_with_config_tags_are_kept():
    step = RunnableLambda(len).with_config(run_name="count", tags=["fast", "local"])
    assert step.config == {"run_name": "count", "tags": ["fast", "local"]}
    assert step.invoke("ab") == 2


def test_with_config_merges_instead_of_nesting():
    step = RunnableLambda(len).with_config(tags=["a"]).with_config(run_name="n")
    assert isinstance(step.bound, RunnableLambda)
    assert step.config == {"tags": ["a"], "run_name": "n"}


def test_with_config_keeps_the_inner_name_without_run_name():
    step = RunnableLambda(len).with_config(tags=["x"])
    assert step.name == "len"

    def boom(x):
        raise ValueError("no")

    with pytest.raises(Exception) as info:
        RunnableLambda(boom).with_config(tags=["x"]).invoke(1)
    assert step_path(info.value) == ["boom"]


def test_with_config_accepts_a_config_dict():
    step = RunnableLambda(len).with_config({"run_name": "from_dict", "tags": ["t"]})
    assert step.name == "from_dict"


async def test_with_config_streams_and_ainvokes():
    step = ("{x}" | FakeChatModel() | StrOutputParser()).with_config(run_name="chain")
    assert await step.ainvoke({"x": "a b"}) == "a b"
    assert list(step.stream({"x": "a b"})) == ["a", " b"]
    assert [c async for c in step.astream({"x": "a b"})] == ["a", " b"]


def test_a_branch_is_named_by_its_key_with_or_without_a_wrapper():
    failing = RunnableLambda(Flaky(9), name="inner")
    for branch in (failing, failing.with_retry(stop_after_attempt=1), failing.with_config(tags=[])):
        chain = RunnableParallel(a=branch, b=lambda x: x)
        with pytest.raises(Exception) as info:
            chain.invoke(1)
        assert step_path(info.value) == ["a"]
