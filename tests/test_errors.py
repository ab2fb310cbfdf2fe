"""chainmagic.errors: the one exception tree, its messages, carets, paths and pickling."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import traceback

import pytest

import chainmagic
from chainmagic import errors
from chainmagic.errors import (
    PATH_SEP,
    ChainError,
    ChainNameError,
    ChainRunError,
    ChainSyntaxError,
    MissingCredentialsError,
    ModelError,
)


def test_the_tree():
    assert issubclass(ChainSyntaxError, ChainError)
    assert issubclass(ChainSyntaxError, SyntaxError)
    assert issubclass(ChainNameError, ChainError)
    assert issubclass(ChainNameError, NameError)
    assert issubclass(ChainRunError, ChainError)
    assert issubclass(ModelError, ChainError)
    assert issubclass(MissingCredentialsError, ModelError)
    assert issubclass(ChainError, Exception)
    for name in ("ChainError", "ChainSyntaxError", "ChainNameError", "ChainRunError"):
        assert name in errors.__doc__
        assert getattr(chainmagic, name) is getattr(errors, name)


# -- ChainSyntaxError ------------------------------------------------------------------------------


def test_syntax_error_renders_the_line_and_a_caret():
    err = ChainSyntaxError("expected a step after '|'", lineno=2, offset=7, text="a | b | | c")
    assert str(err) == "expected a step after '|'\n  line 2: a | b | | c\n                ^"
    assert (err.lineno, err.offset, err.filename) == (2, 7, "<chain>")
    assert err.msg == "expected a step after '|'"


def test_syntax_error_underlines_a_span():
    err = ChainSyntaxError("unknown name", lineno=1, offset=5, end_offset=9, text="a | foo | b\n")
    assert str(err) == "unknown name\n  line 1: a | foo | b\n              ^~~~"
    assert err.end_offset == 9
    assert err.end_lineno == 1


def test_syntax_error_without_position_is_just_the_message():
    assert str(ChainSyntaxError("empty chain")) == "empty chain"
    assert str(ChainSyntaxError("no text", lineno=3)) == "no text"


def test_python_prints_a_syntax_error_with_file_line_and_caret():
    err = ChainSyntaxError("unexpected '|'", lineno=1, offset=5, end_offset=6, text="a | | b")
    try:
        raise err
    except SyntaxError:
        printed = traceback.format_exc()
    assert 'File "<chain>", line 1' in printed
    assert "    a | | b" in printed
    assert "        ^" in printed
    assert printed.rstrip().endswith("ChainSyntaxError: unexpected '|'")


def test_a_syntax_error_is_catchable_as_syntax_error_in_a_subprocess():
    code = textwrap.dedent(
        """
        from chainmagic.errors import ChainSyntaxError
        raise ChainSyntaxError("bad pipe", lineno=1, offset=3, text="a ||")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert 'File "<chain>", line 1' in done.stderr
    assert "a ||" in done.stderr
    assert "ChainSyntaxError: bad pipe" in done.stderr


# -- ChainNameError --------------------------------------------------------------------------------


def test_name_error_suggests_candidates():
    err = ChainNameError("retriver", ["retriever", "retrieve", "river", "fourth"])
    assert err.name == "retriver"
    assert err.candidates == ["retriever", "retrieve", "river", "fourth"]
    assert str(err) == "unknown name 'retriver'; did you mean 'retriever' or 'retrieve' or 'river'?"


def test_name_error_without_candidates_and_with_a_location():
    assert str(ChainNameError("zzz")) == "unknown name 'zzz'"
    assert ChainNameError("zzz").candidates == []
    err = ChainNameError(
        "modle", ("model",), where="  line 1: prompt | modle\n                   ^~~~~"
    )
    assert str(err) == (
        "unknown name 'modle'; did you mean 'model'?\n  line 1: prompt | modle\n                   ^~~~~"
    )


# -- ChainRunError ---------------------------------------------------------------------------------


def test_run_error_names_the_path_and_the_cause():
    cause = TimeoutError("read timed out")
    err = ChainRunError(cause, ["map_chain", "poem", "model"])
    assert err.path == ["map_chain", "poem", "model"]
    assert err.where == "map_chain › poem › model"
    assert PATH_SEP == " › "
    assert str(err) == "map_chain › poem › model failed: TimeoutError: read timed out"
    assert err.cause is cause
    assert err.__cause__ is cause
    assert err.partial == {}


def test_run_error_without_path_or_message():
    assert str(ChainRunError(ValueError("v"))) == "ValueError: v"
    assert str(ChainRunError(KeyError(), ["a"])) == "a failed: KeyError"
    assert ChainRunError(ValueError()).path == []


def test_run_error_copies_the_path():
    path = ["a"]
    err = ChainRunError(ValueError(), path)
    err.path.insert(0, "outer")
    assert path == ["a"]


def test_run_error_renders_in_one_line_for_ipython():
    err = ChainRunError(ValueError("bad"), ["map", "x"])
    assert err._render_traceback_() == ["ChainRunError: map › x failed: ValueError: bad"]


def test_run_error_pickles_with_path_cause_and_partial():
    err = ChainRunError(ConnectionError("reset"), ["map_chain", "poem", "model"])
    err.partial = {"joke": "why did the bear...", "n": [1, 2]}
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ChainRunError
    assert back.path == ["map_chain", "poem", "model"]
    assert isinstance(back.cause, ConnectionError)
    assert back.__cause__ is back.cause
    assert back.partial == {"joke": "why did the bear...", "n": [1, 2]}
    assert str(back) == str(err)


# -- ModelError ------------------------------------------------------------------------------------


def test_model_error_keeps_status_and_provider():
    err = ModelError("rate limited (429)", status=429, provider="openai")
    assert (str(err), err.status, err.provider) == ("rate limited (429)", 429, "openai")


def test_missing_credentials_names_the_variable():
    err = MissingCredentialsError("OPENAI_API_KEY")
    assert str(err) == (
        "no API key for openai: set the OPENAI_API_KEY environment variable or pass api_key=..."
    )
    assert err.variable == "OPENAI_API_KEY"
    assert err.provider == "openai"
    hinted = MissingCredentialsError("GROQ_API_KEY", "groq", hint="get one at console.groq.com")
    assert str(hinted) == (
        "no API key for groq: set the GROQ_API_KEY environment variable (get one at console.groq.com)"
    )


# -- pickling every error --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "err",
    [
        ChainError("plain"),
        ChainSyntaxError("bad", lineno=2, offset=3, end_offset=5, text="x = |"),
        ChainSyntaxError("no position"),
        ChainNameError("retriver", ["retriever"], where="line 1"),
        ChainRunError(ValueError("v"), ["a", "b"]),
        ModelError("server error", status=500, provider="openai"),
        MissingCredentialsError("OPENAI_API_KEY"),
        MissingCredentialsError("X_KEY", "x", hint="see docs"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_pickles_to_an_equal_error(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert repr(back) == repr(err)
    for attr in ("name", "candidates", "where", "path", "status", "provider", "variable"):
        if hasattr(err, attr):
            assert getattr(back, attr) == getattr(err, attr), attr
    for attr in ("lineno", "offset", "end_offset", "text", "filename"):
        if isinstance(err, SyntaxError):
            assert getattr(back, attr) == getattr(err, attr), attr
