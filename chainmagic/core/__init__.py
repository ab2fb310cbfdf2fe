"""chainmagic's runnable core: LCEL's names and semantics, small and fast.

Importing this package loads no IPython, ipywidgets, openai, faiss or numpy: model clients and the
vector store are imported when first used (``import openai`` alone costs ~0.5 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainmagic.core.events import Event, Run
from chainmagic.core.lambdas import RunnableGenerator, RunnableLambda
from chainmagic.core.parallel import RunnableMap, RunnableParallel
from chainmagic.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
from chainmagic.core.runnable import Runnable, coerce
from chainmagic.core.sequence import RunnableSequence
from chainmagic.core.wrappers import RunnableBinding, RunnableRetry, RunnableWithFallbacks

if TYPE_CHECKING:
    from chainmagic.core.documents import Document
    from chainmagic.core.embeddings import HashingEmbeddings, OpenAIEmbeddings
    from chainmagic.core.messages import (
        AIMessage,
        AIMessageChunk,
        BaseMessage,
        HumanMessage,
        SystemMessage,
    )
    from chainmagic.core.models import (
        BaseChatModel,
        FakeChatModel,
        init_chat_model,
        register_provider,
    )
    from chainmagic.core.models.openai import ChatOpenAI
    from chainmagic.core.parsers import JsonOutputParser, OutputParserException, StrOutputParser
    from chainmagic.core.prompts import (
        AIMessagePromptTemplate,
        ChatPromptTemplate,
        ChatPromptValue,
        HumanMessagePromptTemplate,
        MessagesPlaceholder,
        PromptTemplate,
        StringPromptValue,
        SystemMessagePromptTemplate,
    )
    from chainmagic.core.vectorstores import FAISS

__all__ = [
    "FAISS",
    "AIMessage",
    "AIMessageChunk",
    "AIMessagePromptTemplate",
    "BaseChatModel",
    "BaseMessage",
    "ChatOpenAI",
    "ChatPromptTemplate",
    "ChatPromptValue",
    "Document",
    "Event",
    "FakeChatModel",
    "HashingEmbeddings",
    "HumanMessage",
    "HumanMessagePromptTemplate",
    "JsonOutputParser",
    "MessagesPlaceholder",
    "OpenAIEmbeddings",
    "OutputParserException",
    "PromptTemplate",
    "Run",
    "Runnable",
    "RunnableAssign",
    "RunnableBinding",
    "RunnableGenerator",
    "RunnableLambda",
    "RunnableMap",
    "RunnableParallel",
    "RunnablePassthrough",
    "RunnablePick",
    "RunnableRetry",
    "RunnableSequence",
    "RunnableWithFallbacks",
    "StrOutputParser",
    "StringPromptValue",
    "SystemMessage",
    "SystemMessagePromptTemplate",
    "coerce",
    "init_chat_model",
    "register_provider",
]

# The runnable kernel above is imported at once; the rest on first use. Messages, prompts, parsers
# and models are a dozen modules (~30 ms on a small machine) that a chain of lambdas never needs,
# and model clients and the vector store pull in heavy libraries (``import openai`` alone ~0.5 s).
_LAZY = {
    **dict.fromkeys(("Document",), "chainmagic.core.documents"),
    **dict.fromkeys(
        ("AIMessage", "AIMessageChunk", "BaseMessage", "HumanMessage", "SystemMessage"),
        "chainmagic.core.messages",
    ),
    **dict.fromkeys(
        ("BaseChatModel", "FakeChatModel", "init_chat_model", "register_provider"),
        "chainmagic.core.models",
    ),
    **dict.fromkeys(
        ("JsonOutputParser", "OutputParserException", "StrOutputParser"), "chainmagic.core.parsers"
    ),
    **dict.fromkeys(
        (
            "AIMessagePromptTemplate",
            "ChatPromptTemplate",
            "ChatPromptValue",
            "HumanMessagePromptTemplate",
            "MessagesPlaceholder",
            "PromptTemplate",
            "StringPromptValue",
            "SystemMessagePromptTemplate",
        ),
        "chainmagic.core.prompts",
    ),
    "ChatOpenAI": "chainmagic.core.models.openai",
    "OpenAIEmbeddings": "chainmagic.core.embeddings",
    "HashingEmbeddings": "chainmagic.core.embeddings",
    "FAISS": "chainmagic.core.vectorstores",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chainmagic.core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
