"""``%%chain`` and ``%chain`` through a real ``InteractiveShell``: forms, options, errors, settings.

Every cell goes through ``shell.run_cell`` as a notebook's would; what the user sees (displayed
bundles, stdout, stderr) is captured. Models are the offline fake, with small latencies.
"""

from __future__ import annotations

import importlib.util
import re
import time
from textwrap import dedent
from typing import Any

import pytest
from IPython.core.error import UsageError

from chainmagic.core import Runnable
from chainmagic.errors import ChainRunError
from chainmagic.run import BatchResult, ChainResult

WIDGET = "application/vnd.jupyter.widget-view+json"

MAP_CELL = dedent(
    """\
    %%chain map_chain -i topic=bear
    joke: "tell me a joke about {topic}" | model | str
    poem: "write a 2-line poem about {topic}" | model | str
    """
)
BROKEN_CELL = dedent(
    """\
    %%chain broken -i topic=bear
    joke: "tell me a joke about {topic}" | model | str
    poem: "write a 2-line poem about {topic}" | bad | str
    """
)
ASSIGN_CELL = dedent(
    """\
    %%chain
    joke_chain = "tell me a joke about {topic}" | model
    poem_chain = "write a 2-line poem about {topic}" | model
    map_chain  = {joke: joke_chain, poem: poem_chain}
    """
)
SETUP = dedent(
    """\
    from chainmagic.core import FakeChatModel, RunnableLambda, RunnableParallel
    bad = FakeChatModel(fail_on="poem")
    slow = FakeChatModel(latency=5)
    tenth = FakeChatModel(latency=0.1)
    tokens = FakeChatModel(token_delay=0.02)
    retriever = RunnableLambda(lambda q: ["harrison worked at kensho"])
    question = "where did harrison work?"
    topics = [{"topic": "bear"}, {"topic": "cat"}]
    """
)


@pytest.fixture
def ip(ipython: Any) -> Any:
    ipython.ok(SETUP)
    return ipython


def output_of(ip: Any, line: str) -> Any:
    """Run ``%chain LINE -o -q`` and return the ChainResult's output."""
    ran = ip.ok(f"%chain {line} -o -q")
    assert isinstance(ran.value, ChainResult)
    return ran.value.output


def assert_usage_error(ran: Any, message: str) -> None:
    """The cell failed with exactly IPython's UsageError: one short message, nothing else shown."""
    assert not ran.result.success
    assert type(ran.error) is UsageError
    assert str(ran.error) == message
    assert ran.stderr == f"UsageError: {message}\n"
    assert ran.stdout == ""
    assert ran.outputs == []


# -- the forms ------------------------------------------------------------------------------------


def test_cell_with_an_input_runs_and_binds_the_chain_to_its_name(ip: Any, mask: Any) -> None:
    ran = ip.ok(MAP_CELL)
    assert mask(ran.text) == (
        "map_chain\n"
        "joke: tell me a joke about bear\n"
        "poem: write a 2-line poem about bear\n"
        "total T (joke T, poem T) · 28 tokens"
    )
    assert isinstance(ip.ns["map_chain"], Runnable)
    assert ip.ns["map_chain"].invoke({"topic": "cat"}) == {
        "joke": "tell me a joke about cat",
        "poem": "write a 2-line poem about cat",
    }


def test_cell_of_assignments_binds_each_and_shows_the_graph_and_its_inputs(
    ip: Any, mask: Any
) -> None:
    ran = ip.ok(ASSIGN_CELL)
    for name in ("joke_chain", "poem_chain", "map_chain"):
        assert isinstance(ip.ns[name], Runnable), name
    assert ip.ns["joke_chain"].invoke({"topic": "bear"}).content == "tell me a joke about bear"
    text = ran.text
    assert text.startswith("map_chain\n")
    assert text.endswith("\ninputs: topic")
    assert "joke:" in text
    assert "poem:" in text
    assert set(ran.outputs[0]) == {"text/plain", "text/html"}


def test_a_named_cell_of_assignments_binds_its_chain_to_the_name_too(ip: Any) -> None:
    ip.ok('%%chain final\nshout = "say {x}" | model\nquiet = shout | str')
    assert ip.ns["final"] is ip.ns["quiet"]
    assert isinstance(ip.ns["shout"], Runnable)


def test_line_form_runs_a_chain_from_the_notebook(ip: Any) -> None:
    ip.ok(MAP_CELL)
    assert output_of(ip, "map_chain -i topic=cat") == {
        "joke": "tell me a joke about cat",
        "poem": "write a 2-line poem about cat",
    }


