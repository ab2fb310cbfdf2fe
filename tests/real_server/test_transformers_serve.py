"""chainmagic against ``transformers serve`` (a server nobody here wrote), through the real client.

``tiny-chat`` answers greedily, so an answer is the same every time: a plain call, a stream, a batch
and their async forms must all agree. The second half is what such a server sends that chainmagic's
own test server never does (FastAPI error bodies, a model it is pinned to, a missing endpoint), and
how each reads. The tests measure no speed: the figures are printed by ``%chaintime`` itself.
"""

from __future__ import annotations

import asyncio
import socket
from textwrap import dedent
from typing import Any

import pytest

from chainmagic.core import (
    ChatOpenAI,
    ChatPromptTemplate,
    OpenAIEmbeddings,
    RunnableParallel,
    StrOutputParser,
)
from chainmagic.display._timing_text import timing_text
from chainmagic.display.text import result_text
from chainmagic.errors import ChainRunError, ModelError
from chainmagic.run import BatchResult, ChainResult

from .served import Served

JOKE = "tell me a joke about {topic}"
POEM = "write a 2-line poem about {topic}"


@pytest.fixture
def model(real_server: Served) -> ChatOpenAI:
    return ChatOpenAI(real_server.model, base_url=real_server.base_url, max_retries=0)


def failure(call: Any) -> ModelError:
    try:
        call()
    except ChainRunError as exc:
        err = exc.cause
    except ModelError as exc:
        err = exc
    else:
        raise AssertionError("the call did not fail")
    assert isinstance(err, ModelError), err
    assert "\n" not in str(err)
    return err


# -- the model, every way of calling it ----------------------------------------------------------


def test_invoke_answers_briefly_and_stops(model, real_server):
    answer = model.invoke("tell me a joke about bear")
    assert "cross the road" in answer.content
    meta = answer.response_metadata
    assert (meta["finish_reason"], meta["model_name"]) == ("stop", real_server.model)
    assert "usage_estimated" not in meta  # this server reports usage
    usage = answer.usage_metadata
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_stream_batch_and_async_all_give_the_same_answer(model):
    question = "write a 2-line poem about owl"
    whole = model.invoke(question)
    chunks = list(model.stream(question))
    assert len(chunks) > 2
    assert "".join(c.content for c in chunks) == whole.content
    last = chunks[-1]
    assert last.response_metadata["finish_reason"] == "stop"
    assert last.usage_metadata == whole.usage_metadata  # sent by the server with the last chunk
    assert [m.content for m in model.batch([question] * 3)] == [whole.content] * 3

    async def the_async_ways() -> tuple[str, str, list[str]]:
        one = await model.ainvoke(question)
        streamed = "".join([c.content async for c in model.astream(question)])
        many = await model.abatch([question] * 3)
        return one.content, streamed, [m.content for m in many]

    assert asyncio.run(the_async_ways()) == (whole.content, whole.content, [whole.content] * 3)


def test_the_joke_poem_map(model):
    chain = RunnableParallel(
        joke=ChatPromptTemplate.from_template(JOKE) | model | StrOutputParser(),
        poem=ChatPromptTemplate.from_template(POEM) | model | StrOutputParser(),
    )
    out = chain.invoke({"topic": "cat"})
    assert "cross the road" in out["joke"]
    assert "sky" in out["poem"]
    assert [o["joke"] for o in chain.batch([{"topic": "cat"}] * 2)] == [out["joke"]] * 2


def test_max_tokens_cuts_the_answer_with_finish_reason_length(real_server):
    model = ChatOpenAI(real_server.model, base_url=real_server.base_url, max_tokens=3)
    answer = model.invoke("tell me a joke about bear")
    assert answer.response_metadata["finish_reason"] == "length"
    assert answer.usage_metadata["output_tokens"] == 3
    streamed = list(model.stream("tell me a joke about bear"))
    assert streamed[-1].response_metadata["finish_reason"] == "length"


def test_stop_ends_the_answer_at_the_stop_text(real_server):
    free = ChatOpenAI(real_server.model, base_url=real_server.base_url)
    stopped = ChatOpenAI(real_server.model, base_url=real_server.base_url, stop=["road"])
    whole = free.invoke("tell me a joke about bear").content
    cut = stopped.invoke("tell me a joke about bear").content
    assert "road" in whole
    assert whole.startswith(cut.removesuffix("road")) and len(cut) < len(whole)


def test_a_cancelled_stream_leaves_the_server_serving(model):
    async def cancel_after_one_chunk() -> None:
        async def read() -> None:
            async for _ in model.astream("write a 2-line poem about moon"):
                await asyncio.sleep(10)  # cancelled while holding the open stream

        task = asyncio.ensure_future(read())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_one_chunk())
    assert "cross the road" in model.invoke("tell me a joke about moon").content


def test_a_timeout_is_one_clear_message(real_server):
    model = ChatOpenAI(
        real_server.model, base_url=real_server.base_url, timeout=0.001, max_retries=0
    )
    err = failure(lambda: model.invoke("tell me a joke about bear"))
    assert str(err).startswith(
        f"the server at {real_server.base_url} did not answer within 0.001 s"
    )


