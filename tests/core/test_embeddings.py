"""HashingEmbeddings (offline, deterministic, lexical) and OpenAIEmbeddings over real HTTP."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import numpy as np
import openai
import pytest

from chainmagic.core import HashingEmbeddings, OpenAIEmbeddings
from chainmagic.errors import MissingCredentialsError, ModelError
from chainmagic.testing import OpenAIServer

pytest_plugins = ["chainmagic.testing.fixtures"]


@pytest.fixture(autouse=True)
def _no_ambient_openai(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def cosine(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- HashingEmbeddings -----------------------------------------------------------------------------


def test_hashing_vectors_are_unit_length_lists_of_floats():
    emb = HashingEmbeddings()
    vectors = emb.embed_documents(["harrison worked at kensho", "bears like honey"])
    assert len(vectors) == 2
    assert all(len(v) == 384 and isinstance(v[0], float) for v in vectors)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert len(emb.embed_query("x")) == 384
    assert len(HashingEmbeddings(dimensions=64).embed_query("x")) == 64


def test_hashing_is_lexical():
    emb = HashingEmbeddings()
    query = emb.embed_query("where did harrison work?")
    near = emb.embed_query("harrison worked at kensho")
    far = emb.embed_query("bears like to eat honey")
    assert cosine(query, near) > 0.5 > cosine(query, far)
    # case and simple inflections do not matter
    assert cosine(emb.embed_query("Cats WORKING"), emb.embed_query("cat works")) > 0.99


def test_hashing_is_the_same_in_every_process():
    """No salted hash(): a vector saved today matches a query embedded tomorrow."""
    code = (
        "import json; from chainmagic.core import HashingEmbeddings; "
        "print(json.dumps(HashingEmbeddings().embed_query('deterministic across processes')))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    here = HashingEmbeddings().embed_query("deterministic across processes")
    assert json.loads(runs.pop()) == here


def test_hashing_empty_text_is_a_zero_vector():
    vectors = HashingEmbeddings().embed_array(["", "   ", "word"])
    assert not vectors[0].any() and not vectors[1].any()
    assert vectors[2].any()
    assert HashingEmbeddings().embed_array([]).shape == (0, 384)


def test_hashing_array_matches_the_lists():
    emb = HashingEmbeddings()
    texts = [f"text number {i} about topic {i % 7}" for i in range(50)]
    array = emb.embed_array(texts)
    assert array.dtype == np.float32 and array.shape == (50, 384)
    assert np.allclose(array, emb.embed_documents(texts))
    # blocks of texts are embedded independently: a text's vector does not depend on its batch
    assert np.allclose(array[7], emb.embed_query(texts[7]))


def test_hashing_embeds_at_least_20k_short_texts_per_second():
    rng = random.Random(0)
    words = ["".join(rng.choices("abcdefghij", k=rng.randint(3, 8))) for _ in range(3000)]
    texts = [" ".join(rng.choices(words, k=rng.randint(5, 15))) for _ in range(20_000)]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        HashingEmbeddings().embed_array(texts)  # a fresh instance: no warm word cache
        best = min(best, time.perf_counter() - start)
    assert best < 1.0, f"{len(texts) / best:,.0f} texts/s"


async def test_hashing_async_twins_match():
    emb = HashingEmbeddings()
    assert await emb.aembed_query("a b") == emb.embed_query("a b")
    assert await emb.aembed_documents(["a", "b c"]) == emb.embed_documents(["a", "b c"])
    big = [f"t{i}" for i in range(5000)]  # large inputs leave the event loop
    assert np.allclose(await emb.aembed_array(big), emb.embed_array(big))


def test_hashing_needs_no_openai():
    code = (
        "import sys; from chainmagic.core import HashingEmbeddings; "
        "HashingEmbeddings().embed_query('x'); print('openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- OpenAIEmbeddings ------------------------------------------------------------------------------


@pytest.fixture
def embeddings(openai_server: OpenAIServer) -> OpenAIEmbeddings:
    return OpenAIEmbeddings(base_url=openai_server.base_url)


def test_openai_embeddings_over_http(embeddings, openai_server):
    vectors = embeddings.embed_documents(["harrison worked at kensho", "bears like honey"])
    assert [len(v) for v in vectors] == [64, 64]  # the mock's default size
    query = embeddings.embed_query("where did harrison work")
    assert cosine(query, vectors[0]) > cosine(query, vectors[1])
    sent = openai_server.last_request.json
    assert sent["model"] == "text-embedding-3-small"
    assert "dimensions" not in sent


def test_dimensions_are_sent_when_set(openai_server):
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, dimensions=16)
    assert len(emb.embed_query("x")) == 16
    assert openai_server.last_request.json["dimensions"] == 16
    assert emb.embed_array(["a", "b"]).shape == (2, 16)


def test_large_inputs_are_sent_in_batches_in_order(openai_server):
    texts = [f"text {i}" for i in range(10)]
    whole = OpenAIEmbeddings(base_url=openai_server.base_url).embed_documents(texts)
    openai_server.reset()
    batched = OpenAIEmbeddings(base_url=openai_server.base_url, chunk_size=3)
    assert batched.embed_documents(texts) == whole
    assert openai_server.counts == {"/v1/embeddings": 4}


async def test_async_batches_match_sync(openai_server):
    texts = [f"text {i}" for i in range(7)]
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, chunk_size=2, max_concurrency=2)
    sync = emb.embed_documents(texts)
    openai_server.reset()
    assert await emb.aembed_documents(texts) == sync
    assert openai_server.counts == {"/v1/embeddings": 4}
    assert await emb.aembed_query("text 3") == sync[3]


def test_empty_strings_are_embedded_not_rejected(embeddings):
    assert len(embeddings.embed_documents(["", "x"])) == 2


def test_embedding_errors_are_model_errors(openai_server):
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, api_key="sk-embed-secret-42")
    openai_server.api_key = "another"
    with pytest.raises(ModelError) as info:
        emb.embed_query("x")
    assert info.value.status == 401
    assert "sk-embed-secret-42" not in str(info.value)
    assert isinstance(info.value.__cause__, openai.AuthenticationError)
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        OpenAIEmbeddings().embed_query("x")


def test_repr_shows_the_model_not_the_key(openai_server):
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, api_key="sk-embed-secret-42")
    assert (
        repr(emb)
        == f"OpenAIEmbeddings('text-embedding-3-small', base_url='{openai_server.base_url}')"
    )
    assert "sk-embed-secret-42" not in repr(vars(emb))


# -- retries: the chat models' policy, not the openai client's silent one ----------------------------


def test_rate_limits_are_retried_honouring_retry_after(openai_server):
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, max_retries=2)
    openai_server.fail_next(2, status=429, retry_after=0.01)
    assert len(emb.embed_query("x")) == 64
    assert openai_server.counts == {"/v1/embeddings": 3}


async def test_async_rate_limits_are_retried(openai_server):
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, max_retries=1)
    openai_server.fail_next(1, status=503, retry_after=0.01)
    assert len(await emb.aembed_query("x")) == 64
    assert openai_server.counts == {"/v1/embeddings": 2}


def test_retries_stop_after_max_retries(openai_server):
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, max_retries=1)
    openai_server.fail_next(5, status=429, retry_after=0.01)
    with pytest.raises(ModelError) as info:
        emb.embed_query("x")
    assert info.value.status == 429
    assert openai_server.counts == {"/v1/embeddings": 2}


def test_a_timeout_is_not_retried(openai_server):
    """A server that does not answer in ``timeout`` fails once, not (max_retries + 1) times."""
    openai_server.latency = 2.0
    emb = OpenAIEmbeddings(base_url=openai_server.base_url, timeout=0.3, max_retries=2)
    started = time.perf_counter()
    with pytest.raises(ModelError):
        emb.embed_query("x")
    assert time.perf_counter() - started < 1.5  # three attempts would take ≥ 0.9 s plus backoff
    assert openai_server.counts == {"/v1/embeddings": 1}


def test_max_retries_must_be_a_whole_number():
    with pytest.raises(ValueError, match="max_retries"):
        OpenAIEmbeddings(max_retries=-1)
