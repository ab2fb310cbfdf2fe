"""Events: every labelled step reports start/chunk/end/error with a monotonic time and its path."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from chainmagic.core import (
    ChatPromptTemplate,
    Event,
    FakeChatModel,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    StrOutputParser,
)
from chainmagic.core.calls import add
from chainmagic.core.events import Limiter, Run
from chainmagic.errors import PATH_SEP, step_path

MODES = ["invoke", "ainvoke", "stream", "astream"]


def run(chain, input, mode, config=None):
    """Call ``chain`` one of four ways; streams are added up into one output."""
    if mode == "invoke":
        return chain.invoke(input, config)
    if mode == "ainvoke":
        return asyncio.run(chain.ainvoke(input, config))
    if mode == "stream":
        out = None
        for chunk in chain.stream(input, config):
            out = chunk if out is None else add(out, chunk)
        return out

    async def collect():
        out = None
        async for chunk in chain.astream(input, config):
            out = chunk if out is None else add(out, chunk)
        return out

    return asyncio.run(collect())


def map_chain(fail: bool = False) -> RunnableParallel:
    model = FakeChatModel(latency=0.02).with_config(run_name="model")
    poem_model = FakeChatModel(latency=0.02, fail_on="poem" if fail else None)
    return RunnableParallel(
        joke=ChatPromptTemplate.from_template("joke about {topic}") | model | StrOutputParser(),
        poem=ChatPromptTemplate.from_template("poem about {topic}")
        | poem_model.with_config(run_name="model")
        | StrOutputParser(),
    ).with_config(run_name="map_chain")


def by_path(events: list[Event]) -> dict[tuple[str, ...], list[Event]]:
    out: dict[tuple[str, ...], list[Event]] = {}
    for event in events:
        out.setdefault(event.path, []).append(event)
    return out


@pytest.mark.parametrize("mode", MODES)
def test_every_labelled_step_starts_and_ends_with_its_path(mode):
    events: list[Event] = []
    lock = threading.Lock()

    def listen(event):
        with lock:
            events.append(event)

    t0 = time.perf_counter()
    out = run(map_chain(), {"topic": "bears"}, mode, {"listener": listen})
    t1 = time.perf_counter()
    assert out == {"joke": "joke about bears", "poem": "poem about bears"}
    paths = by_path(events)
    expected = {("map_chain",)}
    for key in ("joke", "poem"):
        expected |= {
            ("map_chain", key),
            ("map_chain", key, "ChatPromptTemplate"),
            ("map_chain", key, "model"),
            ("map_chain", key, "StrOutputParser"),
        }
    assert set(paths) == expected
    for path, evs in paths.items():
        kinds = [e.kind for e in evs]
        assert kinds[0] == "start", path
        assert kinds[-1] == "end", path
        assert kinds.count("start") == kinds.count("end") == 1, path
        assert set(kinds) <= {"start", "chunk", "end"}
        times = [e.t for e in evs]
        assert times == sorted(times), path
        assert all(t0 <= t <= t1 for t in times)
    root = paths[("map_chain",)]
    assert root[0].t <= min(e.t for e in events)
    assert root[-1].t >= max(e.t for e in events)
    assert root[-1].data == out
    assert root[0].data == {"topic": "bears"}
    assert paths[("map_chain", "poem", "model")][0].step.name == "model"


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_steps_of_a_sequence_follow_each_other_in_time(mode):
    events: list[Event] = []
    run(map_chain(), {"topic": "owls"}, mode, {"listener": events.append})
    paths = by_path(events)
    prompt, model, parser = (
        paths[("map_chain", "poem", name)]
        for name in ("ChatPromptTemplate", "model", "StrOutputParser")
    )
    assert prompt[-1].t <= model[0].t <= model[-1].t <= parser[0].t
    assert model[-1].t - model[0].t >= 0.015  # the model's latency shows in its span
    assert model[-1].data.content == "poem about owls"


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_streams_report_each_chunk(mode):
    events: list[Event] = []
    chain = "{x}" | FakeChatModel().with_config(run_name="model") | StrOutputParser()
    run(chain, {"x": "one two three"}, mode, {"listener": events.append})
    model_chunks = [e.data.content for e in events if e.kind == "chunk" and e.path == ("model",)]
    assert model_chunks == ["one", " two", " three"]
    parser = [e for e in events if e.path == ("StrOutputParser",)]
    assert [e.kind for e in parser] == ["start", "chunk", "chunk", "chunk", "end"]
    assert parser[-1].data == "one two three"
    root = [e for e in events if e.path == ()]
    assert [e.kind for e in root] == ["start", "chunk", "chunk", "chunk", "end"]
    assert root[0].data == {"x": "one two three"}
    assert [e.data for e in root[1:-1]] == ["one", " two", " three"]
    assert root[-1].data == "one two three"


@pytest.mark.parametrize("mode", MODES)
def test_a_failure_reports_error_events_outward(mode):
    events: list[Event] = []
    with pytest.raises(Exception) as info:
        run(map_chain(fail=True), {"topic": "bears"}, mode, {"listener": events.append})
    assert PATH_SEP.join(step_path(info.value)) == "map_chain › poem › model"
    errors = [e for e in events if e.kind == "error"]
    assert [e.path for e in errors] == [
        ("map_chain", "poem", "model"),
        ("map_chain", "poem"),
        ("map_chain",),
    ]
    assert all(e.data is info.value for e in errors)
    times = [e.t for e in errors]
    assert times == sorted(times)
    assert not any(e.kind == "end" and e.path == ("map_chain",) for e in events)


@pytest.mark.parametrize("mode", MODES)
def test_no_listener_gives_the_same_output(mode):
    chain = map_chain()
    with_listener = run(chain, {"topic": "cats"}, mode, {"listener": lambda e: None})
    assert run(chain, {"topic": "cats"}, mode) == with_listener
    assert run(chain, {"topic": "cats"}, mode, {}) == with_listener
    assert run(chain, {"topic": "cats"}, mode, {"tags": ["x"]}) == with_listener


def test_an_unlabelled_root_reports_with_the_empty_path():
    events: list[Event] = []
    chain = RunnableLambda(lambda x: x + 1) | RunnableLambda(lambda x: x * 2, name="double")
    assert chain.invoke(1, {"listener": events.append}) == 4
    assert [(e.kind, e.path) for e in events] == [
        ("start", ()),
        ("start", ("lambda",)),
        ("end", ("lambda",)),
        ("start", ("double",)),
        ("end", ("double",)),
        ("end", ()),
    ]
    assert [e.data for e in events] == [1, 1, 2, 2, 4, 4]


def test_run_name_in_the_config_labels_the_root():
    events: list[Event] = []
    RunnableLambda(lambda x: x).invoke(1, {"listener": events.append, "run_name": "root"})
    assert {e.path for e in events} == {("root",)}


def test_callbacks_are_called_too():
    first: list[Event] = []
    second: list[Event] = []
    RunnableLambda(lambda x: x).invoke(1, {"listener": first.append, "callbacks": [second.append]})
    assert [e.kind for e in first] == ["start", "end"]
    assert [e.kind for e in second] == ["start", "end"]


def test_batch_reports_each_input_under_its_index():
    events: list[Event] = []
    step = RunnableLambda(lambda x: x * 10, name="times10")
    assert step.batch([1, 2], {"listener": events.append}) == [10, 20]
    ends = {e.path: e.data for e in events if e.kind == "end"}
    assert ends == {("0", "times10"): 10, ("1", "times10"): 20}


def test_a_listener_on_with_config_sees_the_steps_inside():
    events: list[Event] = []
    chain = (
        RunnableLambda(lambda x: x, name="a") | RunnableLambda(lambda x: x, name="b")
    ).with_config(listener=events.append)
    chain.invoke(1)
    assert [(e.kind, e.path) for e in events] == [
        ("start", ("a",)),
        ("end", ("a",)),
        ("start", ("b",)),
        ("end", ("b",)),
    ]


def test_run_from_config_is_none_unless_someone_listens_or_bounds():
    assert Run.from_config(None) is None
    assert Run.from_config({}) is None
    assert Run.from_config({"tags": ["a"], "run_name": "x"}) is None
    listened = Run.from_config({"listener": print})
    assert listened is not None
    assert listened.listener is print
    bounded = Run.from_config({"max_concurrency": 3})
    assert bounded is not None
    assert bounded.limiter.limit == 3


def test_run_child_extends_the_path_and_emit_stamps_the_time():
    events: list[Event] = []
    root = Run(events.append)
    child = root.child("a").child("b")
    assert child.path == ("a", "b")
    before = time.perf_counter()
    child.emit("start", 1)
    assert events[0].kind == "start"
    assert events[0].path == ("a", "b")
    assert before <= events[0].t <= time.perf_counter()
    assert "start" in repr(events[0])


def test_limiter_counts_the_caller_as_one():
    limiter = Limiter(3)
    assert limiter.take(5) == 2
    assert limiter.take(1) == 0
    limiter.give(2)
    assert limiter.take(1) == 1
    with pytest.raises(ValueError, match="at least 1"):
        Limiter(0)


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_a_failure_mid_stream_closes_the_started_downstream_steps(mode):
    def tokens(chunks):
        for _ in chunks:
            yield "a"
            raise OSError("connection dropped")

    async def atokens(chunks):
        async for _ in chunks:
            yield "a"
            raise OSError("connection dropped")

    events: list[Event] = []
    model = RunnableGenerator(tokens, atokens, name="model")
    chain = model | StrOutputParser()
    with pytest.raises(Exception) as info:
        run(chain, None, mode, {"listener": events.append})
    assert step_path(info.value) == ["model"]
    spans = {path: [e.kind for e in evs] for path, evs in by_path(events).items() if path != ()}
    assert spans == {
        ("model",): ["start", "chunk", "error"],
        ("StrOutputParser",): ["start", "chunk", "error"],
    }
    assert all(e.data is info.value for e in events if e.kind == "error")


async def test_astream_events_yields_every_step_as_it_happens_then_ends():
    import time as _time

    from chainmagic.core import ChatPromptTemplate, FakeChatModel, RunnableLambda, RunnableParallel

    def nap(x):
        _time.sleep(0.05)  # a sync branch: its events come from a pool thread
        return x

    chain = RunnableParallel(
        joke=ChatPromptTemplate.from_template("{topic}") | FakeChatModel(latency=0.05),
        nap=RunnableLambda(nap),
    ).with_config(run_name="map_chain")
    seen = [(e.kind, e.path) async for e in chain.astream_events({"topic": "bear"})]
    assert seen[0] == ("start", ("map_chain",))
    assert seen[-1] == ("end", ("map_chain",))
    assert ("end", ("map_chain", "nap")) in seen
    assert ("start", ("map_chain", "joke", "FakeChatModel")) in seen


async def test_astream_events_raises_the_runs_failure_after_its_error_events():
    from chainmagic.core import FakeChatModel

    model = FakeChatModel(fail_on="x").with_config(run_name="model")
    kinds = []
    with pytest.raises(Exception):
        async for event in model.astream_events("x"):
            kinds.append((event.kind, event.path))
    assert kinds == [("start", ("model",)), ("error", ("model",))]