def test_line_form_runs_python_objects_and_dicts_by_name(ip: Any) -> None:
    ip.ok("shout = RunnableLambda(str.upper)\nboth = {'up': shout, 'same': RunnableLambda(str)}")
    assert output_of(ip, "shout -i hi there") == "HI THERE"
    assert output_of(ip, "both -i '\"hi\"'") == {"up": "HI", "same": "hi"}


def test_line_form_runs_a_one_line_pipeline(ip: Any) -> None:
    assert output_of(ip, '"what is {x}?" | model | str -i x=LCEL') == "what is LCEL?"
    assert output_of(ip, '"a - b - {x}" | model | str -i x=c') == "a - b - c"
    assert output_of(ip, "{q: passthrough, n: @n} -i n=2") == {"q": {"n": 2}, "n": 2}


def test_line_form_binds_nothing_new(ip: Any) -> None:
    before = set(ip.ns)
    ip.ok('%chain "x {y}" | model -i y=1 -q')
    assert set(ip.ns) == before


def test_the_examples_of_the_language_reference_run(ip: Any) -> None:
    ran = ip.ok(
        '%%chain retrieval_chain -i "where did harrison work?" -o -q\n'
        '{context: retriever, question: passthrough} | "{context} / {question}" | model | str'
    )
    assert ran.value.output == "['harrison worked at kensho'] / where did harrison work?"
    ip.ok(
        dedent(
            '''\
            %%chain chain -i question="where did harrison work" language=italian -v res
            {context: @question | retriever, question: @question, language: @language}
            | """Answer the question based only on the following context:
            {context}

            Question: {question}

            Answer in the following language: {language}
            """
            | model
            | str
            '''
        )
    )
    out = ip.ns["res"].output
    assert "Question: where did harrison work" in out
    assert "harrison worked at kensho" in out
    assert out.endswith("Answer in the following language: italian")


def test_variables_are_not_expanded(ip: Any) -> None:
    ip.ok("y = 'EXPANDED'")
    assert output_of(ip, '"cost {x}" | model | str -i x=$y') == "cost $y"
    ran = ip.ok('%%chain -i x=$y -o -q\n"cost {x} ${x}" | model | str')
    assert ran.value.output == "cost $y $$y"


def test_help_shows_the_options_and_examples(ip: Any) -> None:
    ran = ip.ok("%chain?")
    assert "Usage:\n  %%chain or %chain [-i VALUE" in ran.stdout  # plain text, as %timeit? reads
    assert "::" not in ran.stdout and "``" not in ran.stdout
    assert "%%chain [NAME] [options]" in ran.stdout
    assert '-i \'{"topic": "bear"}\'' in ran.stdout  # every -i form, with an example
    assert '%chain "what is {x}?" | model | str -i x=LCEL' in ran.stdout
    for option in ("--batch EXPR", "--no-stream", "--dry-run", "--max-concurrency N", "-v VAR"):
        assert option in ran.stdout
    assert "%chaintime -i topic=bear joke_chain poem_chain map_chain" in ip.ok("%chaintime?").stdout


# -- -i forms -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("-i topic=bear", {"topic": "bear"}),
        (
            '-i topic=bear n=3 tags=\'["a", "b"]\' q="two words"',
            {"topic": "bear", "n": 3, "tags": ["a", "b"], "q": "two words"},
        ),
        ('-i \'{"topic": "bear"}\'', {"topic": "bear"}),
        ("-i \"{'topic': 'bear', 'n': 1}\"", {"topic": "bear", "n": 1}),
        ("-i '[1, 2]'", [1, 2]),
        ("-i 42", 42),
        ("-i question", "where did harrison work?"),
        ("-i topics[1]", {"topic": "cat"}),
        ("-i '\"quoted\"'", "quoted"),
        ('-i "where did harrison work?"', "where did harrison work?"),
        ("-i tell me a joke", "tell me a joke"),
        ("--input topic=bear", {"topic": "bear"}),
        ("-i {1: 2, 3: 4}", {1: 2, 3: 4}),  # unquoted, split at its spaces: read back as one
    ],
)
def test_input_forms(ip: Any, option: str, expected: Any) -> None:
    assert output_of(ip, f"passthrough {option}") == expected


