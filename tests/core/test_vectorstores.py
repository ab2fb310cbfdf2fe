"""FAISS (real faiss-cpu): search order, ids, MMR, save/load, retrievers, the guide's RAG chains."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from operator import itemgetter

import pytest

from chainmagic.core import (
    FAISS,
    ChatOpenAI,
    ChatPromptTemplate,
    Document,
    HashingEmbeddings,
    OpenAIEmbeddings,
    Runnable,
    RunnableParallel,
    RunnablePassthrough,
    StrOutputParser,
)
from chainmagic.errors import IndexFileError
from chainmagic.testing import OpenAIServer

pytest_plugins = ["chainmagic.testing.fixtures"]

FRUIT = [
    "apple banana",  # two copies: similarity returns both, MMR only one
    "apple banana",
    "cherry grape",
    "zebra lion tiger",
]


@pytest.fixture
def store() -> FAISS:
    return FAISS.from_texts(
        FRUIT, HashingEmbeddings(), metadatas=[{"n": i} for i in range(4)], ids=list("abcd")
    )


def texts(docs) -> list[str]:
    return [d.page_content for d in docs]


# -- search ----------------------------------------------------------------------------------------


def test_similarity_search_orders_by_cosine(store):
    found = store.similarity_search_with_score("apple banana cherry", k=4)
    assert texts(doc for doc, _ in found)[:3] == ["apple banana", "apple banana", "cherry grape"]
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(2 / 6**0.5, abs=1e-5)  # 2 shared words of 3 and 2
    exact = store.similarity_search_with_score("zebra lion tiger", k=1)[0]
    assert exact[0].page_content == "zebra lion tiger"
    assert exact[1] == pytest.approx(1.0, abs=1e-5)


def test_results_carry_ids_and_metadata_and_are_copies(store):
    doc = store.similarity_search("cherry grape", k=1)[0]
    assert (doc.id, doc.metadata) == ("c", {"n": 2})
    doc.metadata["n"] = 99
    assert store.similarity_search("cherry grape", k=1)[0].metadata == {"n": 2}


def test_k_larger_than_the_store_returns_everything(store):
    assert len(store.similarity_search("apple", k=50)) == 4
    assert FAISS(HashingEmbeddings()).similarity_search("anything") == []


def test_filters_by_metadata_value_list_or_function(store):
    assert texts(store.similarity_search("apple", k=2, filter={"n": 2})) == ["cherry grape"]
    assert [d.id for d in store.similarity_search("apple", k=4, filter={"n": [1, 3]})] == ["b", "d"]
    odd = store.similarity_search("apple", k=4, filter=lambda meta: meta["n"] % 2 == 1)
    assert {d.id for d in odd} == {"b", "d"}


def test_mmr_prefers_diverse_results(store):
    similar = store.similarity_search("apple banana cherry", k=2)
    assert texts(similar) == ["apple banana", "apple banana"]
    diverse = store.max_marginal_relevance_search("apple banana cherry", k=2, fetch_k=4)
    assert texts(diverse) == ["apple banana", "cherry grape"]
    only_relevance = store.max_marginal_relevance_search("apple banana cherry", k=2, lambda_mult=1)
    assert texts(only_relevance) == texts(similar)


def test_l2_distance_scores_lower_is_nearer():
    store = FAISS.from_texts(FRUIT, HashingEmbeddings(), distance="l2")
    found = store.similarity_search_with_score("zebra lion tiger", k=4)
    assert found[0][0].page_content == "zebra lion tiger"
    assert found[0][1] == pytest.approx(0.0, abs=1e-5)
    assert [s for _, s in found] == sorted(s for _, s in found)
    with pytest.raises(ValueError, match="distance"):
        FAISS(HashingEmbeddings(), distance="manhattan")


# -- adding and deleting ---------------------------------------------------------------------------


def test_add_texts_and_documents_return_ids(store):
    new = store.add_texts(["melon kiwi"], [{"n": 4}])
    assert len(new) == 1 and len(new[0]) == 32
    kept = store.add_documents([Document("plum pear", {"n": 5}, id="mine"), Document("fig")])
    assert kept[0] == "mine" and len(kept[1]) == 32
    assert len(store) == 7
    assert store.get_by_ids(["mine"]) == [Document("plum pear", {"n": 5})]
    assert store.similarity_search("plum pear", k=1)[0].id == "mine"


def test_ids_must_be_unique(store):
    with pytest.raises(ValueError, match="already in the store"):
        store.add_texts(["again"], ids=["a"])
    with pytest.raises(ValueError, match="repeated"):
        store.add_texts(["x", "y"], ids=["new", "new"])
    assert len(store) == 4


def test_delete_removes_documents_and_rejects_unknown_ids(store):
    assert store.delete(["c"]) is True
    assert "cherry grape" not in texts(store.similarity_search("cherry grape", k=4))
    with pytest.raises(ValueError, match="no documents with ids \\['zz'\\]"):
        store.delete(["d", "zz"])
    assert len(store) == 3  # nothing removed by the failed call
    assert store.index.ntotal == 3


def test_from_documents_and_an_embedding_with_only_langchains_interface():
    class ListsOnly:  # what a LangChain Embeddings object offers
        inner = HashingEmbeddings(dimensions=32)

        def embed_documents(self, texts):
            return self.inner.embed_documents(texts)

        def embed_query(self, text):
            return self.inner.embed_query(text)

    docs = [Document(t, {"i": i}) for i, t in enumerate(FRUIT)]
    store = FAISS.from_documents(docs, ListsOnly())
    assert store.similarity_search("zebra", k=1)[0].metadata == {"i": 3}
    assert asyncio.run(store.asimilarity_search("zebra", k=1))[0].metadata == {"i": 3}


def test_concurrent_adds_and_searches_stay_consistent():
    store = FAISS(HashingEmbeddings())
    errors = []

    def writer(w: int) -> None:
        try:
            for i in range(50):
                store.add_texts([f"writer {w} text {i}"])
                store.similarity_search(f"text {i}", k=3)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store) == store.index.ntotal == 200


# -- on disk ---------------------------------------------------------------------------------------


def test_save_and_load_round_trip(store, tmp_path):
    store.delete(["b"])
    store.save_local(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.faiss", "index.json"]
    json.loads((tmp_path / "index.json").read_text())  # plain data, not a pickle
    loaded = FAISS.load_local(tmp_path, HashingEmbeddings(), allow_dangerous_deserialization=True)

    def results(s: FAISS) -> list[tuple]:
        found = s.similarity_search_with_score("apple banana cherry")
        return [(d.id, d.page_content, d.metadata, round(score, 5)) for d, score in found]

    assert results(loaded) == results(store)
    assert loaded.distance == "cosine"
    loaded.add_texts(["new text"], ids=["e"])  # labels continue after the saved ones
    loaded.delete(["a"])
    assert sorted(loaded.docstore) == ["c", "d", "e"]


def test_save_under_another_name_and_an_empty_store(tmp_path):
    FAISS(HashingEmbeddings()).save_local(tmp_path, index_name="empty")
    assert len(FAISS.load_local(tmp_path, HashingEmbeddings(), index_name="empty")) == 0


def test_loading_never_unpickles(tmp_path):
    (tmp_path / "index.pkl").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(
        IndexFileError, match=r"index.pkl: a LangChain store .*does not load pickles"
    ):
        FAISS.load_local(tmp_path, HashingEmbeddings())
    with pytest.raises(IndexFileError, match=r"nothing/index\.json: no such file"):
        FAISS.load_local(tmp_path / "nothing", HashingEmbeddings())


def test_metadata_must_be_json_to_save(tmp_path):
    store = FAISS.from_texts(["x"], HashingEmbeddings(), metadatas=[{"when": object()}])
    with pytest.raises(TypeError, match="JSON-serializable"):
        store.save_local(tmp_path)


# -- retrievers ------------------------------------------------------------------------------------


def test_as_retriever_is_a_named_runnable(store):
    retriever = store.as_retriever(search_kwargs={"k": 1})
    assert isinstance(retriever, Runnable)
    assert retriever.name == "VectorStoreRetriever"
    assert not retriever.inline
    assert texts(retriever.invoke("zebra")) == ["zebra lion tiger"]
    assert len(store.as_retriever().invoke("apple")) == 4  # k defaults to 4
    batch = retriever.batch(["zebra", "cherry"])
    assert [texts(docs) for docs in batch] == [["zebra lion tiger"], ["cherry grape"]]


def test_retriever_search_types(store):
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4})
    assert texts(mmr.invoke("apple banana cherry")) == ["apple banana", "cherry grape"]
    threshold = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.5}
    )
    assert texts(threshold.invoke("apple banana cherry")) == ["apple banana", "apple banana"]
    with pytest.raises(ValueError, match="search_type must be one of"):
        store.as_retriever(search_type="nearest")
    with pytest.raises(ValueError, match="needs a score_threshold"):
        store.as_retriever(search_type="similarity_score_threshold")


def test_retriever_wants_a_string_and_says_how_to_get_one(store):
    with pytest.raises(Exception) as info:
        store.as_retriever().invoke({"question": "apple"})
    assert "itemgetter('question') | retriever" in str(info.value)


async def test_async_twins_match(store):
    query = "apple banana cherry"
    assert await store.asimilarity_search(query, k=3) == store.similarity_search(query, k=3)
    assert await store.amax_marginal_relevance_search(
        query, k=2, fetch_k=4
    ) == store.max_marginal_relevance_search(query, k=2, fetch_k=4)
    for search_type in ("similarity", "mmr"):
        retriever = store.as_retriever(search_type=search_type)
        assert await retriever.ainvoke(query) == retriever.invoke(query)
    built = await FAISS.afrom_texts(FRUIT, HashingEmbeddings(), ids=list("abcd"))
    assert await built.aadd_documents([Document("kiwi", id="k")]) == ["k"]
    assert await built.adelete(["a"])
    assert sorted(built.docstore) == ["b", "c", "d", "k"]


def test_importing_the_core_loads_no_faiss_numpy_or_openai():
    code = (
        "import sys, chainmagic.core; "
        "print([m for m in ('faiss', 'numpy', 'openai') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the guide's retrieval chains, against the local OpenAI-compatible server ----------------------

RAG = """Answer the question based only on the following context:
{context}

