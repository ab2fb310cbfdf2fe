"""The template languages: f-string, mustache (dict keys only) and sandboxed jinja2."""

from __future__ import annotations

import pytest

from chainmagic.core.template_formats import TemplateError, compile_template


def test_fstring_variables_in_order_and_literal_braces():
    compiled = compile_template("{b} {{not}} {a} {b}")
    assert compiled.variables == ("b", "a")
    assert compiled.render({"a": 1, "b": "{a}"}) == "{a} {not} 1 {a}"  # values are not re-formatted


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("{user.name}", "cannot contain attribute access"),
        ("{user.__class__}", "cannot contain attribute access"),
        ("{items[0]}", "or indexing"),
        ("{}", "positional arguments"),
        ("{0}", "positional"),
        ("{a!r}", "format specs or conversions"),
        ("{a:>5}", "format specs"),
        ("{a:{a.__class__}}", "Nested replacement fields"),
    ],
)
def test_fstring_names_must_be_plain(bad, why):
    with pytest.raises(TemplateError, match=why):
        compile_template(bad)


def test_fstring_names_need_not_be_identifiers():
    compiled = compile_template("{user-name} {2fast} {my var}")
    assert compiled.variables == ("user-name", "2fast", "my var")
    assert compiled.render({"user-name": "a", "2fast": "b", "my var": "c"}) == "a b c"


def test_mustache_variables_sections_and_escaping():
    compiled = compile_template(
        "{{! a comment }}{{greeting}}, {{#people}}{{name}};{{/people}}{{^none}}empty{{/none}} "
        "{{html}} {{{html}}} {{&html}}",
        "mustache",
    )
    assert compiled.variables == ("greeting", "people", "none", "html")
    out = compiled.render(
        {"greeting": "hi", "people": [{"name": "a"}, {"name": "b"}], "none": [], "html": "<b>&"}
    )
    assert out == "hi, a;b;empty &lt;b&gt;&amp; <b>& <b>&"


def test_mustache_never_reads_attributes_of_inputs():
    class Secret:
        token = "s3cret"

        def __str__(self) -> str:
            return "secret-object"

    compiled = compile_template("{{obj.token}}|{{obj.__class__}}|{{obj}}", "mustache")
    assert compiled.render({"obj": Secret()}) == "||secret-object"
    nested = compile_template("{{a.b.c}}", "mustache")
    assert nested.render({"a": {"b": {"c": 3}}}) == "3"
    assert nested.variables == ("a",)


def test_mustache_missing_values_render_empty_and_bad_sections_fail():
    assert compile_template("[{{x}}]", "mustache").render({}) == "[]"
    shown = compile_template("[{{x}}]", "mustache")
    assert [shown.render({"x": v}) for v in (None, [], {}, 0, False, "")] == [
        "[]",
        "[]",
        "[]",
        "[0]",
        "[False]",
        "[]",
    ]
    with pytest.raises(TemplateError, match="never closed"):
        compile_template("{{#a}}x", "mustache")
    with pytest.raises(TemplateError, match="closes nothing"):
        compile_template("x{{/a}}", "mustache")


def test_jinja2_runs_sandboxed():
    sandbox = pytest.importorskip("jinja2.sandbox")
    SecurityError = sandbox.SecurityError
    compiled = compile_template("{{ a }}{% for x in xs %}-{{ x }}{% endfor %}", "jinja2")
    assert set(compiled.variables) == {"a", "xs"}
    assert compiled.render({"a": 1, "xs": [1, 2]}) == "1-1-2"
    escape = compile_template("{{ a.__class__.__mro__[1].__subclasses__() }}", "jinja2")
    with pytest.raises(SecurityError):
        escape.render({"a": "x"})


def test_an_unknown_format_is_refused():
    with pytest.raises(TemplateError, match="Unsupported template format: handlebars"):
        compile_template("x", "handlebars")
