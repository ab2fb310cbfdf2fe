"""Recorder and branch_layout: where a chain's branch cards come from, and how events fill them."""

from __future__ import annotations

from operator import itemgetter

import pytest

from chainmagic.core import (
    AIMessage,
    AIMessageChunk,
    ChatPromptTemplate,
    FakeChatModel,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    StrOutputParser,
)
from chainmagic.core.events import Event
from chainmagic.run import execute
from chainmagic.run.recorder import Recorder, branch_layout, finalize_output
from chainmagic.run.result import ChainResult


def model(latency: float = 0.0) -> FakeChatModel:
    return FakeChatModel(latency=latency, name="model")


def retrieval_chain():
    """``{context, question} | prompt | model``: the map gathers the prompt's inputs."""
    prompt = ChatPromptTemplate.from_template("{context}\n\nQ: {question}")
    gather = {
        "context": RunnableLambda(lambda q: f"notes on {q}"),
        "question": RunnablePassthrough(),
    }
    return gather | prompt | model() | StrOutputParser()


# -- branch_layout -------------------------------------------------------------------------------


def test_a_map_at_the_root_is_the_whole_chain():
    chain = RunnableParallel(joke=model(), poem=model())
    assert branch_layout(chain) == ((), ["joke", "poem"])


def test_a_map_that_starts_a_sequence_gathers_its_inputs():
    assert branch_layout(retrieval_chain()) == ((), ["context", "question"])


def test_assign_lays_out_its_new_keys():
    chain = RunnablePassthrough.assign(a=itemgetter("x"), b=itemgetter("x"))
    assert branch_layout(chain) == ((), ["a", "b"])
    assert branch_layout(RunnableLambda(dict) | chain) == ((), ["a", "b"])


def test_wrapped_maps_are_seen_through():
    chain = RunnableParallel(joke=model(), poem=model()).with_config(run_name="map_chain")
    assert branch_layout(chain) == ((), ["joke", "poem"])
    assert branch_layout(chain.with_retry()) == ((), ["joke", "poem"])


def test_a_labelled_map_inside_a_sequence_is_a_prefix():
    gather = RunnableParallel(a=RunnablePassthrough(), b=RunnablePassthrough())
    chain = RunnableLambda(str) | gather.with_config(run_name="gather") | RunnableLambda(len)
    assert branch_layout(chain) == (("gather",), ["a", "b"])


def test_a_labelled_sequence_starting_with_a_labelled_map():
    inner = RunnableParallel(x=RunnablePassthrough()).with_config(run_name="inner")
    outer = (inner | RunnableLambda(str)).with_config(run_name="outer")
    assert branch_layout(outer) == (("inner",), ["x"])


def test_no_map_no_branches():
    chain = ChatPromptTemplate.from_template("{q}") | model() | StrOutputParser()
    assert branch_layout(chain) == ((), [])
    assert branch_layout(model()) == ((), [])
    assert branch_layout(RunnableLambda(str).with_config(run_name="x")) == ((), [])


# -- Recorder, driven by events -----------------------------------------------------------------


class Changes(list):
    def __call__(self, kind, key):
        self.append((kind, key))


def recorder_for(chain) -> tuple[Recorder, ChainResult, Changes]:
    result = ChainResult()
    changes = Changes()
    recorder = Recorder(result, chain, changes)
    recorder.t0 = 100.0
    return recorder, result, changes


def test_events_fill_branches_steps_and_root_text():
    fake = model()
    recorder, result, changes = recorder_for(RunnableParallel(joke=fake, poem=fake))
    assert {k: b.status for k, b in result.branches.items()} == {
        "joke": "pending",
        "poem": "pending",
    }

    final = AIMessage("ha ha", usage_metadata={"input_tokens": 2, "output_tokens": 2})
    for event in [
        Event("start", ("c",), 100.0, "in"),
        Event("start", ("c", "joke"), 100.1, "in", fake),
        Event("chunk", ("c", "joke"), 100.3, AIMessageChunk("ha"), fake),
        Event("chunk", ("c",), 100.3, {"joke": AIMessageChunk("ha")}),
        Event("chunk", ("c", "joke"), 100.4, AIMessageChunk(" ha"), fake),
        Event("end", ("c", "joke"), 100.5, final, fake),
    ]:
        recorder(event)

    joke = result.branches["joke"]
    assert (joke.status, joke.text, joke.output) == ("ok", "ha ha", final)
    assert abs(joke.latency - 0.4) < 1e-9
    assert abs(joke.ttft - 0.2) < 1e-9
    assert result.branches["poem"].status == "pending"
    assert [s.path for s in result.steps] == [("c", "joke")]
    assert result.steps[0].usage == {"input_tokens": 2, "output_tokens": 2}
    assert abs(result.ttft - 0.3) < 1e-9
    assert result.text == ""  # a map's root chunks are dicts, not text
    assert (
        changes
        == [("branch", "joke"), ("branch", "joke"), ("root", None)] + [("branch", "joke")] * 2
    )


