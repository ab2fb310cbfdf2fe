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