def test_an_undefined_single_name_is_an_error_with_a_hint(ip: Any) -> None:
    ran = ip("%chain passthrough -i qestion")
    assert_usage_error(
        ran,
        "-i qestion: no variable 'qestion' in the notebook; "
        "to pass it as text, quote it: -i '\"qestion\"'",
    )


def test_an_unquoted_literal_that_lost_its_quotes_is_an_error(ip: Any) -> None:
    ran = ip('%chain passthrough -i {"topic": "bear"}')
    assert_usage_error(
        ran,
        "-i {topic: bear}: NameError: name 'topic' is not defined; "
        'to pass it as a literal, quote all of it: -i \'{"topic": "bear"}\'',
    )


# -- options --------------------------------------------------------------------------------------


def test_batch_runs_every_input_of_a_list(ip: Any, mask: Any) -> None:
    ip.ok(MAP_CELL.replace(" -i topic=bear", ""))
    ran = ip.ok("%chain map_chain --batch topics")
    assert re.sub(r"[\d.,]+ inputs/s", "N inputs/s", mask(ran.text)) == (
        "map_chain · 2 inputs · 2 ok · total T · N inputs/s\n"
        "0  topic: bear  joke: tell me a joke about bear ↵ poem: write a 2-line poem…  T\n"
        "1  topic: cat   joke: tell me a joke about cat ↵ poem: write a 2-line poem …  T"
    )
    batch = ip.ok('%chain "{topic}!" | model | str --batch \'[{"topic": 1}, {"topic": 2}]\' -o -q')
    assert isinstance(batch.value, BatchResult)
    assert batch.value.outputs == ["1!", "2!"]


def test_batch_needs_a_list(ip: Any) -> None:
    assert_usage_error(
        ip("%chain passthrough --batch 3"), "--batch needs a list of inputs, got int"
    )
    assert_usage_error(
        ip("%chain passthrough --batch nope"),
        "--batch: -i nope: no variable 'nope' in the notebook; "
        "to pass it as text, quote it: -i '\"nope\"'",
    )


def test_dry_run_shows_the_graph_and_inputs_without_running(ip: Any) -> None:
    ip.ok('boom = FakeChatModel(fail_on=".")')
    ran = ip.ok('%chain "{a} and {b}" | boom --dry-run -i a=1 b=2')
    assert ran.text.endswith("inputs: a, b")
    assert "boom" in ran.text
    assert ip.ok('%chain "{a}" | boom --dry-run -q').outputs == []


def test_without_an_input_a_named_cell_shows_its_graph(ip: Any, mask: Any) -> None:
    ran = ip.ok('%%chain needs\n{x: @a, y: @b} | "{x}{y}" | model')
    assert ran.text.startswith("needs\n")
    assert ran.text.endswith("\ninputs: a, b")
    assert isinstance(ip.ns["needs"], Runnable)


def test_o_returns_the_result_v_stores_it_q_shows_nothing(ip: Any) -> None:
    ran = ip.ok('%chain "hi {x}" | model | str -i x=1 -o')
    assert isinstance(ran.value, ChainResult)
    assert ran.value.status == "ok"
    assert ran.value.output == "hi 1"
    assert len(ran.outputs) == 1

    ran = ip.ok('%chain "hi {x}" | model | str -i x=2 -v stored -q')
    assert ran.value is None
    assert ran.outputs == []
    assert ran.stdout == ""
    assert ip.ns["stored"].output == "hi 2"

    ip.ok('got = %chain "hi {x}" | model | str -i x=3 -o -q')
    assert ip.ns["got"].output == "hi 3"


def test_model_option_sets_what_model_means(ip: Any) -> None:
    out = output_of(ip, '"{x}" | model -i x=1 --model fake:other')
    assert out.response_metadata["model_name"] == "fake:other"
    ran = ip.ok('%%chain --model fake:cell -i x=1 -o -q\n"{x}" | model')
    assert ran.value.output.response_metadata["model_name"] == "fake:cell"
    assert_usage_error(
        ip('%chain "{x}" | model -i x=1 --model nope:x'),
        "unknown model provider 'nope'; did you mean 'openai'?\n"
        '  line 1: "{x}" | model\n'
        "                  ^~~~~",
    )


def test_a_namespace_model_wins_over_the_default(ip: Any) -> None:
    ip.ok("model = FakeChatModel(['mine'])")
    try:
        assert output_of(ip, '"{x}" | model | str -i x=1 --model fake:other') == "mine"
    finally:
        del ip.ns["model"]


