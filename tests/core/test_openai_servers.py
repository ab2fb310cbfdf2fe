"""What servers other than OpenAI's send, and how chainmagic reports it (against the local server).

The local server answers in OpenAI's shapes unless told otherwise; here it is told to answer the
way ``transformers serve``, llama.cpp's server and proxies do (FastAPI error bodies, text pages,
streams without choices or with a broken event, per-token embeddings, no usage in streams). The
same cases against a real third-party server are in ``tests/real_server``.
"""

from __future__ import annotations

import socket

import openai
import pytest

from chainmagic.core import ChatOpenAI, OpenAIEmbeddings
from chainmagic.errors import ChainRunError, ModelError
from chainmagic.testing import OpenAIServer

pytest_plugins = ["chainmagic.testing.fixtures"]


@pytest.fixture(autouse=True)
def _no_ambient_openai(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def model(openai_server: OpenAIServer) -> ChatOpenAI:
    return ChatOpenAI(base_url=openai_server.base_url, max_retries=0)


def failure(call) -> ModelError:
    """The ModelError a call fails with (a chain run wraps it; a bare model raises it)."""
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


async def afailure(call) -> ModelError:
    try:
        await call()
    except ChainRunError as exc:
        err = exc.cause
    except ModelError as exc:
        err = exc
    else:
        raise AssertionError("the call did not fail")
    assert isinstance(err, ModelError), err
    return err


# -- 1. error reasons from any body shape --------------------------------------------------------


def test_fastapi_detail_string_keeps_the_servers_reason(model, openai_server):
    reason = "Server is pinned to 'tiny-chat'; requested 'gpt-4o-mini'"
    openai_server.fail_next(1, status=400, body={"detail": reason})
    err = failure(lambda: model.invoke("x"))
    assert str(err) == f"the server at {openai_server.base_url} refused the request (400): {reason}"
    assert err.status == 400
    assert isinstance(err.__cause__, openai.BadRequestError)


def test_fastapi_validation_list_keeps_where_and_why(model, openai_server):
    body = {"detail": [{"loc": ["body", "bogus_field"], "msg": "Extra inputs are not permitted"}]}
    openai_server.fail_next(1, status=422, body=body)
    err = failure(lambda: model.invoke("x"))
    assert "(422): body.bogus_field: Extra inputs are not permitted" in str(err)


def test_a_plain_text_error_page_keeps_its_first_line(model, openai_server):
    openai_server.fail_next(1, status=400, body="upstream said no\n<html>…</html>")
    err = failure(lambda: model.invoke("x"))
    assert str(err).endswith("refused the request (400): upstream said no")


@pytest.mark.parametrize("key", ["message", "error"])
def test_other_json_shapes_keep_the_reason(model, openai_server, key):
    openai_server.fail_next(1, status=400, body={key: "prompt too long"})
    assert str(failure(lambda: model.invoke("x"))).endswith("(400): prompt too long")


def test_a_404_without_v1_in_base_url_says_so(openai_server):
    model = ChatOpenAI(base_url=openai_server.url, max_retries=0)  # forgot /v1
    err = failure(lambda: model.invoke("x"))
    assert err.status == 404
    assert f"is base_url missing /v1 (it is {openai_server.url})?" in str(err)
    assert "Invalid URL" in str(err)  # the server's own reason stays


def test_a_404_for_an_endpoint_the_server_lacks_names_it(openai_server):
    openai_server.fail_next(1, status=404, body={"detail": "Not Found"})
    embedder = OpenAIEmbeddings(base_url=openai_server.base_url, max_retries=0)
    err = failure(lambda: embedder.embed_documents(["a"]))
    assert str(err) == (
        f"the server at {openai_server.base_url} has no /v1/embeddings (404): Not Found; "
        "this server may not offer /v1/embeddings"
    )


def test_an_unknown_model_lists_the_models_the_server_serves(openai_server):
    openai_server.only_listed_models = True
    openai_server.models = ["tiny-chat", "tiny-embed"]
    err = failure(lambda: ChatOpenAI("gpt-4o-mini", base_url=openai_server.base_url).invoke("x"))
    assert "does not serve the model 'gpt-4o-mini'" in str(err)
    assert str(err).endswith("it serves: tiny-chat, tiny-embed")
    assert err.status == 404


async def test_an_unknown_model_is_reported_the_same_way_async(openai_server):
    openai_server.only_listed_models = True
    openai_server.models = ["tiny-chat"]
    model = ChatOpenAI("nope", base_url=openai_server.base_url)
    err = await afailure(lambda: model.ainvoke("x"))
    assert str(err).endswith("it serves: tiny-chat")


def test_a_refusal_with_a_served_model_keeps_the_plain_message(model, openai_server):
    openai_server.fail_next(1, status=400, body={"detail": "bad temperature"})
    err = failure(lambda: model.invoke("x"))
    assert "does not serve" not in str(err)
    assert openai_server.counts.get("/v1/models") == 1  # asked once, found the model listed


# -- 2. and 3. streams that end badly, each named after the server -------------------------------


def test_a_stream_with_no_choices_says_so(model, openai_server):
    openai_server.spoil_stream_next(1, "no_choices")
    err = failure(lambda: list(model.stream("x")))
    assert str(err) == (
        f"the server at {openai_server.base_url} sent a stream of 3 chunk(s) without any choices"
    )


def test_a_malformed_stream_event_is_one_clear_message(model, openai_server):
    openai_server.spoil_stream_next(1, "malformed")
    err = failure(lambda: list(model.stream("x")))
    assert str(err).startswith(
        f"the server at {openai_server.base_url} sent a stream event that is not valid JSON: "
    )


async def test_a_malformed_async_stream_event_is_one_clear_message(model, openai_server):
    openai_server.spoil_stream_next(1, "malformed")

    async def drain():
        return [c async for c in model.astream("x")]

    assert "sent a stream event that is not valid JSON" in str(await afailure(drain))


def test_a_cut_stream_names_the_server(model, openai_server):
    openai_server.cut_stream_next(1, after_chunks=2)
    err = failure(lambda: list(model.stream("one two three")))
    assert str(err).startswith(f"the connection to the server at {openai_server.base_url} dropped")


def test_a_stream_that_never_connected_is_not_called_dropped():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = ChatOpenAI(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    err = failure(lambda: list(model.stream("x")))
    assert str(err).startswith(f"cannot reach the server at http://127.0.0.1:{port}/v1")
    assert "mid-stream" not in str(err)


def test_spoil_stream_next_rejects_an_unknown_fault(openai_server):
    with pytest.raises(ValueError, match="malformed, no_choices"):
        openai_server.spoil_stream_next(1, "garbled")


# -- 4. per-token embeddings ----------------------------------------------------------------------


def test_per_token_embeddings_are_a_model_error_not_a_numpy_crash(openai_server):
    openai_server.embed_per_token = True
    embedder = OpenAIEmbeddings(base_url=openai_server.base_url)
    for call in (
        lambda: embedder.embed_documents(["two words", "three words here"]),
        lambda: embedder.embed_array(["two words"]),
    ):
        err = failure(call)
        assert "returned one vector per token instead of one vector per text" in str(err)
        assert openai_server.base_url in str(err)


async def test_per_token_embeddings_async(openai_server):
    openai_server.embed_per_token = True
    embedder = OpenAIEmbeddings(base_url=openai_server.base_url)
    err = await afailure(lambda: embedder.aembed_documents(["two words"]))
    assert "one vector per token" in str(err)


# -- 5. model_kwargs the client does not know go in the body --------------------------------------


def test_unknown_model_kwargs_travel_in_the_request_body(openai_server):
    model = ChatOpenAI(
        base_url=openai_server.base_url,
        model_kwargs={"repeat_penalty": 1.1, "user": "u1"},
        extra_body={"top_k": 5},
    )
    assert model.invoke("hello").content == "hello"
    sent = openai_server.last_request.json
    assert (sent["repeat_penalty"], sent["top_k"], sent["user"]) == (1.1, 5, "u1")
    list(model.stream("hello"))
    assert openai_server.last_request.json["repeat_penalty"] == 1.1


# -- 6. usage the server did not report is marked as estimated ------------------------------------


def test_stream_usage_is_marked_estimated_when_the_server_ignores_stream_options(
    model, openai_server
):
    last = list(model.stream("one two"))[-1]
    assert "usage_estimated" not in last.response_metadata
    openai_server.ignore_stream_options = True
    last = list(model.stream("one two"))[-1]
    assert last.response_metadata["usage_estimated"] is True
    assert last.usage_metadata["output_tokens"] == 2  # still counted, just not by the server


# -- 7. an answer cut by max_tokens says so --------------------------------------------------------


def test_max_tokens_gives_finish_reason_length(openai_server):
    model = ChatOpenAI(base_url=openai_server.base_url, max_tokens=2)
    assert model.invoke("one two three").response_metadata["finish_reason"] == "length"
    assert list(model.stream("one two three"))[-1].response_metadata["finish_reason"] == "length"


def test_chaintime_marks_tokens_it_counted_itself(model, openai_server):
    from chainmagic.display._timing_text import timing_text
    from chainmagic.run.timing import time_chains
    from chainmagic.run.timing_result import TimingResult

    openai_server.ignore_stream_options = True
    session = time_chains({"m": model}, "one two", runs=2, warmup=0)
    result = TimingResult(session.timings)
    assert all(r.tokens_estimated for r in result.chains["m"].records)
    assert "m: tokens (estimated): the server reported no usage" in timing_text(result)
    again = TimingResult.from_json(result.to_json())  # the mark is kept with the runs
    assert all(r.tokens_estimated for r in again.chains["m"].records)
    openai_server.ignore_stream_options = False
    reported = TimingResult(time_chains({"m": model}, "one two", runs=2, warmup=0).timings)
    assert "estimated" not in timing_text(reported)
