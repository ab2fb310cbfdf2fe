"""chainmagic against llama.cpp's server (``make test-llamacpp``: building it takes 6-10 minutes).

llama.cpp serves embeddings, which ``transformers serve`` does not, and it ignores
``stream_options``, so a streamed answer carries no usage: the two things only it shows.
"""

from __future__ import annotations

import asyncio

import pytest

from chainmagic.core import (
    FAISS,
    ChatOpenAI,
    ChatPromptTemplate,
    OpenAIEmbeddings,
    RunnableParallel,
    StrOutputParser,
)
from chainmagic.display.text import result_text
from chainmagic.errors import ModelError
from chainmagic.run import execute

from .served import Served


@pytest.fixture
def model(llama_server: Served) -> ChatOpenAI:
    # llama.cpp samples at temperature 0.8 unless told otherwise: greedy, so answers agree
    return ChatOpenAI(
        llama_server.model, base_url=llama_server.base_url, temperature=0, max_retries=0
    )


def test_chat_stream_and_async_agree(model):
    whole = model.invoke("tell me a joke about bear")
    assert "cross the road" in whole.content
    assert whole.response_metadata["finish_reason"] == "stop"
    chunks = list(model.stream("tell me a joke about bear"))
    assert "".join(c.content for c in chunks) == whole.content

    async def both() -> list[str]:
        return [m.content for m in await model.abatch(["tell me a joke about bear"] * 3)]

    assert asyncio.run(both()) == [whole.content] * 3


def test_a_stream_without_usage_from_the_server_is_marked_estimated(model):
    whole = model.invoke("tell me a joke about bear")
    assert "usage_estimated" not in whole.response_metadata  # a plain answer has the server's
    last = list(model.stream("tell me a joke about bear"))[-1]
    assert last.response_metadata["usage_estimated"] is True  # stream_options was ignored
    assert last.usage_metadata["output_tokens"] > 0
    chain = ChatPromptTemplate.from_template("tell me a joke about {t}") | model | StrOutputParser()
    result = execute(RunnableParallel(joke=chain, poem=chain), {"t": "cat"}, name="m")
    assert result.status == "ok", result.error
    assert result.usage_estimated
    assert "tokens (estimated)" in result_text(result)


def test_embeddings_and_retrieval(llama_server):
    embedder = OpenAIEmbeddings("tiny-embed", base_url=llama_server.base_url)
    vectors = embedder.embed_documents(["a bear in the woods", "a cup of tea"])
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    store = FAISS.from_texts(["bears sleep in winter", "tea is a drink"], embedder)
    found = store.as_retriever(search_kwargs={"k": 1}).invoke("tea")
    assert len(found) == 1


def test_embeddings_without_pooling_are_one_clear_error(llama_server_without_pooling):
    server = llama_server_without_pooling
    embedder = OpenAIEmbeddings("tiny-embed", base_url=server.base_url)
    with pytest.raises(ModelError) as info:
        FAISS.from_texts(["bears sleep in winter", "tea is a drink"], embedder)
    assert str(info.value).startswith(
        f"the server at {server.base_url} returned one vector per token instead of one vector"
    )
