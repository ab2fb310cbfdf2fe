"""Chat completions through the real openai client: plain, streamed, scripted, cut."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from chainmagic.testing import OpenAIServer

pytest_plugins = ["chainmagic.testing.fixtures"]

USER = [{"role": "user", "content": "hello there world"}]


@pytest.fixture
def client(openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=openai_server.base_url, api_key="test-key", max_retries=0) as c:
        yield c


def ask(client: openai.OpenAI, text: str, **kwargs) -> str:
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kwargs
    )
    return reply.choices[0].message.content


def test_plain_chat_echoes_in_openai_shape(client, openai_server):
    reply = client.chat.completions.create(model="my-model", messages=USER)
    assert reply.id.startswith("chatcmpl-")
    assert reply.object == "chat.completion"
    assert reply.model == "my-model"
    assert reply.created > 0
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "hello there world"
    assert choice.finish_reason == "stop"
    assert reply.usage.prompt_tokens == 3
    assert reply.usage.completion_tokens == 3
    assert reply.usage.total_tokens == 6
    assert openai_server.counts == {"/v1/chat/completions": 1}


def test_max_tokens_cuts_with_finish_reason_length(client):
    reply = client.chat.completions.create(model="m", messages=USER, max_tokens=2)
    assert reply.choices[0].message.content == "hello there"
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 2


def test_echo_reads_text_parts_and_last_user_message(client):
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
    ]
    reply = client.chat.completions.create(model="m", messages=messages)
    assert reply.choices[0].message.content == "second"


def test_stream_with_usage_chunk(client, openai_server):
    text = "streaming is word by word"
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": text}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(content) == text
    assert sum(1 for piece in content if piece) == 5  # one chunk per word-ish token
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == 5
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + 5
    assert openai_server.last_request.json["stream"] is True


def test_stream_without_usage_has_no_usage_chunk(client):
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_chunk_delay_spaces_out_the_chunks_of_text(client, openai_server):
    import time

    openai_server.latency, openai_server.chunk_delay = 0.05, 0.2
    start = time.perf_counter()
    stamps = [
        time.perf_counter() - start
        for chunk in client.chat.completions.create(model="m", messages=USER, stream=True)
        if chunk.choices and chunk.choices[0].delta.content
    ]
    assert len(stamps) == 3  # hello, there, world: two gaps of 200 ms
    assert stamps[-1] - stamps[0] >= 0.39
    # the first text comes `latency` after the request, not one chunk_delay later
    assert 0.05 <= stamps[0] < 0.2


def test_the_server_keeps_when_each_stream_left_it(client, openai_server):
    openai_server.latency, openai_server.chunk_delay = 0.05, 0.1
    assert openai_server.stream_timings == []
    list(client.chat.completions.create(model="m", messages=USER, stream=True))
    ask(client, "not streamed")
    (timing,) = openai_server.stream_timings
    assert len(timing.writes) == 3  # one write per chunk of text, the first with the head
    assert 0.05 <= timing.ttft < 0.15  # counted from the request's arrival, as the latency is
    assert 0.095 <= timing.itl < 0.15  # on schedule: the gaps do not add up their overshoots
    openai_server.reset()
    assert openai_server.stream_timings == []


def test_a_stream_is_written_in_one_burst_per_chunk_of_text():
    from chainmagic.testing.responses import _bursts

    frames = [(b"role", False), (b"one", True), (b"two", True), (b"finish", False), (b"end", False)]
    assert _bursts(b"head|", frames) == [b"head|roleone", b"twofinishend"]
    assert _bursts(b"head|", [(b"role", False)]) == [b"head|role"]  # a stream cut after the role
    assert _bursts(b"head|", []) == [b"head|"]


def test_scripted_list_cycles(client, openai_server):
    openai_server.replies = ["one", "two"]
    assert [ask(client, "x") for _ in range(3)] == ["one", "two", "one"]


def test_single_string_is_one_reply_not_characters(client, openai_server):
    openai_server.replies = "always this"
    assert ask(client, "x") == ask(client, "y") == "always this"


def test_scripted_regex_mapping_first_match_wins_else_echo(client, openai_server):
    openai_server.replies = {r"(?i)capital": "Paris", r"\d+": "a number", r".*": "fallback"}
    assert ask(client, "What is the CAPITAL of France?") == "Paris"
    assert ask(client, "pick 42") == "a number"
    openai_server.replies = {r"capital": "Paris"}
    assert ask(client, "no match here") == "no match here"


def test_scripted_callable_gets_all_messages(client, openai_server):
    seen = []

    def reply(messages):
        seen.append(messages)
        return f"{len(messages)} messages, last: {messages[-1]['content']}"

    openai_server.replies = reply
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    out = client.chat.completions.create(model="m", messages=messages)
    assert out.choices[0].message.content == "2 messages, last: q"
    assert seen == [messages]


def test_broken_reply_function_is_a_500_naming_the_error(client, openai_server):
    def reply(messages):
        raise KeyError("oops")

    openai_server.replies = reply
    with pytest.raises(openai.InternalServerError, match="KeyError"):
        ask(client, "x")


def test_bad_regex_fails_at_configuration_time(openai_server):
    import re

    with pytest.raises(re.error):
        openai_server.replies = {"(unclosed": "x"}


def test_cut_stream_raises_on_the_client_without_finish_reason(client, openai_server):
    openai_server.cut_stream_next(1, after_chunks=2)
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="m", messages=USER, stream=True):
            received.append(chunk)
    assert [c.choices[0].delta.content for c in received] == ["", "hello"]
    assert all(c.choices[0].finish_reason is None for c in received)
    assert openai_server.pending_faults == (0, 0)
    # the next stream is whole again
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_cut_stream_only_applies_to_streams(client, openai_server):
    openai_server.cut_stream_next(1, after_chunks=0)
    assert ask(client, "plain requests are untouched") == "plain requests are untouched"
    assert openai_server.pending_faults == (0, 1)
    with pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(model="m", messages=USER, stream=True))


def test_missing_messages_is_a_400(client):
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="m", messages=[])
