"""Prompt templates: variables, literal braces, safe values, clear errors, chat roles."""

from __future__ import annotations

import pytest

from chainmagic.core import (
    AIMessage,
    ChatPromptTemplate,
    ChatPromptValue,
    Document,
    HumanMessage,
    MessagesPlaceholder,
    PromptTemplate,
    StringPromptValue,
    SystemMessage,
)
from chainmagic.core.prompts import TemplateError, format_value, template_variables
from chainmagic.errors import step_path

# -- ChatPromptTemplate ----------------------------------------------------------------------------


def test_from_template_makes_one_human_message():
    prompt = ChatPromptTemplate.from_template("tell me a joke about {topic}")
    assert prompt.input_variables == ["topic"]
    assert prompt.template == "tell me a joke about {topic}"
    value = prompt.invoke({"topic": "bears"})
    assert isinstance(value, ChatPromptValue)
    assert value.to_messages() == [HumanMessage("tell me a joke about bears")]
    assert value.to_string() == "Human: tell me a joke about bears"


def test_a_lone_variable_takes_a_plain_input():
    prompt = ChatPromptTemplate.from_template("about {topic}")
    assert prompt.invoke("owls").to_messages()[0].content == "about owls"


def test_variables_are_listed_once_in_order_of_first_use():
    prompt = ChatPromptTemplate.from_template("{b} {a} {b} { c }")
    assert prompt.input_variables == ["a", "b", "c"]  # sorted, as LCEL lists them
    assert prompt.variables_in_order == ("b", "a", "c")
    assert prompt.invoke({"a": 1, "b": 2, "c": 3}).messages[0].content == "2 1 2 3"


def test_from_messages_with_every_role():
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "You are a {role}."),
            ("placeholder", "{history}"),
            ("human", "{question}"),
            ("ai", "Let me think about {question}."),
        ]
    )
    assert prompt.input_variables == ["question", "role"]
    messages = prompt.invoke(
        {
            "role": "poet",
            "question": "why?",
            "history": [("human", "hi"), AIMessage("hello")],
        }
    ).to_messages()
    assert messages == [
        SystemMessage("You are a poet."),
        HumanMessage("hi"),
        AIMessage("hello"),
        HumanMessage("why?"),
        AIMessage("Let me think about why?."),
    ]


def test_a_placeholder_is_optional():
    prompt = ChatPromptTemplate.from_messages([("placeholder", "{history}"), ("human", "{q}")])
    assert prompt.invoke({"q": "x"}).to_messages() == [HumanMessage("x")]


def test_from_messages_accepts_messages_placeholders_strings_and_aliases():
    prompt = ChatPromptTemplate.from_messages(
        [
            SystemMessage("fixed {not_a_variable}"),
            MessagesPlaceholder("history"),
            ("user", "{q}"),
            ("assistant", "ok"),
            "{q} again",
        ]
    )
    assert prompt.input_variables == ["history", "q"]
    messages = prompt.format_messages(history=[HumanMessage("before")], q="now")
    assert messages == [
        SystemMessage("fixed {not_a_variable}"),
        HumanMessage("before"),
        HumanMessage("now"),
        AIMessage("ok"),
        HumanMessage("now again"),
    ]


def test_a_required_placeholder_must_be_given():
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{q}")])
    with pytest.raises(Exception) as info:
        prompt.invoke({"q": "x"})
    assert "'history'" in str(info.value)


def test_a_placeholder_needs_messages():
    prompt = ChatPromptTemplate.from_messages([("placeholder", "{history}")])
    with pytest.raises(Exception) as info:
        prompt.invoke({"history": "not a list"})
    assert str(info.value) == "'history' must be a list of messages, got str"
    with pytest.raises(Exception, match="must hold messages, got int"):
        prompt.invoke({"history": [1]})


def test_an_unknown_role_is_refused_with_the_known_ones():
    with pytest.raises(TemplateError, match=r"Unexpected message type: robot. Use one of: ai,"):
        ChatPromptTemplate.from_messages([("robot", "beep")])
    with pytest.raises(TemplateError, match="cannot make a prompt message from int"):
        ChatPromptTemplate.from_messages([42])


# -- braces ----------------------------------------------------------------------------------------


def test_double_braces_are_literal_braces():
    prompt = ChatPromptTemplate.from_template('Answer as JSON like {{"name": "{name}"}}')
    assert prompt.input_variables == ["name"]
    assert (
        prompt.invoke({"name": "Ada"}).messages[0].content == 'Answer as JSON like {"name": "Ada"}'
    )


