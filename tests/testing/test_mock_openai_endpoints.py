"""Embeddings, models and error shapes, through the openai client and raw HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import math
import struct
from collections.abc import Iterator

import openai
import pytest

from chainmagic.testing import OpenAIServer

pytest_plugins = ["chainmagic.testing.fixtures"]


@pytest.fixture
def client(openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=openai_server.base_url, api_key="test-key", max_retries=0) as c:
        yield c


def raw(server: OpenAIServer, method: str, path: str, body: object = None):
    """One request with http.client; returns (status, headers, parsed JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, dict(response.getheaders()), payload


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_embeddings_float_shape_and_determinism(client, openai_server):
    out = client.embeddings.create(
        model="text-embedding-3-small",
        input=["the cat sat", "the cat sat"],
        encoding_format="float",
    )
    assert out.object == "list"
    assert out.model == "text-embedding-3-small"
    assert [d.index for d in out.data] == [0, 1]
    first, second = (d.embedding for d in out.data)
    assert len(first) == 64
    assert first == second
    assert math.isclose(sum(x * x for x in first), 1.0, rel_tol=1e-5)
    assert out.usage.prompt_tokens == out.usage.total_tokens == 6
    assert openai_server.last_request.json["encoding_format"] == "float"


def test_embeddings_base64_default_decodes_to_the_float_vectors(client, openai_server):
    floats = client.embeddings.create(model="e", input="a b c", encoding_format="float")
    default = client.embeddings.create(model="e", input="a b c")
    # the client asks for base64 unless told otherwise, and decodes it for us
    assert openai_server.last_request.json["encoding_format"] == "base64"
    assert default.data[0].embedding == floats.data[0].embedding


def test_embeddings_base64_is_little_endian_float32(openai_server):
    status, _, body = raw(
        openai_server,
        "POST",
        "/v1/embeddings",
        {"model": "e", "input": "hello", "encoding_format": "base64", "dimensions": 8},
    )
    assert status == 200
    decoded = struct.unpack("<8f", base64.b64decode(body["data"][0]["embedding"]))
    _, _, as_floats = raw(
        openai_server, "POST", "/v1/embeddings", {"model": "e", "input": "hello", "dimensions": 8}
    )
    assert list(decoded) == as_floats["data"][0]["embedding"]


def test_embeddings_dimensions_and_similarity(client):
    out = client.embeddings.create(
        model="e",
        input=["red apples and green apples", "green apples", "quantum chromodynamics"],
        dimensions=256,
        encoding_format="float",
    )
    apples, green, physics = (d.embedding for d in out.data)
    assert len(apples) == 256
    assert cosine(apples, green) > cosine(apples, physics)


def test_embeddings_accept_token_lists(client):
    one = client.embeddings.create(model="e", input=[1, 2, 3], encoding_format="float")
    many = client.embeddings.create(model="e", input=[[1, 2, 3], [4]], encoding_format="float")
    assert len(one.data) == 1 and len(many.data) == 2
    assert one.data[0].embedding == many.data[0].embedding
    assert many.usage.prompt_tokens == 4


def test_embeddings_reject_bad_input(client):
    with pytest.raises(openai.BadRequestError, match="input"):
        client.embeddings.create(model="e", input=[])


def test_models_list_and_retrieve(client, openai_server):
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini", "text-embedding-3-small"]
    openai_server.models = ["only-this"]
    assert [m.id for m in client.models.list()] == ["only-this"]
    assert client.models.retrieve("only-this").owned_by == "chainmagic"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("missing")


def test_unknown_path_is_a_404_in_openai_error_shape(openai_server):
    status, headers, body = raw(openai_server, "POST", "/v1/nope", {"x": 1})
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"] == "Invalid URL (POST /v1/nope)"
    assert body["error"]["type"] == "invalid_request_error"


def test_invalid_json_is_a_400(openai_server):
    conn = http.client.HTTPConnection("127.0.0.1", openai_server.port, timeout=5)
    conn.request("POST", "/v1/chat/completions", body=b"{not json")
    response = conn.getresponse()
    assert response.status == 400
    assert "parse the JSON" in json.loads(response.read())["error"]["message"]
    conn.close()
