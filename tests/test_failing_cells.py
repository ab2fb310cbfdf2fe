"""A failing cell changes nothing the user had, loses nothing that finished, and says one short thing.

Through a real ``InteractiveShell``: the bindings a failing cell leaves, what a failed or
interrupted run keeps (``exc.result``, ``-v``, ``chainmagic.last_result()``), option checks with
messages that name the option, and dry runs that never call a model.
"""

from __future__ import annotations

from textwrap import dedent
from typing import Any

import pytest
from alarms import raising_after
from IPython.core.error import UsageError
from test_magics import ASSIGN_CELL, MAP_CELL, SETUP, assert_usage_error

import chainmagic
from chainmagic.errors import ChainRunError
from chainmagic.run import BatchResult, ChainResult

COUNTING = dedent(
    """\
    from chainmagic.core import RunnableLambda
    calls = []
    def counted(x):
        calls.append(x)
        return x
    counter = RunnableLambda(counted)
    """
)


@pytest.fixture
def ip(ipython: Any) -> Any:
    ipython.ok(SETUP)
    ipython.ok(COUNTING)
    ipython.ok(MAP_CELL)  # map_chain is defined, as in the tutorials
    return ipython


# -- a failing cell binds nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "%%chain map_chain -i undefined_var\nother: 'x {topic}' | model\n",
        "%%chain map_chain --batch '[1'\nother: 'x {topic}' | model\n",
        "%%chain map_chain -i topic=bear --timeout -1\nother: 'x {topic}' | model\n",
        "%%chain map_chain -i topic=bear -v 1abc\nother: 'x {topic}' | model\n",
        "%%chain map_chain --dry-run --batch '{\"not\": \"a list\"}'\nother: 'x {topic}' | model\n",
        "%%chain -i undefined_var\nmap_chain = 'x {topic}' | model\nnew_chain = map_chain | str\n",
    ],
)
def test_a_cell_that_fails_its_checks_binds_nothing(ip: Any, cell: str) -> None:
    before = ip.ns["map_chain"]
    ran = ip(cell)
    assert type(ran.error) is UsageError
    assert ip.ns["map_chain"] is before
    assert "new_chain" not in ip.ns


def test_a_chain_that_cannot_travel_to_a_cluster_binds_nothing(ip: Any, tmp_path: Any) -> None:
    """Found before the cell binds a name, and before connecting: the scheduler here is unreachable."""
    ip.ns["log"] = open(tmp_path / "log.txt", "w")  # an open file does not pickle
    ip.ok("def note(x):\n    log.write(str(x))\n    return x")
    before = ip.ns["map_chain"]
    ran = ip(
        '%%chain map_chain --batch \'[{"topic": "bear"}]\' --on tcp://127.0.0.1:9\n'
        "noted = 'x {topic}' | note | model\n"
        "joke: noted\n"
    )
    ip.ns["log"].close()
    assert type(ran.error) is UsageError
    assert "note" in str(ran.error) and "cannot be sent to the workers" in str(ran.error)
    assert "cannot reach" not in str(ran.error)
    assert ip.ns["map_chain"] is before
    assert "noted" not in ip.ns


def test_a_run_that_fails_keeps_the_bindings_of_a_valid_chain(ip: Any) -> None:
    ran = ip('%%chain failing -i topic=bear\njoke: "a poem about {topic}" | bad\n')
    assert isinstance(ran.error, ChainRunError)
    assert isinstance(ip.ns["failing"], chainmagic.core.Runnable)


def test_a_valid_cell_binds_its_names(ip: Any) -> None:
    ip.ok(ASSIGN_CELL.replace("%%chain", "%%chain -i topic=cat -q"))
    assert {"joke_chain", "poem_chain"} <= set(ip.ns)


# -- what a failed run keeps ------------------------------------------------------------------


def test_a_failed_run_is_kept_on_the_error_and_as_the_last_result(ip: Any) -> None:
    ip.ns.pop("r", None)
    ran = ip('r = %chain "tell me about {topic}" | bad -i topic=poem -o')
    assert isinstance(ran.error, ChainRunError)
    assert "r" not in ip.ns  # the assignment never happened...
    kept = chainmagic.last_result()
    assert isinstance(kept, ChainResult)  # ...but the result is one expression away
    assert kept.status == "error"
    assert ran.error.result is kept


def test_a_failed_map_keeps_its_finished_branches(ip: Any) -> None:
    ip(
        '%%chain broken -i topic=bear -v kept\njoke: "j {topic}" | model\npoem: "poem {topic}" | bad\n'
    )
    assert ip.ns["kept"].branches["joke"].status == "ok"
    assert chainmagic.last_result() is ip.ns["kept"]


def test_a_batch_with_failures_is_kept(ip: Any) -> None:
    ip.ok("inputs = [{'topic': 'bear'}, {'topic': 'poem'}]")
    ip('%chain "a {topic}" | bad --batch inputs -q')
    kept = chainmagic.last_result()
    assert isinstance(kept, BatchResult)
    assert [r.status for r in kept.results] == ["ok", "error"]


def test_an_interrupted_run_is_kept_and_stored(ip: Any) -> None:
    with raising_after(0.3, KeyboardInterrupt()):
        ran = ip('%chain {a: "x {topic}" | tenth, b: "y {topic}" | slow} -i topic=t -v stopped -q')
    assert isinstance(ran.error, KeyboardInterrupt)
    kept = ip.ns["stopped"]
    assert kept is chainmagic.last_result()
    assert kept.status == "cancelled"
    assert kept.branches["a"].status == "ok"
    assert kept.branches["b"].status == "cancelled"
    # the loop is free again: the next run is not stuck behind the cancelled one
    assert ip.ok('%chain "hi {x}" | model -i x=1 -o -q').value.status == "ok"


