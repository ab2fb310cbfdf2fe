"""Chat prompts accept what LangChain users write, and fill it in as LangChain does."""

from __future__ import annotations

import asyncio

import pytest

from chainmagic.core import (
    AIMessage,
    AIMessagePromptTemplate,
    ChatPromptTemplate,
    HumanMessage,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    PromptTemplate,
    SystemMessage,
    SystemMessagePromptTemplate,
)
from chainmagic.core.prompts import ChatPromptValue, TemplateError


def test_message_classes_role_dicts_and_message_objects_as_entries():
    prompt = ChatPromptTemplate.from_messages(
        [
            (SystemMessage, "You are {who}."),
            {"role": "user", "content": "Hi {name}"},
            AIMessage("a fixed {answer}"),  # a message object is kept as it is, never formatted
            {"role": "assistant", "content": "and {more}"},
        ]
    )
    assert prompt.input_variables == ["more", "name", "who"]
    assert prompt.format_messages(who="a poet", name="Ann", more="more") == [
        SystemMessage("You are a poet."),
        HumanMessage("Hi Ann"),
        AIMessage("a fixed {answer}"),
        AIMessage("and more"),
    ]


def test_message_prompt_templates():
    prompt = ChatPromptTemplate.from_messages(
        [
            SystemMessagePromptTemplate.from_template("be {style}"),
            HumanMessagePromptTemplate.from_template("{q}"),
            AIMessagePromptTemplate.from_template("ok"),
        ]
    )
    assert prompt.input_variables == ["q", "style"]
    assert prompt.invoke({"style": "brief", "q": "why"}).to_messages() == [
        SystemMessage("be brief"),
        HumanMessage("why"),
        AIMessage("ok"),
    ]
    assert HumanMessagePromptTemplate.from_template("{x}").format(x=1) == HumanMessage("1")


