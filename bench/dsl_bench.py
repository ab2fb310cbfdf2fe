"""Language rows: parse + compile of a 20-line cell (target ≤ 1 ms)."""

from __future__ import annotations

from bench.timing import Row, per_call
from chainmagic import dsl
from chainmagic.core import Document, FakeChatModel, RunnableLambda

CELL = '''# a 20-line cell: named steps, maps, templates, picks, calls
joke_chain = "tell me a joke about {topic}" | model
poem_chain = "write a 2-line poem about {topic}" | model
map_chain = {joke: joke_chain, poem: poem_chain}
rag = (
    {context: @question | retriever, question: @question, language: @language}
    | """Answer the question based only on the following context:
{context}

Question: {question}

Answer in the following language: {language}
"""
    | model
    | str
)
both = {answer: rag, facts: @question | retriever}
prompted = [system("be brief"), human("{question}")] | model("fake:echo", latency=0) | str
chain = assign(extra=@question | retriever) | {a: both, b: prompted}
short = @question | retriever
'''


def rows() -> list[Row]:
    namespace = {
        "model": FakeChatModel(),
        "retriever": RunnableLambda(lambda q: [Document("harrison worked at kensho")]),
    }
    assert len(CELL.splitlines()) == 20
    parse = per_call(lambda: dsl.parse(CELL))
    both = per_call(lambda: dsl.compile(CELL, namespace))
    return [
        Row("dsl: parse a 20-line cell", parse, None, None),
        Row("dsl: parse + compile a 20-line cell", both, None, 1e-3),
    ]
