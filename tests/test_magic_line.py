"""Splitting a ``%chain`` line into the chain text and the options, quotes and brackets respected."""

from __future__ import annotations

import pytest

from chainmagic.magic_line import split_line
from chainmagic.magics import _CHAIN_FLAGS


@pytest.mark.parametrize(
    ("line", "head", "options"),
    [
        ("map_chain -i topic=bear", "map_chain", "-i topic=bear"),
        ("map_chain", "map_chain", ""),
        ("", "", ""),
        ("   ", "", ""),
        ("-i x=1 -q", "", "-i x=1 -q"),
        ("  map_chain   -q  ", "map_chain", "-q  "),
        # a pipeline's own dashes (in strings, in calls, in names) are not options
        ('"a - b {x}" | model -i x=1', '"a - b {x}" | model', "-i x=1"),
        ('"-i {x}" | model -o', '"-i {x}" | model', "-o"),
        ("'-q' | model -q", "'-q' | model", "-q"),
        ('"""a\n-i b""" | model -q', '"""a\n-i b""" | model', "-q"),
        ("'''-x''' | m -v r", "'''-x''' | m", "-v r"),
        (r"'it\'s -x' | m -o", r"'it\'s -x' | m", "-o"),
        ('model("fake:echo", temperature=-1) -i x', 'model("fake:echo", temperature=-1)', "-i x"),
        ('{a: @x, b: "-q"} -q', '{a: @x, b: "-q"}', "-q"),
        ("f(-1) | g", "f(-1) | g", ""),
        ("a-b -i 1", "a-b", "-i 1"),
        ("name -1", "name -1", ""),  # a negative number is not a flag
        # long options, with or without =, and flags the magic does not know (argparse rejects them)
        ("a | b --model=fake:x", "a | b", "--model=fake:x"),
        ("a --max-concurrency 2", "a", "--max-concurrency 2"),
        ("a --bogus", "a", "--bogus"),
        ("a -z", "a", "-z"),
        # an unterminated string keeps everything in the chain text (the compiler reports it)
        ('a "unterminated -i x', 'a "unterminated -i x', ""),
    ],
)
def test_split_line(line: str, head: str, options: str) -> None:
    assert split_line(line, _CHAIN_FLAGS) == (head, options)


def test_every_chain_option_starts_the_options() -> None:
    for flag in sorted(_CHAIN_FLAGS):
        assert split_line(f"chain_x {flag} 1", _CHAIN_FLAGS) == ("chain_x", f"{flag} 1"), flag


def test_an_option_glued_to_the_text_is_text() -> None:
    assert split_line('"x"|m-q', _CHAIN_FLAGS) == ('"x"|m-q', "")