def test_timeout_stops_a_slow_run(ip: Any) -> None:
    start = time.perf_counter()
    ran = ip('%chain "{x}" | slow -i x=1 --timeout 0.2')
    assert time.perf_counter() - start < 2
    assert isinstance(ran.error, ChainRunError)
    assert ran.stdout == "ChainRunError: TimeoutError: no result after 0.2 s (--timeout)\n"


def test_max_concurrency_bounds_the_branches(ip: Any) -> None:
    ip.ok('%%chain three\na: "1 {x}" | tenth\nb: "2 {x}" | tenth\nc: "3 {x}" | tenth')
    free = ip.ok("%chain three -i x=1 -o -q").value.total
    bound = ip.ok("%chain three -i x=1 -o -q --max-concurrency 1").value.total
    assert bound >= 0.29  # one branch at a time: three 0.1 s calls in a row
    assert free < 0.8 * bound  # at once (coarse: a loaded machine wakes sleepers late)


def test_stream_and_no_stream(ip: Any) -> None:
    streamed = ip.ok('%chain "a b c d e {x}" | tokens -i x=1 -o -q --stream').value
    assert streamed.ttft < streamed.total / 2
    whole = ip.ok('%chain "a b c d e {x}" | tokens -i x=1 -o -q --no-stream').value
    assert whole.ttft == whole.total
    assert streamed.output.content == whole.output.content == "a b c d e 1"


@pytest.mark.xfail(
    importlib.util.find_spec("chainmagic.dsl.python") is None,
    reason="to_python pending",
    strict=True,
)
def test_to_python_shows_code_that_builds_the_same_chain(ip: Any) -> None:
    ran = ip.ok(MAP_CELL.replace("-i topic=bear", "--to-python"))
    code = ran.text
    assert code.startswith("from chainmagic.core import ")
    assert "map_chain = RunnableParallel(" in code
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    run_output = output_of(ip, "map_chain -i topic=bear")
    assert namespace["map_chain"].invoke({"topic": "bear"}) == run_output


def test_to_python_of_an_object_without_a_name_is_a_usage_error(ip: Any) -> None:
    ip.ok("anonymous = RunnableLambda(lambda x: x)")
    ran = ip("%chain anonymous --to-python")
    assert type(ran.error) is UsageError
    assert str(ran.error).startswith("--to-python: ")


# -- settings: %config ChainMagics.* --------------------------------------------------------------


def test_config_default_model(ip: Any) -> None:
    ip.ok('%config ChainMagics.default_model = "fake:configured"')
    assert output_of(ip, '"{x}" | model -i x=1').response_metadata["model_name"] == (
        "fake:configured"
    )
    out = output_of(ip, '"{x}" | model -i x=1 --model fake:option')
    assert out.response_metadata["model_name"] == "fake:option"


def test_config_stream(ip: Any) -> None:
    ip.ok("%config ChainMagics.stream = False")
    whole = ip.ok('%chain "a b c d e {x}" | tokens -i x=1 -o -q').value
    assert whole.ttft == whole.total
    streamed = ip.ok('%chain "a b c d e {x}" | tokens -i x=1 -o -q --stream').value
    assert streamed.ttft < streamed.total / 2


def test_config_timeout(ip: Any) -> None:
    ip.ok("%config ChainMagics.timeout = 0.2")
    ran = ip('%chain "{x}" | slow -i x=1')
    assert isinstance(ran.error, ChainRunError)
    assert "no result after 0.2 s" in str(ran.error)


def test_config_max_concurrency(ip: Any) -> None:
    ip.ok("%config ChainMagics.max_concurrency = 1")
    ran = ip.ok('%chain {a: "1" | tenth, b: "2" | tenth} -i x=1 -o -q')
    assert ran.value.total >= 0.19


def test_config_widgets(ip: Any) -> None:
    assert WIDGET not in ip.ok(MAP_CELL).outputs[0]  # auto: no kernel here, no widget
    ip.ok('%config ChainMagics.widgets = "on"')
    data = ip.ok(MAP_CELL).outputs  # live, a widget; finished, the static text and HTML
    assert [set(d) for d in data] == [{"text/plain", "text/html"}]
    assert data[0]["text/plain"].startswith("map_chain\njoke: tell me a joke about bear\n")
    ip.ok('%config ChainMagics.widgets = "off"')
    assert [set(d) for d in ip.ok(MAP_CELL).outputs] == [{"text/plain", "text/html"}]