Question: {question}
"""

RAG_LANGUAGE = RAG + "\nAnswer in the following language: {language}\n"


@pytest.fixture
def guide(openai_server: OpenAIServer):
    openai_server.replies = {
        "(?s)kensho.*italian": "Harrison ha lavorato a Kensho.",
        "kensho": "Harrison worked at Kensho.",
    }
    vectorstore = FAISS.from_texts(
        ["harrison worked at kensho"],
        embedding=OpenAIEmbeddings(base_url=openai_server.base_url),
    )
    model = ChatOpenAI(base_url=openai_server.base_url)
    return vectorstore.as_retriever(), model


def test_the_guides_retrieval_chain(guide, openai_server):
    retriever, model = guide
    prompt = ChatPromptTemplate.from_template(RAG)
    retrieval_chain = (
        {"context": retriever, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )
    assert retrieval_chain.invoke("where did harrison work?") == "Harrison worked at Kensho."
    sent = openai_server.last_request.json["messages"][-1]["content"]
    assert "harrison worked at kensho" in sent  # the retrieved document reached the model
    assert "Question: where did harrison work?" in sent
    assert asyncio.run(retrieval_chain.ainvoke("where did harrison work?")) == (
        "Harrison worked at Kensho."
    )
    assert "".join(retrieval_chain.stream("where did harrison work?")) == (
        "Harrison worked at Kensho."
    )


def test_the_guides_itemgetter_and_language_chain(guide):
    retriever, model = guide
    prompt = ChatPromptTemplate.from_template(RAG_LANGUAGE)
    chain = (
        {
            "context": itemgetter("question") | retriever,
            "question": itemgetter("question"),
            "language": itemgetter("language"),
        }
        | prompt
        | model
        | StrOutputParser()
    )
    answer = chain.invoke({"question": "where did harrison work", "language": "italian"})
    assert answer == "Harrison ha lavorato a Kensho."


def test_an_offline_retriever_beside_other_branches():
    retriever = FAISS.from_texts(FRUIT, HashingEmbeddings()).as_retriever(search_kwargs={"k": 1})
    chain = RunnableParallel(context=retriever, question=RunnablePassthrough())
    result = chain.invoke("zebra")
    assert texts(result["context"]) == ["zebra lion tiger"]
    assert result["question"] == "zebra"
