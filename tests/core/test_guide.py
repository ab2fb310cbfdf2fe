"""LangChain's parallel guide (reference/langchain-parallel-guide.txt), run on chainmagic.core.

The guide's code is kept as it is written there; only the imports change, a FakeChatModel stands in
for ChatOpenAI and a tiny in-test retriever for ``FAISS.from_texts(...).as_retriever()``.
"""

from __future__ import annotations

import time
from operator import itemgetter

from chainmagic.core import (
    ChatPromptTemplate,
    Document,
    FakeChatModel,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    StrOutputParser,
)

KNOWLEDGE = "harrison worked at kensho"


def make_retriever():
    """Stands in for FAISS.from_texts(["harrison worked at kensho"], ...).as_retriever()."""

    def retrieve(query: str) -> list[Document]:
        assert isinstance(query, str)
        return [Document(KNOWLEDGE)]

    return RunnableLambda(retrieve, name="retriever")


def answer_from_context(messages):
    """Stands in for ChatOpenAI: answers only when the retrieved context reached the prompt."""
    prompt = messages[-1].content
    if KNOWLEDGE in prompt and "Question: where did harrison work?" in prompt:
        return "Harrison worked at Kensho."
    return "I don't know."


def test_formatting_with_runnable_parallels():
    retriever = make_retriever()
    template = """Answer the question based only on the following context:
{context}

Question: {question}
"""

    # The prompt expects input with keys for "context" and "question"
    prompt = ChatPromptTemplate.from_template(template)

    model = FakeChatModel(answer_from_context)

    retrieval_chain = (
        {"context": retriever, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )

    assert retrieval_chain.invoke("where did harrison work?") == "Harrison worked at Kensho."


def test_the_three_equivalent_map_forms():
    retriever = make_retriever()
    forms = [
        {"context": retriever, "question": RunnablePassthrough()},
        RunnableParallel({"context": retriever, "question": RunnablePassthrough()}),
        RunnableParallel(context=retriever, question=RunnablePassthrough()),
    ]
    prompt = ChatPromptTemplate.from_template("{context}\nQuestion: {question}")
    outputs = [
        (form | prompt | FakeChatModel() | StrOutputParser()).invoke("where did harrison work?")
        for form in forms
    ]
    assert outputs == [f"{KNOWLEDGE}\nQuestion: where did harrison work?"] * 3


def test_using_itemgetter_as_shorthand():
    model = FakeChatModel(
        {
            r"(?s)harrison worked at kensho.*Question: where did harrison work.*"
            r"Answer in the following language: italian": "Harrison ha lavorato a Kensho."
        }
    )
    retriever = make_retriever()

    template = """Answer the question based only on the following context:
{context}

Question: {question}

Answer in the following language: {language}
"""
    prompt = ChatPromptTemplate.from_template(template)

    chain = (
        {
            "context": itemgetter("question") | retriever,
            "question": itemgetter("question"),
            "language": itemgetter("language"),
        }
        | prompt
        | model
        | StrOutputParser()
    )

    assert (
        chain.invoke({"question": "where did harrison work", "language": "italian"})
        == "Harrison ha lavorato a Kensho."
    )


def make_guide_chains(latency: float = 0.2):
    model = FakeChatModel(
        {
            "joke": "Why don't bears like fast food? Because they can't catch it!",
            "poem": "In the quiet of the forest, the bear roams free\n"
            "Majestic and wild, a sight to see.",
        },
        latency=latency,
        jitter=0.1,
        seed=1,
    )
    joke_chain = ChatPromptTemplate.from_template("tell me a joke about {topic}") | model
    poem_chain = ChatPromptTemplate.from_template("write a 2-line poem about {topic}") | model

    map_chain = RunnableParallel(joke=joke_chain, poem=poem_chain)
    return joke_chain, poem_chain, map_chain


def test_parallelize_steps():
    _, _, map_chain = make_guide_chains(latency=0.01)
    out = map_chain.invoke({"topic": "bear"})
    assert list(out) == ["joke", "poem"]
    assert out["joke"].content == "Why don't bears like fast food? Because they can't catch it!"
    assert out["poem"].content.startswith("In the quiet of the forest")
    assert out["joke"].usage_metadata["total_tokens"] > 0
    assert out["poem"].response_metadata["finish_reason"] == "stop"


def timeit(fn, runs: int = 3) -> float:
    """Like %%timeit's best-of: the fastest of a few runs."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def test_parallelism_the_map_costs_about_its_slowest_branch():
    joke_chain, poem_chain, map_chain = make_guide_chains(latency=0.1)
    joke = timeit(lambda: joke_chain.invoke({"topic": "bear"}))
    poem = timeit(lambda: poem_chain.invoke({"topic": "bear"}))
    both = timeit(lambda: map_chain.invoke({"topic": "bear"}))
    assert 0.085 < joke < 0.2
    assert 0.085 < poem < 0.2
    assert both < max(joke, poem) * 1.15 + 0.03  # about the slowest branch
    assert both < (joke + poem) * 0.7  # and clearly not their sum
