"""What a compiled chain remembers of its cell: enough to compile the same chain again elsewhere."""

from __future__ import annotations

from chainmagic import dsl
from chainmagic.core import FakeChatModel
from chainmagic.dsl.source import Definition


def shout(text: str) -> str:
    return text.upper()


def test_each_chain_remembers_its_text_the_values_it_named_and_which_it_is():
    text = 'a = "hi {x}" | model | str\nb = a | shout'
    namespace = {"shout": shout, "unused": object()}
    cell = dsl.compile(dsl.parse(text, first_line=2), namespace, default_model="fake:echo")

    a, b = cell.bindings["a"].dsl_source, cell.bindings["b"].dsl_source
    assert isinstance(b, Definition) and cell.chain.dsl_source is b
    assert (b.text, b.first_line, b.pick, a.pick) == (text, 2, "b", "a")
    assert b.values == {"shout": shout}  # what the text named, not the whole notebook
    assert b.default_model == "fake:echo"
    assert b.build().invoke({"x": "y"}) == "HI Y" == cell.chain.invoke({"x": "y"})
    assert a.build().invoke({"x": "y"}) == "hi y"


def test_a_cell_without_a_bare_model_remembers_no_default_and_its_own_chain():
    mine = FakeChatModel(["ok"])
    cell = dsl.compile(dsl.parse('"{x}" | mine | str'), {"mine": mine}, default_model="fake:echo")

    source = cell.chain.dsl_source
    assert source.pick is None and source.default_model is None
    assert source.values == {"mine": mine}
    assert source.build().invoke({"x": "y"}) == "ok"


def test_building_again_uses_the_values_it_is_given():
    cell = dsl.compile(dsl.parse('"{x}" | model | str | shout'), {"shout": shout})
    assert cell.chain.invoke({"x": "Hey"}) == "HEY"
    again = cell.chain.dsl_source.build({"shout": str.lower})
    assert again.invoke({"x": "Hey"}) == "hey"


def test_a_pickled_chain_forgets_its_definition_and_pickles_as_before(tmp_path):
    import cloudpickle

    class Holder:  # an open file beside the function the cell uses
        def __init__(self) -> None:
            self.log = open(tmp_path / "log.txt", "w")
            self.tidy = str.strip

    holder = Holder()
    chain = dsl.compile(dsl.parse("holder.tidy | passthrough"), {"holder": holder}).chain
    assert chain.dsl_source.values == {"holder": holder}
    copy = cloudpickle.loads(cloudpickle.dumps(chain))  # it holds holder.tidy, not holder
    assert copy.dsl_source is None and copy.invoke("  y ") == "y"
    holder.log.close()