def test_a_wait_stopped_by_a_timeout_signal_cancels_the_run(ip: Any) -> None:
    with raising_after(0.2, TimeoutError("cell time limit")):
        ran = ip('%chain "x {topic}" | slow -i topic=t -q')
    assert isinstance(ran.error, TimeoutError)
    assert chainmagic.last_result().status == "cancelled"
    assert ip.ok('%chain "hi {x}" | model -i x=1 -o -q').value.status == "ok"


# -- dry runs never call a model -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "%chain counter --dry-run -i 1",
        "%chain counter --dry-run --batch '[1, 2, 3]'",
        "%chain counter --dry-run --batch '[1, 2]' -o",
        "%chain counter --dry-run -i 1 --no-stream -v dry",
        "%chain counter | str --dry-run --batch '[1]' --max-concurrency 2",
    ],
)
def test_a_dry_run_calls_nothing(ip: Any, line: str) -> None:
    ran = ip(line)
    assert ran.error is None, ran.error
    assert ip.ns["calls"] == []
    assert "dry" not in ip.ns


# -- every option checked before anything runs ---------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "%chain counter -i 1 --batch '[1]'",
            "-i and --batch cannot go together: -i is one input, --batch a list",
        ),
        (
            "%chain counter -i 1 --timeout -1",
            "--timeout -1: a number of seconds above 0, e.g. --timeout 30",
        ),
        (
            "%chain counter -i 1 --timeout nan",
            "--timeout nan: a number of seconds above 0, e.g. --timeout 30",
        ),
        (
            "%chain counter -i 1 --timeout 0",
            "--timeout 0: a number of seconds above 0, e.g. --timeout 30",
        ),
        ("%chain counter -i 1 --max-concurrency -1", "--max-concurrency -1: must be at least 1"),
        ("%chain counter -i 1 --max-concurrency 0", "--max-concurrency 0: must be at least 1"),
        ("%chain counter -i 1 -v 1abc", "-v '1abc': not a valid variable name, e.g. -v result"),
        ("%chain counter -i 1 -v 'a b'", "-v 'a b': not a valid variable name, e.g. -v result"),
        ("%chain counter -i 1 -v ''", "-v '': not a valid variable name, e.g. -v result"),
        ("%chain counter -i 1 -v class", "-v 'class': not a valid variable name, e.g. -v result"),
        (
            "%chain counter -i 1 --model fake:echo",
            "--model applies to chains written in this cell; 'counter' keeps the model it was "
            "built with (rebuild it: %%chain counter --model fake:echo)",
        ),
        ("%chaintime -i x=1 counter -n 0", "-n 0: give a number of runs (1 to 100000) or auto"),
        ("%chaintime -i x=1 counter -w -1", "-w -1: give a number of warm-up runs, 0 or more"),
        (
            "%chaintime -i x=1 counter --max-time -1",
            "--max-time -1: give seconds, a number above 0",
        ),
        (
            "%chaintime -i x=1 counter --max-time 0",
            "--max-time 0: give seconds, a number above 0",
        ),
        (
            "%chaintime -i x=1 counter --max-time nan",
            "--max-time nan: give seconds, a number above 0",
        ),
        ("%chaintime -i x=1 counter -p 0", "-p 0: significant digits go from 1 to 9 (default 3)"),
        ("%chaintime -i x=1 counter -p 50", "-p 50: significant digits go from 1 to 9 (default 3)"),
        (
            "%chaintime -i x=1 counter -v 1abc",
            "-v '1abc': not a valid variable name, e.g. -v result",
        ),
        (
            "%chaintime -i x=1 counter --model fake:echo",
            "--model applies to the pipelines of a %%chaintime cell; chains named here keep the "
            "model they were built with",
        ),
        ("%chain counter -i " + "[" * 1000 + "]" * 1000, "-i: nested too deeply (limit 100)"),
    ],
)
def test_bad_options_fail_at_once_with_one_message(ip: Any, line: str, message: str) -> None:
    assert_usage_error(ip(line), message)
    assert ip.ns["calls"] == []


def test_deep_nesting_is_one_located_message(ip: Any) -> None:
    ran = ip("%chain " + "{a: " * 250 + "model" + "}" * 250 + " -i x")
    assert type(ran.error) is UsageError
    assert str(ran.error).startswith("nested too deeply (limit 64)")
    assert len(ran.stderr.splitlines()) <= 4


def test_a_bad_model_keyword_is_one_located_message(ip: Any) -> None:
    ran = ip('%chain "hi {x}" | model("fake:echo", fail_on="(") -i x=1')
    assert type(ran.error) is UsageError
    assert "fail_on='(' is not a regular expression" in str(ran.error)


@pytest.mark.parametrize("line", ["%chain counter -h", "%chain --help", "%chaintime -h"])
def test_help_shows_the_usage_and_runs_nothing(ip: Any, line: str) -> None:
    ran = ip(line)
    assert ran.error is None
    assert ran.stdout.startswith("usage: %chain")
    assert ip.ns["calls"] == []


def test_a_batch_expression_runs_quoted_and_is_explained_unquoted(ip: Any) -> None:
    ip.ok("names = [1, 2]")
    ran = ip.ok("""%chain counter --batch '[n * 10 for n in names]' -o -q""")
    assert ran.value.outputs == [10, 20]
    assert_usage_error(
        ip("%chain counter --batch [n * 10 for n in names] -q"),
        "--batch needs a list: quote the expression whole, "
        """e.g. --batch '[{"topic": t} for t in topics]'""",
    )
