"""Property tests of the magic lines: whatever a user types, only UsageError or a ChainError escapes.

Lines are drawn from the magics' own vocabulary (every flag, good and bad values, the ``-i`` forms,
``--batch`` literals and expressions, names that exist and names that do not) mixed with arbitrary
text, and run through a real ``InteractiveShell``. Each line runs under a 5-second alarm, so a hang
fails instead of stalling the run. The example count comes from ``CHAINMAGIC_FUZZ_EXAMPLES``.
"""

from __future__ import annotations

import os
from textwrap import dedent
from typing import Any

import pytest
from alarms import raising_after
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from chainmagic.errors import ChainError

EXAMPLES = int(os.environ.get("CHAINMAGIC_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)

NAMESPACE = dedent(
    """\
    from chainmagic.core import FakeChatModel, RunnableLambda
    model = FakeChatModel()
    bad = FakeChatModel(fail_on="poem")
    echo = RunnableLambda(lambda x: x)
    %chain map_chain = {joke: "joke {topic}" | model | str, poem: "poem {topic}" | bad} -q
    topics = [{"topic": "bear"}, {"topic": "cat"}]
    text = "where did harrison work?"
    n = 3
    """
)

NAMES = ["map_chain", "echo", "bad", "model", "topics", "text", "n", "missing", "print", "None"]
FLAGS = [
    "-i", "--input", "--batch", "--stream", "--no-stream", "--dry-run", "--to-python", "-o", "-v",
    "-q", "--model", "--timeout", "--max-concurrency", "-h", "--help", "-x", "--nope", "-", "--",
]  # fmt: skip
TIME_FLAGS = [
    "-i", "-n", "-w", "--max-time", "--baseline", "--stat", "--seed", "-o", "-v", "-q", "-p",
    "--model", "-h", "--bogus",
]  # fmt: skip
VALUES = [
    "0", "1", "2", "-1", "-0.5", "0.01", "nan", "inf", "-inf", "1e309", "abc", "1abc", "''", '""',
    "'a b'", "topic=bear", "topic=", "=x", "x==1", "'[1'", "'[1, 2]'", "[1,", "'{\"topic\": 1}'",
    "{topic: 1}", "topics", "topics[0]", "topics[9]", "text", "missing", "1/0", "'\"quoted\"'",
    "fake:echo", "openai:", ":", "fake:nope", "median", "mean", "max", "'(((('", "'\\'", "\\",
    "'" + "[" * 150 + "'", "where did harrison work?", "é", "\x00", "'%chain'", "$x", "{n}",
    "'fake:echo'", "lambda: 1", "__import__", "'a' 'b'", "--", "-", "x=1 y=2",
]  # fmt: skip
HEADS = [
    "", "map_chain", "echo", "missing", "1abc", '"hi {topic}" | model', '"x" | str', "model |",
    "{a: echo, b: echo}", "echo | echo | str", "(echo", "echo)", '"unterminated', "@topic | echo",
    "model('fake:echo', fail_on='(')", "model('fake:echo', latency=-1)", "[echo]", "|", "#",
]  # fmt: skip

token = st.one_of(
    st.sampled_from(FLAGS + VALUES + NAMES),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
chain_line = st.builds(
    lambda head, rest: " ".join([head, *rest]),
    st.sampled_from(HEADS),
    st.lists(token, max_size=8),
)
time_token = st.one_of(
    st.sampled_from(TIME_FLAGS + VALUES + NAMES),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)
time_line = st.lists(time_token, max_size=8).map(" ".join)


@pytest.fixture
def shell(ipython: Any) -> Any:
    ipython.ok(NAMESPACE)
    ipython.ok("%config ChainMagics.widgets = 'off'")
    return ipython


def run_magic(shell: Any, magic: str, line: str, cell: str | None = None) -> None:
    from IPython.utils.capture import capture_output

    ns = shell.ns
    kept = {k: ns[k] for k in ("map_chain", "echo", "topics", "n")}
    with capture_output(), raising_after(5.0, TimeoutError("the magic took more than 5 s")):
        try:
            if cell is None:
                shell.shell.run_line_magic(magic, line)
            else:
                shell.shell.run_cell_magic(magic, line, cell)
        except (UsageError, ChainError):
            pass
    # nothing a fuzzed line does may replace the notebook's own values
    for key, value in kept.items():
        if ns.get(key) is not value:
            ns[key] = value  # a *valid* line may rebind map_chain; restore for the next example


@FUZZ
@given(chain_line)
def test_chain_lines_raise_only_usage_or_chain_errors(shell: Any, line: str) -> None:
    run_magic(shell, "chain", line)


@settings(FUZZ, max_examples=max(EXAMPLES // 5, 50))
@given(time_line.map(lambda rest: f"-n 1 -w 0 --max-time 2 {rest} echo"))
def test_chaintime_lines_raise_only_usage_or_chain_errors(shell: Any, line: str) -> None:
    run_magic(shell, "chaintime", line)


@settings(FUZZ, max_examples=max(EXAMPLES // 5, 50))
@given(st.lists(token, max_size=6).map(" ".join), st.sampled_from(HEADS[1:]))
def test_chain_cells_raise_only_usage_or_chain_errors(shell: Any, line: str, body: str) -> None:
    run_magic(shell, "chain", line, body + "\n")