def test_multipart_content_with_variables_in_text_and_image_url():
    prompt = ChatPromptTemplate.from_messages(
        [
            (
                "human",
                [
                    {"type": "text", "text": "describe {thing}"},
                    {"type": "image_url", "image_url": {"url": "{url}", "detail": "low"}},
                    {"type": "image_url", "image_url": "data:image/png;base64,{data}"},
                ],
            )
        ]
    )
    assert prompt.input_variables == ["data", "thing", "url"]
    (message,) = prompt.format_messages(thing="a cat", url="http://x/cat.png", data="AAAA")
    assert message.content == [
        {"type": "text", "text": "describe a cat"},
        {"type": "image_url", "image_url": {"url": "http://x/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assert message.text == "describe a cat"


def test_placeholders_in_every_spelling():
    history = [HumanMessage("1"), AIMessage("2"), HumanMessage("3")]
    optional = ChatPromptTemplate.from_messages([("placeholder", "{h}"), ("human", "{q}")])
    assert optional.input_variables == ["q"]
    assert optional.optional_variables == ["h"]
    assert optional.format_messages(q="x") == [HumanMessage("x")]
    required = ChatPromptTemplate.from_messages([("placeholder", ["{h}", False])])
    assert required.input_variables == ["h"]
    with pytest.raises(KeyError):
        required.invoke({})
    last_two = ChatPromptTemplate.from_messages([MessagesPlaceholder("h", n_messages=2)])
    assert last_two.format_messages(h=history) == history[1:]
    mixed = ChatPromptTemplate.from_messages([MessagesPlaceholder("h")])
    assert mixed.format_messages(
        h=["plain", ("ai", "tuple"), {"role": "system", "content": "dict"}]
    ) == [HumanMessage("plain"), AIMessage("tuple"), SystemMessage("dict")]
    with pytest.raises(ValueError, match="must be a list of messages, got str"):
        mixed.invoke({"h": "not a list"})


def test_a_placeholder_spelled_without_braces_is_refused():
    with pytest.raises(TemplateError, match="placeholder"):
        ChatPromptTemplate.from_messages([("placeholder", "history")])


def test_partial_and_partial_variables():
    prompt = ChatPromptTemplate.from_messages([("system", "{a} {b}"), ("human", "{c}")])
    part = prompt.partial(a="A", b=lambda: "B")
    assert part.input_variables == ["c"]
    assert prompt.input_variables == ["a", "b", "c"]  # the original is unchanged
    assert part.format_messages(c="C") == [SystemMessage("A B"), HumanMessage("C")]
    assert part.invoke("C").to_messages()[1] == HumanMessage("C")  # one variable left: plain input
    given = ChatPromptTemplate.from_template("{x}-{y}", partial_variables={"y": "Y"})
    assert given.input_variables == ["x"]
    assert given.invoke({"x": "X"}).to_string() == "Human: X-Y"
    assert given.invoke({"x": "X", "y": "own"}).to_string() == "Human: X-own"


def test_adding_indexing_and_slicing_chat_templates():
    a = ChatPromptTemplate.from_messages([("system", "{s}")])
    b = ChatPromptTemplate.from_messages([("human", "{h}")])
    joined = a + b + ("ai", "{x}") + [HumanMessage("fixed")] + "last {y}"
    assert len(joined) == 5
    assert joined.input_variables == ["h", "s", "x", "y"]
    assert joined.format_messages(s="S", h="H", x="X", y="Y")[-1] == HumanMessage("last Y")
    assert joined[0].message_class is SystemMessage
    sliced = joined[1:3]
    assert isinstance(sliced, ChatPromptTemplate)
    assert sliced.input_variables == ["h", "x"]


def test_format_and_the_async_twins():
    prompt = ChatPromptTemplate.from_messages([("system", "s {a}"), ("human", "h {a}")])
    assert prompt.format(a=1) == "System: s 1\nHuman: h 1"
    value = prompt.format_prompt(a=1)
    assert isinstance(value, ChatPromptValue)
    assert value.to_string() == "System: s 1\nHuman: h 1"
    assert asyncio.run(prompt.aformat_messages(a=2)) == [SystemMessage("s 2"), HumanMessage("h 2")]
    assert asyncio.run(prompt.ainvoke({"a": 3})).to_messages()[1] == HumanMessage("h 3")


def test_mustache_and_jinja2_chat_templates():
    pytest.importorskip("jinja2")
    mustache = ChatPromptTemplate.from_messages(
        [("human", "{{#items}}- {{name}}\n{{/items}}{{user.name}}")], template_format="mustache"
    )
    assert mustache.input_variables == ["items", "user"]
    text = mustache.format_messages(items=[{"name": "a"}, {"name": "b"}], user={"name": "Ann"})
    assert text == [HumanMessage("- a\n- b\nAnn")]
    jinja = ChatPromptTemplate.from_template("{{ a }} and {{ b|upper }}", template_format="jinja2")
    assert jinja.input_variables == ["a", "b"]
    assert jinja.invoke({"a": 1, "b": "x"}).to_messages() == [HumanMessage("1 and X")]


def test_a_bad_entry_says_what_it_was():
    with pytest.raises(TemplateError, match="Unexpected message type: wizard"):
        ChatPromptTemplate.from_messages([("wizard", "hi")])
    with pytest.raises(TemplateError, match="cannot make a prompt message from int"):
        ChatPromptTemplate.from_messages([3])


def test_string_prompt_template_in_langchain_spelling(tmp_path):
    prompt = PromptTemplate(
        template="{a} and {b}", input_variables=["a"], partial_variables={"b": "B"}
    )
    assert prompt.input_variables == ["a"]
    assert prompt.format(a="A") == "A and B"
    assert prompt.invoke({"a": "A"}).to_string() == "A and B"
    file = tmp_path / "prompt.txt"
    file.write_text("hello {name}", encoding="utf-8")
    loaded = PromptTemplate.from_file(file)
    assert loaded.input_variables == ["name"]
    assert loaded.format(name="you") == "hello you"
    joined = PromptTemplate.from_template("{x} ") + "then {y}"
    assert joined.template == "{x} then {y}"
    assert joined.input_variables == ["x", "y"]
    with pytest.raises(
        TemplateError, match="Cannot add templates of different formats: a mustache"
    ):
        PromptTemplate.from_template("{x}") + PromptTemplate.from_template(
            "{{y}}", template_format="mustache"
        )
    assert asyncio.run(prompt.aformat(a="A")) == "A and B"


def test_validate_template_checks_given_input_variables():
    with pytest.raises(TemplateError, match=r"missing input parameters from \['b'\]"):
        PromptTemplate(template="{a}", input_variables=["b"], validate_template=True)
    # an extra name is harmless; without validation a stale list is replaced by the template's own
    assert PromptTemplate(
        template="{a}", input_variables=["a", "b"], validate_template=True
    ).input_variables == ["a"]
    assert PromptTemplate(template="{a} {c}", input_variables=["b"]).input_variables == ["a", "c"]
    with pytest.raises(TemplateError, match=r"missing input parameters from \[''\]"):
        PromptTemplate(template="{}", input_variables=[""], validate_template=True)


def test_from_examples_joins_prefix_examples_and_suffix():
    prompt = PromptTemplate.from_examples(
        ["Q: a\nA: 1", "Q: b\nA: 2"], "Q: {q}\nA:", ["q"], example_separator="\n--\n", prefix="Go"
    )
    assert prompt.template == "Go\n--\nQ: a\nA: 1\n--\nQ: b\nA: 2\n--\nQ: {q}\nA:"
    assert prompt.format(q="c").endswith("Q: c\nA:")


def test_validate_template_only_warns_for_jinja2():
    pytest.importorskip("jinja2")
    with pytest.warns(UserWarning, match="Missing variables: {'a'} Extra variables: {'b'}"):
        prompt = PromptTemplate(
            template="{{ a }}",
            input_variables=["b"],
            template_format="jinja2",
            validate_template=True,
        )
    assert prompt.input_variables == ["a"]


def test_a_plain_input_for_several_variables_is_a_type_error():
    with pytest.raises(TypeError, match="needs a dict with"):
        ChatPromptTemplate.from_template("{a}{b}").invoke("x")


def test_message_templates_take_a_prompt_template():
    template = HumanMessagePromptTemplate(prompt=PromptTemplate(template="hi {n}"))
    assert template.input_variables == ["n"]
    assert template.format(n="ann") == HumanMessage("hi ann")
    with pytest.raises(TypeError, match="needs a template or prompt="):
        HumanMessagePromptTemplate()


def test_a_text_part_keeps_its_other_fields_filled_in():
    prompt = ChatPromptTemplate.from_messages(
        [("human", [{"type": "text", "text": "hi {n}", "cache_control": {"type": "{kind}"}}])]
    )
    message = prompt.invoke({"n": "Ann", "kind": "ephemeral"}).to_messages()[0]
    assert message.content == [
        {"type": "text", "text": "hi Ann", "cache_control": {"type": "ephemeral"}}
    ]
