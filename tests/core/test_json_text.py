"""JSON out of model text: fences (with fences inside strings), words after the JSON, cut-off
values repaired in a bounded number of decode attempts."""

from __future__ import annotations

import json

import pytest

from chainmagic.core.json_text import (
    parse_and_check_json_markdown,
    parse_json_markdown,
    parse_leading_json,
    parse_partial_json,
    strip_fence,
)
from chainmagic.core.parsers import JsonOutputParser, OutputParserException


def test_a_fence_inside_a_json_string_stays_in_the_value():
    text = '```json\n{"code": "```py\\nprint(1)\\n```"}\n```'
    assert parse_json_markdown(text) == {"code": "```py\nprint(1)\n```"}
    bare = '\n{"note": "see ```x``` here"}\n'
    assert parse_json_markdown(bare) == {"note": "see ```x``` here"}


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1}\n```\nHope this helps!',
        'Sure:\n\n```\n{"a": 1}\n```',
        '```\n{"a": 1\n\n```\nthe brace got lost',
        '{"a": 1} and that is all',
    ],
)
def test_words_around_the_json_are_ignored(text):
    assert parse_json_markdown(text) == {"a": 1}


def test_strip_fence_trims_the_fence_and_backticks():
    assert strip_fence("```JSON\n[1, 2]\n```") == "[1, 2]"
    assert strip_fence("  [1]  ") == "[1]"


def test_leading_json_never_closes_a_cut_value():
    assert parse_leading_json("[1, 2] trailing") == [1, 2]
    assert parse_leading_json('{"a": [1, 2') is None
    assert parse_partial_json('{"a": [1, 2') == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        ('{"a": "b', {"a": "b"}),
        ('{"a": "b\\', {"a": "b"}),
        ('{"a": 1, "long_half_written_key_' + "k" * 200, {"a": 1}),
        ('{"a": [1, 2, nonsense', {"a": [1, 2]}),
        ('{"a": 1.', {"a": 1}),
        ('{"a": {"b": [true, fal', {"a": {"b": [True]}}),
        ("", None),
        ("not json at all", None),
    ],
)
def test_cut_off_json_is_closed(cut, expected):
    assert parse_partial_json(cut) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "b"} ' + "Here is why. " * 2_000,
        '{"a": [1, 2, ' + "x" * 20_000,
        '{"a": "' + "line\n" * 5_000 + '"} ' + "junk " * 2_000,
    ],
)
def test_repair_takes_a_few_attempts_whatever_the_length(text, monkeypatch):
    real = json.loads
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counting)
    assert parse_partial_json(text) is not None
    assert len(calls) < 10


def test_parse_and_check_wants_an_object_with_the_keys():
    assert parse_and_check_json_markdown('```json\n{"a": 1}\n```', ["a"]) == {"a": 1}
    with pytest.raises(OutputParserException, match=r"Expected JSON object \(dict\)"):
        parse_and_check_json_markdown("```json\n1\n```", ["a"])
    with pytest.raises(OutputParserException, match="Expected key `b`"):
        parse_and_check_json_markdown('{"a": 1}', ["b"])
    with pytest.raises(OutputParserException, match="invalid JSON"):
        parse_and_check_json_markdown("nope", ["a"])


def test_the_parser_reads_answers_with_words_after_but_refuses_cut_ones():
    parser = JsonOutputParser()
    assert parser.invoke('```json\n{"a": 1}\n```\nDone.') == {"a": 1}
    with pytest.raises(OutputParserException):
        parser.invoke('{"a": [1, 2')