def test_config_rejects_a_bad_value(ip: Any, caplog: pytest.LogCaptureFixture) -> None:
    ip('%config ChainMagics.widgets = "sometimes"')
    assert ip.magics.widgets == "auto"
    assert "expected any of ['auto', 'on', 'off']" in caplog.text


def test_config_display_limit(ip: Any) -> None:
    ip.ok("%config ChainMagics.display_limit = 10")
    ran = ip.ok('%chain "a b c d e f g h i j k l m n o p {x}" | model | str -i x=1 -v long')
    assert ran.text.startswith("a b c d e  … (23 more characters)\n")
    assert ip.ns["long"].output == "a b c d e f g h i j k l m n o p 1"  # the result is whole


def test_config_lists_the_settings(ip: Any) -> None:
    out = ip.ok("%config ChainMagics").stdout
    for name in (
        "default_model",
        "stream",
        "timeout",
        "max_concurrency",
        "widgets",
        "display_limit",
    ):
        assert f"ChainMagics.{name}=" in out


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            '%%chain bad_syntax\n"a" | | model',
            "expected a step after '|'\n  line 2: \"a\" | | model\n                ^",
        ),
        (
            '%chain "q {x}" | retreiver -i x=1',
            "unknown name 'retreiver'; did you mean 'retriever'?\n"
            '  line 1: "q {x}" | retreiver\n'
            "                    ^~~~~~~~~",
        ),
        ("%chain passthrough --bogus", "unrecognized arguments: --bogus"),
        ('%%chain named --bogus\n"a"', "unrecognized arguments: --bogus"),
        ("%chain passthrough -i x=1 -z", "unrecognized arguments: -z"),
        ("%chain", "%chain needs a chain: %chain NAME -i ... or %chain PIPELINE -i ..."),
        ('%%chain 1bad -i x=1\n"a"', "%%chain NAME: '1bad' is not a valid name"),
        ('%%chain two words\n"a"', "%%chain NAME: 'two words' is not a valid name"),
        ("%%chain\n# only a comment\n", "the cell holds no chain"),
        (
            '%%chain\n"a"\n"b"',
            "a second unnamed chain; a cell has one (name the others: NAME = ...)\n"
            '  line 3: "b"\n'  # lines count from the %%chain line, as the notebook shows them
            "          ^~~",
        ),
        (
            "%chain 3 -i 3",
            "a number cannot be a step; a step is a prompt, a map, a @pick or a name\n"
            "  line 1: 3\n"
            "          ^",
        ),
        (
            "%chain question_number -i 1",
            "'question_number' is not a chain: cannot use int 7 as a step: expected a runnable, "
            "a dict of steps, a function or a prompt string",
        ),
        ("%chain passthrough -i", "argument -i/--input: expected at least one argument"),
        ("%chain passthrough -i x=1 -v", "argument -v: expected one argument"),
        (
            "%chain passthrough -i x=1 --timeout soon",
            "argument --timeout: invalid float value: 'soon'",
        ),
        (
            "%chain passthrough -i x=1 --max-concurrency 2.5",
            "argument --max-concurrency: invalid int value: '2.5'",
        ),
        ("%chain passthrough -i 'unclosed", "cannot read the options: No closing quotation"),
    ],
)
def test_usage_errors_are_one_short_message_and_fail_the_cell(
    ip: Any, cell: str, message: str
) -> None:
    ip.ok("question_number = 7")
    assert_usage_error(ip(cell), message)


def test_a_failing_step_fails_the_cell_naming_its_path(ip: Any, mask: Any) -> None:
    ran = ip(BROKEN_CELL.replace("-i topic=bear", "-i topic=bear -v res"))
    error = ran.error
    assert not ran.result.success
    assert type(error) is ChainRunError
    line = (
        "ChainRunError: broken › poem › bad failed: "
        "FakeModelError: injected failure on 'write a 2-line poem about bear'"
    )
    assert error._render_traceback_() == [line]
    assert ran.stdout == line + "\n"  # the whole traceback IPython shows
    assert ran.stderr == ""
    assert error.path == ["broken", "poem", "bad"]
    assert type(error.__cause__).__name__ == "FakeModelError"
    assert error.partial == {"joke": "tell me a joke about bear"}
    # the failing branch shows as failed, the other keeps its result
    assert mask(ran.text) == (
        "broken\n"
        "joke: tell me a joke about bear\n"
        "poem: failed — FakeModelError: injected failure on 'write a 2-line poem about bear'\n"
        "failed at broken › poem › bad · total T (joke T, poem T) · 12 tokens"
    )
    result = ip.ns["res"]
    assert result.status == "error"
    assert result.branches["joke"].status == "ok"
    assert result.branches["joke"].output == "tell me a joke about bear"
    assert result.branches["poem"].status == "error"


