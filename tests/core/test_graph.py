"""``get_graph()``: a chain's shape as nodes and edges, drawn as ASCII, Mermaid and offline HTML.

The ASCII drawings are golden: the guide's sketch (Input, the branches side by side under their
keys, joined again, Output) for the shapes a chain cell makes.
"""

from __future__ import annotations

import re

import pytest

from chainmagic.core import (
    ChatPromptTemplate,
    FakeChatModel,
    JsonOutputParser,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    StrOutputParser,
)
from chainmagic.core.graph import Graph, short_label
from chainmagic.dsl import compile

MODEL = FakeChatModel(name="model")


def guide_map() -> RunnableParallel:
    joke = ChatPromptTemplate.from_template("joke about {topic}") | MODEL
    poem = ChatPromptTemplate.from_template("poem about {topic}") | MODEL
    return RunnableParallel(joke=joke, poem=poem)


def retrieval() -> object:
    retriever = RunnableLambda(lambda q: [], name="retriever")
    head = RunnableParallel(context=retriever, question=RunnablePassthrough())
    return (
        head | ChatPromptTemplate.from_template("{context} {question}") | MODEL | StrOutputParser()
    )


def drawing(text: str) -> str:
    """A golden drawing written flush left in the test (the first line is blank)."""
    return text.removeprefix("\n").rstrip()


# -- ASCII ---------------------------------------------------------------------------------------


def test_ascii_of_the_guides_map() -> None:
    assert guide_map().get_graph().draw_ascii() == drawing("""
                   Input
                     │
          ┌──────────┴───────────┐
        joke:                  poem:
"joke about {topic}"   "poem about {topic}"
          │                      │
        model                  model
          └──────────┬───────────┘
                     │
                  Output""")


def test_ascii_of_a_sequence_after_a_map() -> None:
    assert retrieval().get_graph().draw_ascii() == drawing("""
          Input
            │
    ┌───────┴────────┐
context:         question:
retriever   RunnablePassthrough
    └───────┬────────┘
            │
 "{context} {question}"
            │
          model
            │
     StrOutputParser
            │
         Output""")


def test_ascii_of_assign_shows_the_input_passing_beside_the_new_keys() -> None:
    chain = RunnablePassthrough.assign(answer=ChatPromptTemplate.from_template("{q}") | MODEL)
    assert chain.get_graph().draw_ascii() == drawing("""
    Input
      │
  ┌───┴────┐
  …     answer:
input    "{q}"
  │        │
  │      model
  └───┬────┘
      │
   Output""")


def test_ascii_of_nested_maps() -> None:
    inner = RunnableParallel(b=StrOutputParser(), c=JsonOutputParser())
    chain = MODEL | RunnableParallel(a=inner, d=RunnablePassthrough())
    assert chain.get_graph().draw_ascii() == drawing("""
                             Input
                               │
                             model
                               │
                ┌──────────────┴──────────────┐
               a:                            d:
       ┌────────┴─────────┐          RunnablePassthrough
      b:                 c:                   │
StrOutputParser   JsonOutputParser            │
       └────────┬─────────┘                   │
                └──────────────┬──────────────┘
                               │
                            Output""")


def test_ascii_of_a_single_branch_map_has_no_fork() -> None:
    assert RunnableParallel(only=MODEL).get_graph().draw_ascii() == drawing("""
 Input
   │
 only:
 model
   │
Output""")


def test_ascii_of_three_branches_joins_in_the_middle() -> None:
    chain = RunnableParallel(a=MODEL, b=MODEL, c=MODEL)
    assert chain.get_graph().draw_ascii() == drawing("""
        Input
          │
  ┌───────┼───────┐
 a:      b:      c:
model   model   model
  └───────┼───────┘
          │
       Output""")


def test_ascii_of_a_single_step_and_of_an_empty_map() -> None:
    assert MODEL.get_graph().draw_ascii() == " Input\n   │\n model\n   │\nOutput"
    assert (RunnableParallel({}) | MODEL).get_graph().draw_ascii() == drawing("""
 Input
   │
  {}
   │
 model
   │
Output""")


def test_ascii_lines_have_no_trailing_spaces() -> None:
    for line in retrieval().get_graph().draw_ascii().split("\n"):
        assert line == line.rstrip()


# -- labels from the chain language ---------------------------------------------------------------


