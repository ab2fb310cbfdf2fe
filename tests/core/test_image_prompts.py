"""ImagePromptTemplate: an image reference with variables, filled in like any prompt."""

from __future__ import annotations

import pytest

from chainmagic.core.image_prompts import ImagePromptTemplate
from chainmagic.core.serialization import dumpd, load
from chainmagic.core.template_formats import TemplateError


def test_it_fills_in_the_url_and_keeps_other_settings():
    image = ImagePromptTemplate(template={"url": "https://img/{name}.png", "detail": "low"})
    assert image.input_variables == ["name"]
    assert image.format(name="cat") == {"url": "https://img/cat.png", "detail": "low"}
    assert image.invoke({"name": "dog"}) == {"url": "https://img/dog.png", "detail": "low"}
    assert image.invoke("owl")["url"] == "https://img/owl.png"  # one variable takes a plain input


def test_it_refuses_reaching_into_attributes_also_when_loaded():
    sneaky = {"url": "https://img/{image.__class__.__name__}.png"}
    with pytest.raises(TemplateError, match="Variable names cannot contain attribute access"):
        ImagePromptTemplate(template=sneaky)
    node = dumpd(ImagePromptTemplate(template={"url": "{u}"}))
    assert load(node) == ImagePromptTemplate(template={"url": "{u}"})
    node["kwargs"]["template"] = sneaky
    with pytest.raises(TemplateError, match="attribute access"):
        load(node, allowed_objects=[ImagePromptTemplate])