def test_a_failing_step_fails_the_cell_even_when_quiet(ip: Any) -> None:
    ran = ip(BROKEN_CELL.replace("-i topic=bear", "-i topic=bear -q"))
    assert isinstance(ran.error, ChainRunError)
    assert ran.outputs == []


# -- golden text/plain ----------------------------------------------------------------------------


def test_golden_sequence(ip: Any, mask: Any) -> None:
    ran = ip.ok('%chain "tell me a joke about {topic}" | model | str -i topic=cat')
    assert mask(ran.text) == "tell me a joke about cat\ntotal T · ttft T · 12 tokens"


def test_golden_named_sequence_with_a_dict_output(ip: Any, mask: Any) -> None:
    ran = ip.ok("%%chain picks -i a=1 b=two\n{x: @a, y: @b}")
    assert mask(ran.text) == "picks\nx: 1\ny: two\ntotal T (x T, y T)"


def test_golden_graph(ip: Any) -> None:
    ran = ip.ok(ASSIGN_CELL)
    assert ran.text == dedent(
        """\
        map_chain
                                 Input
                                   │
                     ┌─────────────┴──────────────┐
                   joke:                        poem:
        "tell me a joke about {t…"   "write a 2-line poem abo…"
                     │                            │
                   model                        model
                     └─────────────┬──────────────┘
                                   │
                                Output
        inputs: topic"""
    )


def test_golden_result_repr(ip: Any, mask: Any) -> None:
    ip.ok(MAP_CELL.replace("-i topic=bear", "-i topic=bear -v res -q"))
    shown, _ = ip.shell.display_formatter.format(ip.ns["res"])  # what Out[n] shows
    assert mask(shown["text/plain"]) == (
        "map_chain\n"
        "joke: tell me a joke about bear\n"
        "poem: write a 2-line poem about bear\n"
        "total T (joke T, poem T) · 28 tokens"
    )


# -- secrets --------------------------------------------------------------------------------------


def test_no_api_key_appears_in_any_output(ip: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chainmagic.testing import OpenAIServer

    right, wrong = "sk-right-SECRET-4f1e", "sk-wrong-SECRET-9b2c"
    with OpenAIServer(api_key=right) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", right)
        ip.ns["server_url"] = server.base_url
        ip.ok(
            "from chainmagic.core import ChatOpenAI\n"
            f"llm = ChatOpenAI('gpt-4o-mini', base_url=server_url, api_key={right!r})\n"
            f"llm_wrong = ChatOpenAI('gpt-4o-mini', base_url=server_url, api_key={wrong!r})"
        )
        cells = [
            '%chain "say {x}" | model("openai:gpt-4o-mini") | str -i x=hi -v env_ok',
            '%chain "say {x}" | llm | str -i x=hi -v obj_ok',
            '%chain "say {x}" | llm | str --dry-run',
            '%chain "say {x}" | llm | str --to-python',
            "%chaintime -i '\"hi\"' -n 1 -w 0 llm",  # a run that succeeds (all failing fails)
            "env_ok",
            "obj_ok",
            "llm",
            "env_ok.to_dict()",
            "%config ChainMagics",
        ]
        seen = [ip.ok(cell).seen() for cell in cells]
        assert ip.ns["env_ok"].output == "say hi"
        monkeypatch.setenv("OPENAI_API_KEY", wrong)
        failed = [
            ip('%chain "say {x}" | model("openai:gpt-4o-mini") | str -i x=hi -v env_bad'),
            ip('%chain "say {x}" | llm_wrong | str -i x=hi -v obj_bad'),
        ]
        for ran in failed:
            assert isinstance(ran.error, ChainRunError)
            assert "401" in str(ran.error)
            seen += [ran.seen(), str(ran.error), repr(ran.error.__cause__)]
        for name in ("env_bad", "obj_bad"):
            result = ip.ns[name]
            shown, _ = ip.shell.display_formatter.format(result)
            seen += [repr(result), shown["text/html"], shown["text/plain"], str(result.to_dict())]
    for text in seen:
        assert right not in text
        assert wrong not in text
        assert "SECRET" not in text
