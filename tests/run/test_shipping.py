"""How a chain travels: by value, its keys carried apart, a step that cannot travel named."""

from __future__ import annotations

import pickle
import threading

import pytest

from chainmagic import dsl
from chainmagic.core import ChatOpenAI, ChatPromptTemplate, FakeChatModel, StrOutputParser
from chainmagic.core.openai_client import Secret
from chainmagic.run import shipping
from chainmagic.run.shipping import CannotTravel, pack, store_secrets, unpack
from chainmagic.testing import OpenAIServer

KEY = "sk-shipping-test-0123456789"


@pytest.fixture(autouse=True)
def clean_secrets():
    yield
    shipping._SECRETS.clear()


def test_a_chain_of_notebook_functions_travels_by_value_and_runs_the_same():
    def shout(text: str) -> str:
        return text.upper() + "!"

    chain = dsl.compile(dsl.parse('c = "hi {x}" | model | str | shout'), {"shout": shout}).chain
    package = pack(chain)

    assert package.digest == pack(chain).digest  # the same chain, the same digest
    assert unpack(package.payload).invoke({"x": "there"}) == chain.invoke({"x": "there"})
    assert package.secrets == {} and package.environment == {}


def test_a_fake_model_with_its_lock_travels_and_gets_a_lock_of_its_own():
    model = FakeChatModel(["a", "b"], name="model")
    copy = unpack(pack(model).payload)
    assert isinstance(copy._lock, type(threading.Lock())) and copy._lock is not model._lock
    assert copy.invoke("x").content == "a"


def test_a_key_never_travels_in_the_payload_and_comes_back_from_the_secrets():
    spec = f'model("openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="{KEY}")'
    chain = dsl.compile(dsl.parse(f'c = "say {{x}}" | {spec} | str'), {}).chain

    package = pack(chain)

    assert KEY.encode() not in package.payload  # neither the model's key nor its language spec
    assert list(package.secrets.values()) == [KEY]
    assert KEY not in repr(package)
    with pytest.raises(Exception, match="did not reach this worker"):
        unpack(package.payload)
    store_secrets(package.carried)
    model = unpack(package.payload).steps[1].bound
    assert model._connection.api_key == Secret(KEY)


def test_a_model_that_already_called_travels_without_its_clients():
    with OpenAIServer(api_key=KEY) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key=KEY, name="model")
        chain = ChatPromptTemplate.from_template("say {x}") | model | StrOutputParser()
        assert chain.invoke({"x": 1}) == "say 1"  # resolved settings and a client now exist
        package = pack(chain)
        store_secrets(package.carried)
        assert unpack(package.payload).invoke({"x": 2}) == "say 2"
    assert KEY.encode() not in package.payload