def test_root_text_accumulates_from_string_and_message_chunks():
    recorder, result, changes = recorder_for(model())
    recorder(Event("start", (), 100.0, "hi"))
    recorder(Event("chunk", (), 100.2, AIMessageChunk("hel")))
    recorder(Event("chunk", (), 100.3, "lo"))
    assert result.text == "hello"
    assert abs(result.ttft - 0.2) < 1e-9
    assert changes == [("root", None), ("root", None)]


def test_an_end_without_a_start_is_ignored():
    recorder, result, changes = recorder_for(model())
    recorder(Event("start", ("c",), 100.0))
    recorder(Event("end", ("c", "ghost"), 100.1, "x"))
    assert result.steps == []
    assert changes == []


def test_usage_is_read_from_models_only():
    message = AIMessage("x", usage_metadata={"total_tokens": 3})
    recorder, result, _ = recorder_for(RunnableLambda(str))
    recorder(Event("start", ("c",), 100.0))
    recorder(Event("start", ("c", "lambda"), 100.0, None, RunnableLambda(str)))
    recorder(Event("end", ("c", "lambda"), 100.1, message, RunnableLambda(str)))
    assert result.steps[0].usage is None
    assert result.usage == {}


def test_a_failed_branch_keeps_its_error():
    fake = model()
    recorder, result, changes = recorder_for(RunnableParallel(a=fake, b=fake))
    error = ValueError("no")
    recorder(Event("start", ("c",), 100.0))
    recorder(Event("start", ("c", "a"), 100.0, None, fake))
    recorder(Event("error", ("c", "a"), 100.2, error, fake))
    branch = result.branches["a"]
    assert (branch.status, branch.error) == ("error", error)
    assert branch.end == pytest.approx(0.2)
    assert (result.steps[0].status, result.steps[0].error) == ("error", error)
    assert changes[-1] == ("branch", "a")


def test_deeper_steps_of_a_branch_are_steps_not_branch_updates():
    recorder, result, changes = recorder_for(RunnableParallel(a=model(), b=model()))
    recorder(Event("start", ("c",), 100.0))
    recorder(Event("start", ("c", "a"), 100.0))
    recorder(Event("start", ("c", "a", "model"), 100.0))
    recorder(Event("chunk", ("c", "a", "model"), 100.1, "tok"))
    recorder(Event("end", ("c", "a", "model"), 100.2, "tok"))
    assert changes == [("branch", "a"), ("step", "a"), ("step", "a")]
    assert result.branches["a"].text == ""
    assert result.steps[1].first_chunk is not None


# -- the recorder on real runs -------------------------------------------------------------------


def test_a_retrieval_style_chain_shows_the_gathered_inputs_as_branches():
    result = execute(retrieval_chain(), "what is lcel?")

    assert result.status == "ok", result.error
    assert result.branches["context"].output == "notes on what is lcel?"
    assert result.branches["question"].output == "what is lcel?"
    assert all(b.status == "ok" for b in result.branches.values())
    assert result.output == "notes on what is lcel?\n\nQ: what is lcel?"
    assert result.text == result.output


def test_a_prefixed_map_fills_its_branches():
    gather = RunnableParallel(
        context=RunnableLambda(lambda q: f"notes on {q}"), question=RunnablePassthrough()
    ).with_config(run_name="gather")
    chain = gather | ChatPromptTemplate.from_template("{context}: {question}") | model(0.05)

    result = execute(chain, "q", name="rag")

    assert result.status == "ok", result.error
    assert {k: b.output for k, b in result.branches.items()} == {
        "context": "notes on q",
        "question": "q",
    }
    assert ("rag", "gather", "context") in {s.path for s in result.steps}
    assert result.usage["total_tokens"] > 0


