"""Auth, injected failures, retries, latency and concurrency, seen by the openai client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import openai
import pytest

from chainmagic.testing import OpenAIServer

pytest_plugins = ["chainmagic.testing.fixtures"]

USER = [{"role": "user", "content": "hi"}]


_open_clients: list[openai.OpenAI] = []


def make_client(server: OpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("api_key", "test-key")
    kwargs.setdefault("max_retries", 0)
    client = openai.OpenAI(base_url=server.base_url, **kwargs)
    _open_clients.append(client)
    return client


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _open_clients:
        _open_clients.pop().close()


def test_wrong_key_is_401_without_echoing_the_key(openai_server):
    openai_server.api_key = "the-right-key"
    secret = "sk-wrong-but-secret-123"
    with pytest.raises(openai.AuthenticationError) as info:
        make_client(openai_server, api_key=secret).models.list()
    error = info.value
    assert error.status_code == 401
    assert "Incorrect API key provided" in str(error)
    assert secret not in str(error)
    assert secret not in error.response.text
    assert error.code == "invalid_api_key"
    assert "authorization" not in openai_server.last_request.headers
    assert [m.id for m in make_client(openai_server, api_key="the-right-key").models.list()]


def test_auth_is_checked_before_faults_are_consumed(openai_server):
    openai_server.api_key = "k"
    openai_server.fail_next(1, status=500)
    with pytest.raises(openai.AuthenticationError):
        make_client(openai_server, api_key="nope").models.list()
    assert openai_server.pending_faults == (1, 0)


def test_429_with_retry_after_zero_is_retried_and_counted(openai_server):
    openai_server.fail_next(1, status=429, retry_after=0)
    client = make_client(openai_server, max_retries=2)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=USER)
    assert raw.parse().choices[0].message.content == "hi"
    assert openai_server.requests == 2
    assert openai_server.retries == 1
    assert openai_server.last_request.headers["x-stainless-retry-count"] == "1"


def test_429_carries_retry_after_headers(openai_server):
    openai_server.fail_next(2, status=429, retry_after=0.01, message="slow down")
    with pytest.raises(openai.RateLimitError, match="slow down") as info:
        make_client(openai_server).chat.completions.create(model="m", messages=USER)
    headers = info.value.response.headers
    assert headers["retry-after"] == "0.01"
    assert headers["retry-after-ms"] == "10"
    assert info.value.code == "rate_limit_exceeded"
    # a fractional Retry-After makes the client's retry fast
    start = time.perf_counter()
    make_client(openai_server, max_retries=1).chat.completions.create(model="m", messages=USER)
    assert time.perf_counter() - start < 0.3
    assert openai_server.retries == 1
    assert openai_server.pending_faults == (0, 0)


def test_500s_raise_without_retries_and_are_retried_with_them(openai_server):
    openai_server.fail_next(1, status=500)
    with pytest.raises(openai.InternalServerError) as info:
        make_client(openai_server).embeddings.create(model="e", input="x")
    assert info.value.status_code == 500
    assert info.value.body["type"] == "server_error"
    openai_server.fail_next(2, status=503, retry_after=0.001)
    out = make_client(openai_server, max_retries=2).embeddings.create(model="e", input="x")
    assert len(out.data) == 1
    assert openai_server.retries == 2
    assert openai_server.counts == {"/v1/embeddings": 4}


def test_latency_global_and_per_request_header(openai_server):
    client = make_client(openai_server)
    start = time.perf_counter()
    client.models.list(extra_headers={"x-mock-latency": "0.2"})
    assert 0.2 <= time.perf_counter() - start < 0.5
    openai_server.latency = 0.15
    start = time.perf_counter()
    client.models.list()
    assert 0.15 <= time.perf_counter() - start < 0.4
    start = time.perf_counter()
    client.models.list(extra_headers={"x-mock-latency": "0"})  # the header wins
    assert time.perf_counter() - start < 0.1


async def test_64_concurrent_requests_overlap(openai_server):
    openai_server.latency = 0.2
    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="test-key", max_retries=0)
    start = time.perf_counter()
    replies = await asyncio.gather(
        *(
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"n{i}"}]
            )
            for i in range(64)
        )
    )
    elapsed = time.perf_counter() - start
    await client.close()
    assert sorted(r.choices[0].message.content for r in replies) == sorted(
        f"n{i}" for i in range(64)
    )
    assert elapsed < 64 * 0.2 / 4  # serial would take 12.8 s
    assert openai_server.max_in_flight >= 32
    assert openai_server.requests == 64
    assert openai_server.in_flight == 0


def test_reset_clears_counters_and_faults(openai_server):
    client = make_client(openai_server)
    client.models.list()
    openai_server.fail_next(3)
    openai_server.cut_stream_next(2)
    openai_server.reset()
    assert (openai_server.requests, openai_server.retries, openai_server.max_in_flight) == (0, 0, 0)
    assert openai_server.counts == {}
    assert openai_server.last_request is None
    assert openai_server.pending_faults == (0, 0)


def test_rate_limit_answers_429_past_n_requests_a_second(openai_server):
    openai_server.rate_limit = 3
    client = make_client(openai_server)
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with pytest.raises(openai.RateLimitError, match="rate_limit of the mock"):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert openai_server.rate_limited == 1
    time.sleep(1.05)  # the window has moved on
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    openai_server.reset()
    assert openai_server.rate_limited == 0


# -- answering the way other servers do -------------------------------------------------------------


def test_a_failure_can_carry_any_body(openai_server):
    client = make_client(openai_server)
    openai_server.fail_next(1, status=422, body={"detail": [{"loc": ["body"], "msg": "no"}]})
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert info.value.body == {"detail": [{"loc": ["body"], "msg": "no"}]}
    openai_server.fail_next(1, status=400, body="plain words")
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert info.value.response.text == "plain words"
    assert info.value.response.headers["content-type"].startswith("text/plain")


def test_a_spoiled_stream_is_malformed_or_has_no_choices(openai_server):
    client = make_client(openai_server)
    openai_server.spoil_stream_next(1, "no_choices")
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert [c.choices for c in chunks] == [[], [], []]
    openai_server.spoil_stream_next(1, "malformed")
    with pytest.raises(ValueError):  # json.JSONDecodeError, from the client's SSE decoding
        list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert openai_server.pending_faults == (0, 0)
    assert len(list(client.chat.completions.create(model="m", messages=USER, stream=True))) > 1


def test_ignoring_stream_options_sends_no_usage(openai_server):
    client = make_client(openai_server)
    openai_server.ignore_stream_options = True
    stream = client.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    assert all(chunk.usage is None for chunk in stream)


def test_per_token_embeddings_and_only_listed_models(openai_server):
    client = make_client(openai_server)
    openai_server.embed_per_token = True
    data = client.embeddings.create(model="e", input=["one two three"], encoding_format="float")
    vector = data.data[0].embedding
    assert len(vector) == 3 and all(len(row) == 64 for row in vector)
    openai_server.only_listed_models = True
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="not-listed", messages=USER)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=USER).choices


def test_one_at_a_time_makes_requests_wait_their_turn(openai_server):
    openai_server.one_at_a_time = True
    openai_server.latency = 0.1

    async def two() -> float:
        client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="k", max_retries=0)
        async with client:
            start = time.perf_counter()
            await asyncio.gather(
                *(client.chat.completions.create(model="m", messages=USER) for _ in range(2))
            )
            return time.perf_counter() - start

    assert asyncio.run(two()) >= 0.2  # the second waited for the first: 2 × latency at least