def test_the_providers_variables_travel_when_a_model_may_read_them(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    package = pack(ChatOpenAI(name="model"))
    assert package.environment == {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    assert "env:OPENAI_API_KEY" in package.carried
    assert pack(FakeChatModel()).environment == {}  # no model that reads them: nothing sent


def test_a_step_that_cannot_travel_is_named_by_its_path(tmp_path):
    log = open(tmp_path / "log.txt", "w")  # a file open for writing does not pickle

    def write(x):
        log.write(str(x))
        return x

    text = 'c = {a: "a {topic}" | model, b: "b {topic}" | write | model}'
    chain = dsl.compile(dsl.parse(text), {"write": write}).chain

    with pytest.raises(CannotTravel) as caught:
        pack(chain)

    assert caught.value.path[:2] == ["b", "write"]
    assert str(caught.value).startswith("b › write")
    assert "cannot be sent to the workers" in str(caught.value)
    log.close()


def test_the_secrets_plugin_shows_no_secret():
    pytest.importorskip("distributed")
    from chainmagic.run.dask_secrets import SecretsPlugin

    plugin = SecretsPlugin({"secret-x": KEY})
    assert KEY not in repr(plugin)
    plugin.setup(None)
    assert shipping._SECRETS["secret-x"] == KEY
    assert KEY.encode() in pickle.dumps(plugin)  # it carries the key: to workers, not to graphs


# -- the two forms: the cell's definition, or the chain whole -------------------------------------


def test_a_cell_chain_travels_as_its_text_and_the_values_it_names_each_on_its_own():
    def shout(text: str) -> str:
        return text.upper() + "!"

    namespace = {"shout": shout, "unused": threading.Lock()}  # only what the cell names travels
    text = 'c = "hi {x}" | model | str | shout'
    chain = dsl.compile(dsl.parse(text), namespace, default_model="fake:echo").chain

    package = pack(chain)

    assert package.how == "definition"
    assert text.encode() in package.payload  # what runs, readable where it is stored
    shipped = pickle.loads(package.payload)
    assert set(shipped.values) == {"shout"} and shipped.pick == "c"
    assert pickle.loads(shipped.default_model) == "fake:echo"
    rebuilt = unpack(package.payload)
    assert rebuilt is not chain and rebuilt.invoke({"x": "there"}) == "HI THERE!"


def test_a_chain_built_in_python_travels_whole():
    chain = ChatPromptTemplate.from_template("hi {x}") | FakeChatModel() | StrOutputParser()
    package = pack(chain)
    assert package.how == "pickle"
    assert unpack(package.payload).invoke({"x": "y"}) == chain.invoke({"x": "y"})


def test_a_named_value_that_cannot_travel_alone_sends_the_chain_whole(tmp_path):
    class Holder:  # holds an open file, and a function that does not need it
        def __init__(self) -> None:
            self.log = open(tmp_path / "log.txt", "w")
            self.tidy = str.strip

    holder = Holder()
    chain = dsl.compile(dsl.parse('"  {x}  " | model | str | holder.tidy'), {"holder": holder})
    package = pack(chain.chain)

    assert package.how == "pickle"  # the chain holds only holder.tidy, which travels
    assert unpack(package.payload).invoke({"x": "y"}) == "y"
    holder.log.close()


def test_a_lambda_over_an_open_file_is_named_whichever_form_was_tried(tmp_path):
    log = open(tmp_path / "log.txt", "w")
    note = lambda x: log.write(str(x))  # noqa: E731 - the point: a lambda over a file
    chain = dsl.compile(
        dsl.parse('m = {a: "{t}" | model, b: "{t}" | model | note}'), {"note": note}
    )

    with pytest.raises(CannotTravel) as caught:
        pack(chain.chain)

    assert caught.value.path[:2] == ["b", "note"]
    assert str(caught.value).startswith("b › note cannot be sent to the workers (")
    log.close()


def test_a_worker_without_the_values_software_says_which_value():
    text = '"{x}" | shout'
    chain = dsl.compile(dsl.parse(text), {"shout": str.upper}).chain
    shipped = pickle.loads(pack(chain).payload)
    broken = shipping._Shipped(
        shipped.text, 1, {"shout": b"not a pickle"}, None, None, shipped.tokens
    )
    with pytest.raises(Exception, match=r"^shout could not be rebuilt on a worker"):
        broken.build()


def test_a_key_the_text_spells_differently_keeps_the_chain_whole():
    model = ChatOpenAI(base_url="http://127.0.0.1:9/v1", api_key=KEY, name="model")
    model.dsl_spec = ("openai:gpt-4o-mini", {"api_key": KEY + "x"})  # not what the text says
    chain = dsl.compile(dsl.parse('"say {x}" | m | str'), {"m": model}).chain
    chain.steps[1].bound.dsl_spec = model.dsl_spec

    package = pack(chain)

    assert package.how == "pickle"
    assert KEY.encode() not in package.payload


def test_a_key_written_for_another_chain_of_the_cell_does_not_travel_either():
    other = f'model("openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="{KEY}")'
    text = f'a = "a {{x}}" | {other} | str\nb = "b {{x}}" | model | str'
    cell = dsl.compile(dsl.parse(text), {}, default_model="fake:echo")

    package = pack(cell.bindings["b"])  # b uses no key, but its text holds a's

    assert package.how == "definition"
    assert KEY.encode() not in package.payload
    store_secrets(package.carried)
    assert unpack(package.payload).invoke({"x": 1}) == "b 1"