def test_a_model_labelled_with_config_still_reports_its_usage():
    chain = ChatPromptTemplate.from_template("{q}") | FakeChatModel().with_config(run_name="llm")

    result = execute(chain, {"q": "two words"})

    llm = next(s for s in result.steps if s.path == ("llm",))
    assert llm.usage == {"input_tokens": 2, "output_tokens": 2, "total_tokens": 4}
    assert result.usage == llm.usage


def test_a_retried_model_reports_its_usage_once():
    chain = ChatPromptTemplate.from_template("{q}") | FakeChatModel(name="model").with_retry()

    result = execute(chain, {"q": "two words"}, stream=False)

    assert result.usage == {"input_tokens": 2, "output_tokens": 2, "total_tokens": 4}


# -- finalize_output -----------------------------------------------------------------------------


def test_finalize_output_makes_chunks_whole_messages_recursively():
    chunk = AIMessageChunk("hi", id="1", usage_metadata={"total_tokens": 2})
    whole = finalize_output({"a": chunk, "b": {"c": chunk}, "d": "text"})
    assert type(whole["a"]) is AIMessage
    assert whole["a"].usage_metadata == {"total_tokens": 2}
    assert type(whole["b"]["c"]) is AIMessage
    assert whole["d"] == "text"
    assert finalize_output([chunk]) == [chunk]  # only dicts are walked
    assert finalize_output(None) is None


def test_a_retry_shows_on_its_branch_and_keeps_the_step_going():
    from chainmagic.core.retries import Retry

    fake = model()
    recorder, result, changes = recorder_for(RunnableParallel(joke=fake, poem=fake))
    for event in [
        Event("start", ("c",), 100.0, "in"),
        Event("start", ("c", "joke"), 100.1, "in", fake),
        Event("retry", ("c", "joke"), 100.2, Retry("429", 1, 2, 0.5), fake),
    ]:
        recorder(event)
    joke = result.branches["joke"]
    assert (joke.status, joke.note) == ("running", "retrying after 429, 1/2")
    assert result.steps[0].status == "running"  # a retry is not the step's end
    assert result.steps[0].retries == ["retrying after 429, 1/2"]
    assert changes[-1] == ("branch", "joke")


def test_a_retry_of_a_chain_without_branches_is_the_runs_note():
    fake = model()
    recorder, result, _ = recorder_for(fake | StrOutputParser())
    for event in [
        Event("start", ("c",), 100.0, "in"),
        Event("start", ("c", "model"), 100.1, "in", fake),
        Event("retry", ("c", "model"), 100.2, "retrying after connection error, 1/2", fake),
    ]:
        recorder(event)
    assert result.note == "retrying after connection error, 1/2"


# -- what a real server's model says about its answer ----------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_a_model_answer_cut_by_max_tokens_and_estimated_usage_reach_the_result(stream):
    from chainmagic.core import ChatOpenAI
    from chainmagic.display import result_text
    from chainmagic.display.html import result_html
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(max_lifetime=60) as server:
        server.ignore_stream_options = True  # as llama.cpp's server: no usage in a stream
        short = ChatOpenAI(base_url=server.base_url, max_tokens=2)
        whole = ChatOpenAI(base_url=server.base_url)
        chain = RunnableParallel(
            joke=ChatPromptTemplate.from_template("one two three {t}") | short | StrOutputParser(),
            poem=ChatPromptTemplate.from_template("{t}") | whole | StrOutputParser(),
        )
        result = execute(chain, {"t": "bear"}, name="map_chain", stream=stream)
    assert result.status == "ok", result.error
    assert result.output == {"joke": "one two", "poem": "bear"}
    assert (result.branches["joke"].cut_by_length, result.branches["poem"].cut_by_length) == (
        True,
        False,
    )
    assert result.cut_by_length == ["map_chain › joke › ChatOpenAI"]
    assert result.usage_estimated is stream  # a whole answer (not streamed) has the server's usage
    footer = result_text(result).splitlines()[-1]
    assert footer.endswith("cut by max_tokens: joke")
    assert ("tokens (estimated)" in footer) is stream
    assert "cut by max_tokens" in result_html(result)