@pytest.mark.parametrize(
    "value",
    ["{topic}", "{{x}}", "{0}", "{__class__}", "}{", "{", "{a.b[0]!r:>10}", "%(x)s $x"],
)
def test_braces_inside_values_are_never_interpreted(value):
    prompt = ChatPromptTemplate.from_template("context: {context} / topic: {topic}")
    out = prompt.invoke({"context": value, "topic": "T"}).messages[0].content
    assert out == f"context: {value} / topic: T"


def test_braces_inside_documents_are_never_interpreted():
    prompt = ChatPromptTemplate.from_template("{context}")
    doc = Document("def f(): return {'a': {x}}")
    assert prompt.invoke({"context": [doc]}).messages[0].content == doc.page_content


# -- errors ----------------------------------------------------------------------------------------


def test_a_missing_variable_names_it_and_what_the_input_has():
    prompt = ChatPromptTemplate.from_template("{context} {question}")
    with pytest.raises(Exception) as info:
        prompt.invoke({"question": "q", "lang": "it"})
    cause = info.value
    assert isinstance(cause, TemplateError)
    assert str(cause) == "the prompt needs 'context' but the input has 'question', 'lang'"
    assert step_path(info.value) == ["ChatPromptTemplate"]


def test_a_plain_input_for_several_variables_says_to_put_a_map_first():
    prompt = ChatPromptTemplate.from_template("{context} {question}")
    with pytest.raises(Exception) as info:
        prompt.invoke("just a string")
    assert str(info.value) == (
        "the prompt needs a dict with 'context', 'question', got str "
        "(put a map like {context: ...} before it)"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{open", "bad template: expected '}' before end of string"),
        ("close}", "bad template: Single '}' encountered"),
        ("{a.b}", "Invalid variable name {a.b}. Variable names cannot contain attribute access"),
        ("{a!r}", "Invalid variable name {a!r}. Variable names cannot carry format specs"),
        ("{a:>5}", "Invalid variable name {a:>5}"),
        ("{}", "Invalid variable name {}. Variable names cannot be positional arguments"),
    ],
)
def test_a_bad_template_is_refused_at_construction(template, message):
    with pytest.raises(TemplateError) as info:
        ChatPromptTemplate.from_template(template)
    assert str(info.value).startswith(message)
    with pytest.raises(TemplateError):
        PromptTemplate.from_template(template)


def test_template_errors_are_value_errors():
    assert issubclass(TemplateError, ValueError)


# -- values ----------------------------------------------------------------------------------------


def test_documents_format_as_their_text():
    docs = [Document("harrison worked at kensho", {"source": "a"}), Document("bears eat honey")]
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\nEnd")
    text = prompt.invoke({"context": docs}).messages[0].content
    assert text == "Context:\nharrison worked at kensho\n\nbears eat honey\nEnd"
    assert "Document(" not in text
    assert "metadata" not in text
    assert format_value(docs[0]) == "harrison worked at kensho"


def test_messages_format_as_their_text_and_other_values_as_str():
    assert format_value(AIMessage("the answer")) == "the answer"
    assert format_value(42) == "42"
    assert format_value(["a", "b"]) == "['a', 'b']"


def test_template_variables_helper():
    assert template_variables("{a} {{b}} {c}") == ("a", "c")


# -- PromptTemplate --------------------------------------------------------------------------------


def test_prompt_template_makes_a_string_prompt():
    prompt = PromptTemplate.from_template("tell me about {topic}")
    assert prompt.input_variables == ["topic"]
    assert prompt.format(topic="bears") == "tell me about bears"
    value = prompt.invoke({"topic": "bears"})
    assert isinstance(value, StringPromptValue)
    assert value.to_string() == "tell me about bears"
    assert str(value) == "tell me about bears"
    assert value.to_messages() == [HumanMessage("tell me about bears")]
    assert PromptTemplate("{x}").invoke("plain").text == "plain"


def test_prompt_template_missing_variable():
    with pytest.raises(TemplateError, match="needs 'topic'"):
        PromptTemplate.from_template("{topic}").format(other=1)


async def test_prompts_run_every_way():
    prompt = ChatPromptTemplate.from_template("hi {name}")
    expected = ChatPromptValue([HumanMessage("hi Ann")])
    assert prompt.invoke({"name": "Ann"}) == expected
    assert await prompt.ainvoke({"name": "Ann"}) == expected
    assert prompt.batch([{"name": "Ann"}]) == [expected]
    assert list(prompt.stream({"name": "Ann"})) == [expected]
    assert [v async for v in prompt.astream({"name": "Ann"})] == [expected]


def test_prompt_values_compare_and_repr():
    assert ChatPromptValue([HumanMessage("a")]) != ChatPromptValue([HumanMessage("b")])
    assert "HumanMessage(content='a')" in repr(ChatPromptValue([HumanMessage("a")]))
    assert repr(StringPromptValue("x")) == "StringPromptValue(text='x')"
