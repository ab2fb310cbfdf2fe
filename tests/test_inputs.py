"""``-i`` values (already shell-split, as the magics hand them over) → the chain's input."""

from __future__ import annotations

import pytest

from chainmagic.inputs import InputError, parse_input, parse_value

NS = {"question": "where did harrison work?", "inputs": [{"topic": "bear"}, {"topic": "cat"}]}


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        # key=value pairs: each value JSON when it parses, else text
        (["topic=bear"], {"topic": "bear"}),
        (["topic=bear", "language=italian"], {"topic": "bear", "language": "italian"}),
        (["n=3", "t=0.5", "ok=true", "none=null"], {"n": 3, "t": 0.5, "ok": True, "none": None}),
        (['tags=["a", "b"]', 'who={"name": "x"}'], {"tags": ["a", "b"], "who": {"name": "x"}}),
        (['q="quoted text"'], {"q": "quoted text"}),
        (["q=where did harrison work"], {"q": "where did harrison work"}),  # one quoted token
        (["expr=a=b"], {"expr": "a=b"}),
        (["empty="], {"empty": ""}),
        # a JSON literal, then a Python literal
        (['{"topic": "bear"}'], {"topic": "bear"}),
        (['["a", 1]'], ["a", 1]),
        (["42"], 42),
        (['"bear"'], "bear"),
        (["{'topic': 'bear', 'n': (1, 2)}"], {"topic": "bear", "n": (1, 2)}),
        (["'single quoted'"], "single quoted"),
        (["None"], None),
        # a notebook variable, or any expression evaluated in the notebook
        (["question"], "where did harrison work?"),
        (["inputs[1]"], {"topic": "cat"}),
        (["len(inputs)"], 2),
        # plain text when it is not a Python expression
        (["where did harrison work?"], "where did harrison work?"),
        (["where", "did", "harrison", "work"], "where did harrison work"),
        (["apples,", "pears", "and", "plums"], "apples, pears and plums"),
        (["[draft]", "a", "title"], "[draft] a title"),
        (["1 +"], "1 +"),
        # an unquoted literal split at its spaces is read back as one value
        (["{1:", "2,", "3:", "4}"], {1: 2, 3: 4}),
        (["[1,", "2,", "3]"], [1, 2, 3]),
        (["{question:", "1}"], {"where did harrison work?": 1}),
    ],
)
def test_input_forms(tokens: list[str], expected: object) -> None:
    assert parse_input(tokens, NS) == expected


def test_a_namespace_value_is_passed_as_is_not_copied() -> None:
    value = {"topic": "bear"}
    assert parse_input(["value"], {"value": value}) is value


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (
            ["qestion"],
            "-i qestion: no variable 'qestion' in the notebook; "
            "to pass it as text, quote it: -i '\"qestion\"'",
        ),
        ([], "-i needs a value, e.g. -i topic=bear"),
        (["inputs[5]"], "-i inputs[5]: IndexError: list index out of range"),
        (["1/0"], "-i 1/0: ZeroDivisionError: division by zero"),
        (
            ["{topic:", "bear}"],
            "-i {topic: bear}: NameError: name 'topic' is not defined; "
            'to pass it as a literal, quote all of it: -i \'{"topic": "bear"}\'',
        ),
    ],
)
def test_input_errors_say_how_to_write_it(tokens: list[str], message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_input(tokens, NS)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_an_undefined_name_is_never_quietly_text() -> None:
    with pytest.raises(InputError, match="no variable 'bear'"):
        parse_input(["bear"], {})
    assert parse_input(['"bear"'], {}) == "bear"
    assert parse_input(["topic=bear"], {}) == {"topic": "bear"}


def test_the_input_expression_cannot_change_the_namespace() -> None:
    ns = {"items": [1, 2]}
    assert parse_input(["items.append(3)"], ns) is None
    assert ns["items"] == [1, 2, 3]  # the user's own expression runs, as in Python
    assert "__builtins__" not in ns  # but the namespace is not polluted by eval


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("x", "x"), ('"x"', "x"), ("[1]", [1]), ("{bad", "{bad"), ("", "")],
)
def test_parse_value(text: str, expected: object) -> None:
    assert parse_value(text) == expected
