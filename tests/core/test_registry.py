"""init_chat_model and the provider registry (the fake provider; openai is tested elsewhere)."""

from __future__ import annotations

import pytest

from chainmagic.core import FakeChatModel, init_chat_model, register_provider
from chainmagic.core.models import registry
from chainmagic.errors import ModelError


def test_fake_is_registered():
    assert "fake" in registry.providers()


@pytest.mark.parametrize("spec", ["fake:echo", "fake:", " fake : echo "])
def test_fake_specs(spec):
    model = init_chat_model(spec)
    assert isinstance(model, FakeChatModel)
    assert model.model_name == "fake:echo"
    assert model.invoke("hi").content == "hi"


def test_keyword_arguments_reach_the_model():
    model = init_chat_model("fake:echo", latency=0.2, jitter=0.1, seed=4, fail_on="x")
    assert (model.latency, model.jitter, model.seed) == (0.2, 0.1, 4)
    assert model.fail_on.pattern == "x"


def test_split_spec():
    assert registry.split_spec("fake:echo") == ("fake", "echo")
    assert registry.split_spec("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert registry.split_spec("gpt-4o-mini") == ("openai", "gpt-4o-mini")


def test_a_spec_without_provider_says_how_to_write_one():
    with pytest.raises(ModelError) as info:
        init_chat_model("echo")
    message = str(info.value)
    assert message.startswith("model spec 'echo' needs a provider: write 'provider:name'")
    assert "fake:echo" in message


def test_an_unknown_provider_suggests_a_close_one():
    with pytest.raises(ModelError) as info:
        init_chat_model("fak:echo")
    assert str(info.value) == "unknown model provider 'fak'; did you mean 'fake'?"
    assert info.value.provider == "fak"


def test_an_unknown_provider_lists_the_known_ones():
    with pytest.raises(ModelError) as info:
        init_chat_model("zzzzzz:model")
    assert str(info.value).startswith("unknown model provider 'zzzzzz' (known: ")
    assert "fake" in str(info.value)


def test_register_a_provider(monkeypatch):
    monkeypatch.setattr(registry, "_PROVIDERS", dict(registry._PROVIDERS))
    made = []

    def factory(model, **kwargs):
        made.append((model, kwargs))
        return FakeChatModel([f"I am {model}"])

    register_provider("mine", factory)
    assert "mine" in registry.providers()
    assert init_chat_model("mine:m1", temperature=0).invoke("x").content == "I am m1"
    assert made == [("m1", {"temperature": 0})]