def test_the_chain_language_labels_every_node() -> None:
    source = (
        "{context: @question | retriever, question: @question, language: @language}\n"
        '| "Answer from {context}: {question} in {language}" | model | str'
    )
    namespace = {"retriever": RunnableLambda(lambda q: [])}
    graph = compile(source, namespace).chain.get_graph()  # type: ignore[union-attr]
    assert graph.draw_ascii() == drawing("""
              Input
                │
    ┌───────────┼───────────┐
context:    question:   language:
@question   @question   @language
    │           │           │
retriever       │           │
    └───────────┼───────────┘
                │
   "Answer from {context}: …"
                │
              model
                │
               str
                │
             Output""")
    labels = [node.label for node in graph.nodes if node.kind == "step"]
    assert labels == [
        "@question",
        "retriever",
        "@question",
        "@language",
        '"Answer from {context}: …"',
        "model",
        "str",
    ]


def test_cell_bindings_are_drawn_through_and_keys_head_the_branches() -> None:
    cell = compile(
        'joke_chain = "joke about {topic}" | model\n'
        'poem_chain = "poem about {topic}" | model\n'
        "map_chain = {joke: joke_chain, poem: poem_chain}",
        {},
    )
    assert cell.chain is not None
    ascii_art = cell.chain.get_graph().draw_ascii()
    assert ascii_art.split("\n")[3].split() == ["joke:", "poem:"]
    assert '"joke about {topic}"' in ascii_art
    assert ascii_art.count("model") == 2


def test_a_namespace_object_is_drawn_by_its_name() -> None:
    graph = compile("@q | helper | model", {"helper": lambda x: x}).chain.get_graph()  # type: ignore[union-attr]
    assert [n.label for n in graph.nodes] == ["Input", "@q", "helper", "model", "Output"]


# -- Mermaid --------------------------------------------------------------------------------------


def test_mermaid_of_the_guides_map() -> None:
    assert guide_map().get_graph().draw_mermaid() == "\n".join([
        "graph TD",
        '    n0["Input"]',
        '    n1["#quot;joke about {topic}#quot;"]',
        '    n2["model"]',
        '    n5["#quot;poem about {topic}#quot;"]',
        '    n6["model"]',
        '    n10["Output"]',
        '    n0 -->|"joke"| n1',
        "    n1 --> n2",
        '    n0 -->|"poem"| n5',
        "    n5 --> n6",
        "    n2 --> n10",
        "    n6 --> n10",
    ])  # fmt: skip


def test_mermaid_structure_input_to_branches_to_output() -> None:
    text = retrieval().get_graph().draw_mermaid()
    lines = text.split("\n")
    assert lines[0] == "graph TD"
    nodes = dict(re.findall(r'^    (n\d+)\["(.*)"\]$', text, flags=re.M))
    edges = re.findall(r"^    (n\d+) -->(?:\|\"(.*)\"\|)? (n\d+)$", text, flags=re.M)
    assert len(nodes) + len(edges) == len(lines) - 1  # every other line is a node or an edge
    by_label = {label: node for node, label in nodes.items()}
    assert {key for src, key, _ in edges if src == by_label["Input"]} == {"context", "question"}
    assert {key for src, key, _ in edges if src != by_label["Input"]} == {""}  # only branches
    first_of_branch = {nodes[dst] for src, _, dst in edges if src == by_label["Input"]}
    assert first_of_branch == {"retriever", "RunnablePassthrough"}
    prompt = by_label["#quot;{context} {question}#quot;"]
    assert {nodes[src] for src, _, dst in edges if dst == prompt} == first_of_branch
    assert [nodes[src] for src, _, dst in edges if dst == by_label["Output"]] == ["StrOutputParser"]


def test_mermaid_labels_nested_branches_by_their_path() -> None:
    inner = RunnableParallel(b=StrOutputParser(), c=JsonOutputParser())
    text = RunnableParallel(a=inner, d=MODEL).get_graph().draw_mermaid()
    assert '-->|"a › b"|' in text
    assert '-->|"a › c"|' in text
    assert '-->|"d"|' in text


