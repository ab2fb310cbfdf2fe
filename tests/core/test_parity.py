"""Sync/async parity: every chain gives the same output through all six ways of calling it."""

from __future__ import annotations

import asyncio
import json
from operator import itemgetter

import pytest

from chainmagic.core import (
    ChatPromptTemplate,
    Document,
    FakeChatModel,
    JsonOutputParser,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    StrOutputParser,
)
from chainmagic.core.calls import add


def upper_words(chunks):
    for chunk in chunks:
        yield chunk.upper()


async def aupper_words(chunks):
    async for chunk in chunks:
        yield chunk.upper()


async def alength(text):
    await asyncio.sleep(0.001)
    return len(text)


def model(**kwargs):
    return FakeChatModel(token_delay=0.001, **kwargs)


CHAINS = {
    "sequence": (
        lambda: RunnableLambda(lambda x: x + 1) | (lambda x: x * 10) | str,
        4,
        "50",
    ),
    "map": (
        lambda: RunnableParallel(double=lambda x: x * 2, text=str, same=RunnablePassthrough()),
        3,
        {"double": 6, "text": "3", "same": 3},
    ),
    "nested map": (
        lambda: (
            {
                "outer": {"inner": lambda x: x + 1, "deeper": {"x": lambda x: -x}},
                "side": lambda x: [x],
            }
            | RunnablePassthrough()
        ),
        5,
        {"outer": {"inner": 6, "deeper": {"x": -5}}, "side": [5]},
    ),
    "assign": (
        lambda: RunnablePassthrough.assign(
            answer=itemgetter("q")
            | ChatPromptTemplate.from_template("{q}")
            | model()
            | StrOutputParser(),
            size=lambda d: len(d["q"]),
        ),
        {"q": "two words"},
        {"q": "two words", "answer": "two words", "size": 9},
    ),
    "pick": (
        lambda: RunnableLambda(lambda x: {"a": x, "b": x * 2}).pick("b") | (lambda b: b + 1),
        7,
        15,
    ),
    "pick list": (
        lambda: RunnablePassthrough().pick(["a", "c"]),
        {"a": 1, "b": 2, "c": 3},
        {"a": 1, "c": 3},
    ),
    "prompt | model | str": (
        lambda: ChatPromptTemplate.from_template("say {what} please") | model() | StrOutputParser(),
        {"what": "hello world"},
        "say hello world please",
    ),
    "scripted model": (
        lambda: (
            "{q}"
            | model(responses={"italian": "Harrison ha lavorato a Kensho."})
            | StrOutputParser()
        ),
        {"q": "answer in italian"},
        "Harrison ha lavorato a Kensho.",
    ),
    "generator": (
        lambda: "{x}" | model() | StrOutputParser() | RunnableGenerator(upper_words),
        {"x": "quiet please"},
        "QUIET PLEASE",
    ),
    "async generator": (
        lambda: "{x}" | model() | StrOutputParser() | RunnableGenerator(aupper_words),
        {"x": "loud noise"},
        "LOUD NOISE",
    ),
    "json parser": (
        lambda: "{x}" | model() | JsonOutputParser(),
        {"x": json.dumps({"name": "Ada", "tags": ["a", "b"], "n": 1})},
        {"name": "Ada", "tags": ["a", "b"], "n": 1},
    ),
    "fenced json in a map": (
        lambda: RunnableParallel(
            data=model(responses=['```json\n{"ok": true}\n```']) | JsonOutputParser(),
            n=lambda x: 1,
        ),
        "x",
        {"data": {"ok": True}, "n": 1},
    ),
    "async lambda": (
        lambda: RunnableLambda(str) | alength,
        12345,
        5,
    ),
    "retrieval map": (
        lambda: (
            {
                "context": RunnableLambda(lambda q: [Document("harrison worked at kensho")]),
                "question": RunnablePassthrough(),
            }
            | ChatPromptTemplate.from_template("{context} / {question}")
            | model()
            | StrOutputParser()
        ),
        "where?",
        "harrison worked at kensho / where?",
    ),
    "fallbacks and retry": (
        lambda: (
            "{x}"
            | model(fail_rate=1.0)
            .with_retry(stop_after_attempt=2, backoff=0.001)
            .with_fallbacks([model()])
            | StrOutputParser()
        ),
        {"x": "saved"},
        "saved",
    ),
}

MODES = ["invoke", "ainvoke", "batch", "abatch", "stream", "astream"]


def accumulate(chunks):
    out = None
    for chunk in chunks:
        out = chunk if out is None else add(out, chunk)
    return out


async def aaccumulate(chunks):
    out = None
    async for chunk in chunks:
        out = chunk if out is None else add(out, chunk)
    return out


def run(chain, input, mode):
    if mode == "invoke":
        return chain.invoke(input)
    if mode == "ainvoke":
        return asyncio.run(chain.ainvoke(input))
    if mode == "batch":
        first, second = chain.batch([input, input])
        assert first == second
        return first
    if mode == "abatch":
        first, second = asyncio.run(chain.abatch([input, input]))
        assert first == second
        return first
    if mode == "stream":
        return accumulate(chain.stream(input))
    return asyncio.run(aaccumulate(chain.astream(input)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CHAINS))
def test_every_way_gives_the_same_output(name, mode):
    make, input, expected = CHAINS[name]
    assert run(make(), input, mode) == expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CHAINS))
def test_every_way_gives_the_same_output_with_a_listener_and_a_bound(name, mode):
    make, input, expected = CHAINS[name]
    chain = make().with_config(listener=lambda event: None, max_concurrency=2)
    assert run(chain, input, mode) == expected