def test_a_dead_port_says_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = ChatOpenAI("tiny-chat", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    for call in (lambda: model.invoke("x"), lambda: list(model.stream("x"))):
        err = failure(call)
        assert str(err).startswith(f"cannot reach the server at http://127.0.0.1:{port}/v1")
        assert str(err).endswith("is the server running?")


# -- what this server sends that chainmagic's own never does --------------------------------------


def test_a_model_the_server_does_not_serve_names_the_one_it_does(real_server):
    model = ChatOpenAI(base_url=real_server.base_url, max_retries=0)  # gpt-4o-mini by default
    err = failure(lambda: model.invoke("x"))
    assert err.status == 400
    assert str(err) == (
        f"the server at {real_server.base_url} does not serve the model 'gpt-4o-mini' "
        "(400: Server is pinned to 'tiny-chat'; requested 'gpt-4o-mini'.); it serves: tiny-chat"
    )
    assert "Error code" not in str(err)


def test_unknown_model_kwargs_reach_the_server_and_its_reason_comes_back(real_server):
    # The openai client would raise TypeError for "bogus_field"; it goes in the body instead,
    # and this server (strict about fields) refuses it with a FastAPI body: the reason is kept.
    model = ChatOpenAI(
        real_server.model,
        base_url=real_server.base_url,
        model_kwargs={"bogus_field": 1},
        max_retries=0,
    )
    err = failure(lambda: model.invoke("x"))
    assert err.status == 422
    assert str(err).endswith("(422): Unexpected fields in the request: {'bogus_field'}")


def test_a_base_url_without_v1_says_so(real_server):
    root = real_server.base_url.removesuffix("/v1")
    model = ChatOpenAI(real_server.model, base_url=root, max_retries=0)
    err = failure(lambda: model.invoke("x"))
    assert str(err) == (
        f"the server at {root} has no /chat/completions (404): Not Found; "
        f"is base_url missing /v1 (it is {root})?"
    )


def test_embeddings_on_a_server_without_them_name_the_missing_endpoint(real_server):
    embedder = OpenAIEmbeddings(base_url=real_server.base_url, max_retries=0)
    err = failure(lambda: embedder.embed_documents(["a bear"]))
    assert str(err) == (
        f"the server at {real_server.base_url} has no /v1/embeddings (404): Not Found; "
        "this server may not offer /v1/embeddings"
    )


# -- the magics -----------------------------------------------------------------------------------

MAP_CELL = dedent(
    """\
    %%chain map_chain {options}
    joke: "tell me a joke about {{topic}}" | model | str
    poem: "write a 2-line poem about {{topic}}" | model | str
    """
)


def test_chain_magic_with_an_openai_model_from_the_environment(ipython, real_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", real_server.base_url)
    ran = ipython.ok(MAP_CELL.format(options="--model openai:tiny-chat -i topic=bear -o -q"))
    result = ran.value
    assert isinstance(result, ChainResult) and result.status == "ok", result.error
    assert "cross the road" in result.output["joke"]
    assert "sky" in result.output["poem"]
    assert result.usage["total_tokens"] > 0 and not result.usage_estimated
    assert not result.cut_by_length


def test_a_notebook_model_with_base_url_batch_and_no_stream(ipython, real_server):
    ipython.ok(
        "from chainmagic.core import ChatOpenAI\n"
        f"model = ChatOpenAI('tiny-chat', base_url='{real_server.base_url}')"
    )
    ipython.ok(MAP_CELL.format(options="-q"))
    topics = [{"topic": t} for t in ("bear", "cat", "owl", "tea")]
    ipython.ns["topics"] = topics
    batch = ipython.ok("%chain map_chain --batch topics -o -q").value
    assert isinstance(batch, BatchResult)
    assert all("cross the road" in out["joke"] for out in batch.outputs)
    whole = ipython.ok("%chain map_chain -i topic=bear --no-stream -o -q").value
    streamed = ipython.ok("%chain map_chain -i topic=bear -o -q").value
    assert whole.output == streamed.output == batch.outputs[0]
    shown = ipython.ok("%chain map_chain -i topic=bear")
    assert "cross the road" in shown.seen()
    short = ipython.ok(
        f"short = ChatOpenAI('tiny-chat', base_url='{real_server.base_url}', max_tokens=2)"
    )
    assert short.error is None
    cut = ipython.ok('%chain "tell me a joke about {topic}" | short | str -i topic=bear -o -q')
    assert cut.value.cut_by_length and "cut by max_tokens" in result_text(cut.value)


def test_chaintime_against_the_real_server(ipython, real_server, capsys):
    ipython.ok(
        "from chainmagic.core import ChatOpenAI\n"
        f"model = ChatOpenAI('tiny-chat', base_url='{real_server.base_url}')"
    )
    ipython.ok(
        '%%chain -q\njoke_chain = "tell me a joke about {topic}" | model | str\n'
        'poem_chain = "write a 2-line poem about {topic}" | model | str\n'
        "map_chain = {joke: joke_chain, poem: poem_chain}"
    )
    ran = ipython.ok("%chaintime -i topic=bear joke_chain poem_chain map_chain -n 5 -o -q")
    timing = ran.value
    rows = {row.label: row for row in timing.rows}
    assert all(row.runs == 5 and row.failures == 0 for row in rows.values())
    mapped = rows["map_chain"]
    assert set(mapped.branches) == {"joke", "poem"} and mapped.speedup is not None
    overlaps = timing["map_chain"].overlaps
    with capsys.disabled():  # the figures, for whoever reads the test log
        print(f"\n%chaintime against transformers serve (overlaps {overlaps}):\n{timing!r}")
    # transformers serve generates for one request at a time: the map's branches take turns
    assert len(overlaps) >= 3 and mapped.overlapped is False
    assert (
        "the branches did not overlap: the server may process one request at a time"
        in timing_text(timing)
    )