def test_mermaid_escapes_quotes_brackets_and_newlines() -> None:
    step = RunnableLambda(lambda x: x, name='say "hi"\n<b>')
    text = RunnableParallel({'k "1"': step}).get_graph().draw_mermaid()
    assert 'n1["say #quot;hi#quot; #lt;b#gt;"]' in text
    assert '-->|"k #quot;1#quot;"| n1' in text
    assert len(text.split("\n")) == 6  # graph TD, three nodes, two edges: no line was split


# -- HTML -----------------------------------------------------------------------------------------


def test_html_escapes_labels_and_keys_and_has_no_script() -> None:
    evil = RunnableLambda(lambda x: x, name="<script>alert(1)</script>")
    page = (
        RunnableParallel({"<img src=x onerror=alert(1)>": evil, "b&c": MODEL}).get_graph().to_html()
    )
    assert "<script" not in page.lower()
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "b&amp;c" in page
    assert page.startswith('<div class="cm-graph"')


def test_html_holds_every_label_in_order_and_no_url() -> None:
    page = retrieval().get_graph().to_html()
    texts = re.findall(r">([^<>]+)</div>", page)
    texts = [t for t in texts if t != "↓"]
    assert texts == [
        "Input",
        "context",
        "retriever",
        "question",
        "RunnablePassthrough",
        "&quot;{context} {question}&quot;",
        "model",
        "StrOutputParser",
        "Output",
    ]
    assert "http" not in page and "src=" not in page  # offline: nothing is fetched


# -- nodes and edges ------------------------------------------------------------------------------


def test_nodes_and_edges_of_a_sequence_after_a_map() -> None:
    graph = retrieval().get_graph()
    steps = {n.label: n.id for n in graph.nodes}
    assert [n.kind for n in graph.nodes] == [
        "input",
        "map",
        "step",
        "step",
        "step",
        "step",
        "step",
        "output",
    ]
    prompt = steps['"{context} {question}"']
    assert set(graph.edges) == {
        (steps["Input"], steps["retriever"]),
        (steps["Input"], steps["RunnablePassthrough"]),
        (steps["retriever"], prompt),
        (steps["RunnablePassthrough"], prompt),
        (prompt, steps["model"]),
        (steps["model"], steps["StrOutputParser"]),
        (steps["StrOutputParser"], steps["Output"]),
    }


def test_map_node_keeps_its_keys_and_branches() -> None:
    graph = guide_map().get_graph()
    (map_node,) = [n for n in graph.nodes if n.kind == "map"]
    assert map_node.keys == ["joke", "poem"]
    assert [branch.label for branch in map_node.children] == ["joke", "poem"]
    assert [len(branch.children) for branch in map_node.children] == [2, 2]


def test_an_empty_map_passes_its_edges_through() -> None:
    graph = (MODEL | RunnableParallel({}) | StrOutputParser()).get_graph()
    labels = {n.id: n.label for n in graph.nodes}
    assert [(labels[a], labels[b]) for a, b in graph.edges] == [
        ("Input", "model"),
        ("model", "{}"),
        ("{}", "StrOutputParser"),
        ("StrOutputParser", "Output"),
    ]


def test_node_ids_are_unique() -> None:
    graph = (guide_map() | RunnableParallel(x=MODEL, y=MODEL)).get_graph()
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))


def test_graph_reprs_are_the_drawings() -> None:
    graph = guide_map().get_graph()
    assert isinstance(graph, Graph)
    assert str(graph) == repr(graph) == graph.draw_ascii()
    assert graph._repr_html_() == graph.to_html()


# -- short labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (RunnableLambda(lambda x: x, name="named"), "named"),
        (ChatPromptTemplate.from_template("short {x}"), '"short {x}"'),
        (
            ChatPromptTemplate.from_template("a\n  long   template {x} " * 5),
            '"a long template {x} a long …"',
        ),
        (ChatPromptTemplate.from_messages([("system", "s"), ("human", "h")]), "ChatPromptTemplate"),
        (FakeChatModel(), "fake:echo"),
        (StrOutputParser(), "StrOutputParser"),
    ],
)
def test_short_label(step: object, expected: str) -> None:
    assert short_label(step) == expected


def test_a_wrapper_takes_its_label_to_the_step_it_wraps() -> None:
    graph = (MODEL.with_config(run_name="renamed") | MODEL.with_retry()).get_graph()
    assert [n.label for n in graph.nodes] == ["Input", "renamed", "model", "Output"]
