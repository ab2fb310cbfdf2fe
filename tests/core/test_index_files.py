"""Saved vector stores on disk: round trips, and every way a saved folder can be broken or tampered.

Each broken folder must fail ``FAISS.load_local`` with one IndexFileError whose one-line message
names the file at fault and what is wrong (never FAISS's C++ text, never a bare KeyError,
TypeError, RecursionError or AssertionError), and a folder that loads must be whole: its labels
unique and below ``next_label``, so adding a document never overwrites a saved one.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import struct
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chainmagic.core import FAISS, Document, HashingEmbeddings
from chainmagic.core.index_files import MAX_DEPTH
from chainmagic.errors import ChainError, IndexFileError

DIMS = 8
TEXTS = ["apple banana", "cherry grape", "zebra lion tiger"]
# Offsets in the .faiss file chainmagic writes (an IndexIDMap2 over a flat index, FAISS's layout).
OUTER_NTOTAL, INNER_NTOTAL, VECTOR_COUNT = 8, 45, 74


def embeddings(dimensions: int = DIMS) -> HashingEmbeddings:
    return HashingEmbeddings(dimensions=dimensions)


def build(distance: str = "cosine") -> FAISS:
    metadatas = [{"n": i, "tags": ["x", {"deep": [i]}]} for i in range(3)]
    return FAISS.from_texts(
        TEXTS, embeddings(), metadatas=metadatas, ids=list("abc"), distance=distance
    )


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    build().save_local(tmp_path)
    return tmp_path


def payload(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "index.json").read_text())


def rewrite(folder: Path, data: Any) -> None:
    (folder / "index.json").write_text(json.dumps(data))


def fails(folder: Path, pattern: str, embedder: Any = None) -> IndexFileError:
    """Loading ``folder`` raises one IndexFileError, naming the file, whose message matches."""
    with pytest.raises(IndexFileError) as info:
        FAISS.load_local(folder, embedder or embeddings())
    error = info.value
    message = str(error)
    assert message.startswith(error.path)
    assert Path(error.path).parent == folder
    assert "\n" not in message and len(message) < 300, message
    assert "Error in" not in message and "faiss/impl" not in message  # no C++ text
    assert pattern in message, message
    return error


def results(store: FAISS) -> list[tuple[Any, ...]]:
    found = store.similarity_search_with_score("apple banana cherry", k=10)
    return [(d.id, d.page_content, d.metadata, round(score, 5)) for d, score in found]


# -- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("distance", ["cosine", "inner_product", "l2"])
def test_round_trip_keeps_every_document_and_score(tmp_path, distance):
    store = build(distance)
    store.save_local(tmp_path)
    loaded = FAISS.load_local(tmp_path, embeddings())
    assert loaded.distance == distance
    assert results(loaded) == results(store)
    assert loaded.index.ntotal == 3 and loaded.index.d == DIMS


def test_the_vectors_file_is_faiss_own_format(saved):
    """FAISS opens what chainmagic saves, and both read the same vectors under the same labels."""
    theirs = faiss.read_index(str(saved / "index.faiss"))
    ours = FAISS.load_local(saved, embeddings()).index
    labels = np.arange(3, dtype=np.int64)
    assert np.array_equal(theirs.reconstruct_batch(labels), ours.reconstruct_batch(labels))


def test_a_store_emptied_by_deletes_keeps_its_dimension(tmp_path):
    store = build()
    store.delete(["a", "b", "c"])
    store.save_local(tmp_path)
    loaded = FAISS.load_local(tmp_path, embeddings())
    assert len(loaded) == 0 and loaded.index.d == DIMS
    fails(tmp_path, "holds 8-dimensional vectors but the embeddings give 16", embeddings(16))


def test_labels_continue_after_the_saved_ones(saved):
    data = payload(saved)
    data["next_label"] = 10  # a store that once held more documents
    rewrite(saved, data)
    store = FAISS.load_local(saved, embeddings())
    store.add_texts(["melon kiwi"], ids=["d"])
    assert sorted(store.docstore) == ["a", "b", "c", "d"]
    assert store.similarity_search("melon kiwi", k=1)[0].id == "d"
    assert store.similarity_search("cherry grape", k=1)[0].id == "b"


def test_texts_that_are_not_valid_unicode_round_trip(tmp_path):
    odd = ["lone \ud800 surrogate", "caf\u00e9 \U0001f600", "nul \x00 byte"]
    store = FAISS.from_texts(odd, embeddings(), metadatas=[{"k\udfff": "v\ud83d"}] * 3)
    store.save_local(tmp_path)
    loaded = FAISS.load_local(tmp_path, embeddings())
    assert [(d.page_content, d.metadata) for d in loaded.docstore.values()] == [
        (text, {"k\udfff": "v\ud83d"}) for text in odd
    ]


def test_a_failed_save_leaves_the_previous_one_whole(saved):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    deep: Any = "bottom"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    store = build()
    store.add_texts(["deep"], metadatas=[{"x": deep}])
    with pytest.raises(ValueError, match=rf"nested too deeply \(limit {MAX_DEPTH}\)"):
        store.save_local(saved)
    store = build()
    store.add_texts(["thing"], metadatas=[{"when": object()}])
    with pytest.raises(TypeError, match="JSON-serializable"):
        store.save_local(saved)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before  # and no partial files


# -- the vectors file ------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 3, 20, 40, 60, 100, -1])
def test_a_truncated_vectors_file(saved, keep):
    data = (saved / "index.faiss").read_bytes()
    (saved / "index.faiss").write_bytes(data[:keep])
    fails(saved, "is truncated: it ends after")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_for_a_vectors_file(saved, seed):
    noise = random.Random(seed).randbytes(random.Random(seed).randrange(1, 400))
    (saved / "index.faiss").write_bytes(noise)
    fails(saved, "index.faiss: ")


def test_bytes_after_the_index(saved):
    with (saved / "index.faiss").open("ab") as file:
        file.write(b"\0" * 5)
    fails(saved, "has 5 unexpected bytes after the index")


@pytest.mark.parametrize(
    ("offset", "value", "problem"),
    [
        (OUTER_NTOTAL, 2**40, "its two index headers disagree"),
        (INNER_NTOTAL, 2**40, "its two index headers disagree"),
        (VECTOR_COUNT, 2**60, "claims 3 vectors of 8 dimensions but stores 1152921504606846976"),
        (OUTER_NTOTAL, -1, "claims -1 vectors"),
    ],
)
def test_counts_that_lie_fail_before_anything_is_allocated(saved, offset, value, problem):
    data = bytearray((saved / "index.faiss").read_bytes())
    data[offset : offset + 8] = struct.pack("<q", value)
    (saved / "index.faiss").write_bytes(bytes(data))
    fails(saved, problem)


def test_both_headers_rewritten_to_a_huge_count(saved):
    data = bytearray((saved / "index.faiss").read_bytes())
    for offset in (OUTER_NTOTAL, INNER_NTOTAL):
        data[offset : offset + 8] = struct.pack("<q", 2**40)
    (saved / "index.faiss").write_bytes(bytes(data))
    fails(saved, "claims 1099511627776 vectors of 8 dimensions but stores 24")


def test_vectors_that_are_not_numbers(saved):
    data = bytearray((saved / "index.faiss").read_bytes())
    first = VECTOR_COUNT + 8
    data[first : first + 4] = struct.pack("<f", float("nan"))
    (saved / "index.faiss").write_bytes(bytes(data))
    fails(saved, "holds vector values that are not finite numbers")


def test_a_cosine_store_with_vectors_not_of_unit_length(saved):
    data = bytearray((saved / "index.faiss").read_bytes())
    first = VECTOR_COUNT + 8
    value = struct.unpack("<f", data[first : first + 4])[0]
    data[first : first + 4] = struct.pack("<f", value * 2 + 1)
    (saved / "index.faiss").write_bytes(bytes(data))
    fails(saved, "holds vectors that are not of unit length, as a cosine store's are")


def test_an_index_of_another_kind(saved):
    """A plain FAISS index (as LangChain saves one) is not read as ours."""
    faiss.write_index(faiss.IndexFlatL2(DIMS), str(saved / "index.faiss"))
    fails(saved, "is not a chainmagic FAISS index (an IndexIDMap2 over a flat index)")


def test_an_index_of_another_metric(saved):
    build("l2").save_local(saved / "l2")
    os.replace(saved / "l2" / "index.faiss", saved / "index.faiss")
    fails(saved, "compares by L2 distance, but index.json says 'cosine'")


def test_an_index_of_another_dimension_fails_at_load(saved):
    error = fails(saved, "holds 8-dimensional vectors but the embeddings give 16", embeddings(16))
    assert error.path == str(saved / "index.faiss")


def test_embeddings_that_do_not_state_a_dimension_fail_at_the_first_search(saved):
    class Unstated:  # LangChain's interface only: loading does not call it to find out
        inner = embeddings(16)

        def embed_documents(self, texts):
            return self.inner.embed_documents(texts)

        def embed_query(self, text):
            return self.inner.embed_query(text)

    store = FAISS.load_local(saved, Unstated())
    origin = f"an index of 8 (loaded from {saved / 'index.faiss'})"
    with pytest.raises(ValueError) as search:
        store.similarity_search("apple")
    assert f"vectors of 16 dimensions cannot search {origin}" in str(search.value)
    with pytest.raises(ValueError) as add:
        store.add_texts(["kiwi"])
    assert f"vectors of 16 dimensions cannot join {origin}" in str(add.value)
    assert len(store) == 3


def test_a_missing_vectors_file(saved):
    (saved / "index.faiss").unlink()
    fails(saved, "index.faiss: missing, but index.json lists 3 documents")


def test_vectors_without_documents(saved):
    rewrite(saved, {**payload(saved), "documents": []})
    fails(saved, "holds 3 vectors for the 0 documents of index.json")


# -- the documents file ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"", "is not valid JSON (Expecting value, line 1, column 1)"),
        (b'{"format": "chainmagic.faiss/1", ', "is not valid JSON"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b"[]", "not a chainmagic vector store"),
        (b'{"format": "chainmagic.faiss/9"}', "not a chainmagic vector store"),
        (b"1" * 5000, "is not valid JSON (Exceeds the limit"),
        (b"[" * 100_000 + b"]" * 100_000, f"is nested too deeply (limit {MAX_DEPTH})"),
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "is nested too deeply"),
    ],
)
def test_a_documents_file_that_is_not_ours(saved, text, problem):
    (saved / "index.json").write_bytes(text)
    fails(saved, problem)


@pytest.mark.parametrize("key", ["distance", "next_label", "documents"])
def test_a_missing_key(saved, key):
    data = payload(saved)
    del data[key]
    rewrite(saved, data)
    fails(saved, f"index.json: has no {key!r}")


@pytest.mark.parametrize("key", ["id", "label", "text", "metadata"])
def test_a_document_missing_a_key(saved, key):
    data = payload(saved)
    del data["documents"][1][key]
    rewrite(saved, data)
    fails(saved, f"documents[1] has no {key!r}")


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (["distance"], "manhattan", "'distance' must be one of 'cosine', 'inner_product', 'l2'"),
        (["distance"], ["cosine"], "'distance' must be one of"),
        (["next_label"], "3", "'next_label' must be an integer from 0 to 2**62, not '3'"),
        (["next_label"], True, "'next_label' must be an integer from 0 to 2**62, not a boolean"),
        (["next_label"], 3.0, "'next_label' must be an integer from 0 to 2**62, not 3.0"),
        (["next_label"], -1, "not -1"),
        (["next_label"], 2**70, "not 1180591620717411303424"),
        (["documents"], {"a": 1}, "'documents' must be a list, not an object"),
        (["documents", 0], "a", "documents[0] must be an object, not a string"),
        (["documents", 2, "id"], 7, "documents[2].id must be a string, not the number 7"),
        (["documents", 2, "id"], None, "documents[2].id must be a string, not null"),
        (["documents", 1, "label"], 1.5, "documents[1].label must be an integer from 0"),
        (["documents", 1, "label"], False, "not a boolean"),
        (["documents", 1, "label"], "1", "not '1'"),
        (["documents", 0, "text"], ["apple"], "documents[0].text must be a string, not a list"),
        (["documents", 0, "metadata"], [1], "documents[0].metadata must be an object, not a list"),
        (["documents", 0, "metadata"], None, "must be an object, not null"),
    ],
)
def test_a_field_of_the_wrong_type(saved, path, value, problem):
    data = payload(saved)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    rewrite(saved, data)
    fails(saved, problem)


def test_a_long_value_is_quoted_short(saved):
    data = payload(saved)
    data["next_label"] = "x" * 10_000
    rewrite(saved, data)
    assert len(str(fails(saved, "not 'xxxx"))) < 200


def test_metadata_nested_too_deeply(saved):
    deep: Any = 1
    for _ in range(MAX_DEPTH):
        deep = {"d": deep}
    data = payload(saved)
    data["documents"][0]["metadata"] = deep  # MAX_DEPTH deep: fine
    rewrite(saved, data)
    assert FAISS.load_local(saved, embeddings()).get_by_ids(["a"])[0].metadata == deep
    data["documents"][0]["metadata"] = {"d": deep}
    rewrite(saved, data)
    fails(saved, f"documents[0].metadata is nested too deeply (limit {MAX_DEPTH})")


def test_a_repeated_id(saved):
    data = payload(saved)
    data["documents"][2]["id"] = "a"
    rewrite(saved, data)
    fails(saved, "documents[2] repeats the id 'a' of documents[0]")


def test_a_repeated_label(saved):
    data = payload(saved)
    data["documents"][2]["label"] = 0
    rewrite(saved, data)
    fails(saved, "documents[2] repeats the label 0 of documents[0]")


@pytest.mark.parametrize("next_label", [0, 1, 2])
def test_next_label_at_or_below_a_saved_label(saved, next_label):
    """``next_label: 0`` would hand label 0 to the next document, overwriting document 'a'."""
    data = payload(saved)
    data["next_label"] = next_label
    rewrite(saved, data)
    fails(
        saved,
        f"'next_label' is {next_label} but documents[{next_label}] has label {next_label}: "
        "new documents would overwrite saved ones",
    )


def test_a_label_with_no_vector(saved):
    data = payload(saved)
    data["documents"][1]["label"] = 7
    data["next_label"] = 8
    rewrite(saved, data)
    fails(saved, "index.faiss: has label 1, which no document of index.json has")


def test_a_document_dropped_from_the_list(saved):
    data = payload(saved)
    del data["documents"][1]
    rewrite(saved, data)
    fails(saved, "holds 3 vectors for the 2 documents of index.json")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_where_a_file_should_be_does_not_block(saved):
    (saved / "index.faiss").unlink()
    os.mkfifo(saved / "index.faiss")

    def hung(signum, frame):
        raise TimeoutError("load_local blocked on a pipe")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        fails(saved, "index.faiss: is not a regular file")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_file_that_cannot_be_read(saved):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    (saved / "index.faiss").chmod(0)
    fails(saved, "index.faiss: cannot be read (Permission denied)")


def test_a_folder_where_a_file_should_be(saved):
    (saved / "index.faiss").unlink()
    (saved / "index.faiss").mkdir()
    fails(saved, "index.faiss: is not a regular file")
    (saved / "index.json").unlink()
    (saved / "index.json").mkdir()
    fails(saved, "index.json: no such file (no vector store 'index' was saved in this folder)")


def payload_of(store: FAISS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store.save_local(folder)
        return payload(Path(folder))


# -- what the error is -----------------------------------------------------------------------------


def test_the_error_is_a_chain_error_and_a_value_error_and_pickles(saved):
    (saved / "index.faiss").write_bytes(b"junk")
    error = fails(saved, "is not a chainmagic FAISS index")
    assert isinstance(error, ChainError) and isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.path) == (IndexFileError, str(error), error.path)


def test_a_notebook_shows_one_line(saved, ipython):
    """In a real IPython shell the failing cell prints the file and the problem, no traceback."""
    (saved / "index.faiss").write_bytes((saved / "index.faiss").read_bytes()[:100])
    ipython.ns["folder"] = saved
    ran = ipython(
        "from chainmagic.core import FAISS, HashingEmbeddings\n"
        "store = FAISS.load_local(folder, HashingEmbeddings(dimensions=8))"
    )
    assert isinstance(ran.error, IndexFileError)
    assert "store" not in ipython.ns
    shown = [line for line in ran.seen().splitlines() if line.strip()]
    assert shown == [
        f"IndexFileError: {saved / 'index.faiss'}: is truncated: it ends after 100 bytes, "
        "where the index needs 178"
    ]


def test_loading_unpickles_nothing(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(np, "load", refuse)
    store = FAISS.load_local(saved, embeddings(), allow_dangerous_deserialization=True)
    assert store.get_by_ids(["c"]) == [
        Document("zebra lion tiger", {"n": 2, "tags": ["x", {"deep": [2]}]})
    ]


# -- fuzz: tampered JSON and bytes -----------------------------------------------------------------

FUZZ = settings(
    max_examples=max(int(os.environ.get("CHAINMAGIC_FUZZ_EXAMPLES", "2000")) // 4, 100),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TEXTS_ANY = st.text(st.characters(exclude_categories=()), max_size=5)  # surrogates too
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXTS_ANY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS_ANY, inner, max_size=3),
    max_leaves=6,
)
KEYS = st.sampled_from(
    ["format", "distance", "next_label", "documents", "id", "label", "text", "metadata", "n", "x"]
)


@st.composite
def tampered_json(draw: st.DrawFn, original: Any) -> Any:
    """``original`` with one to three values replaced, keys removed or added, lists cut or grown."""
    data = json.loads(json.dumps(original))
    for _ in range(draw(st.integers(1, 3))):
        parent, key = data, None
        while True:  # walk down to a random container, stopping at random
            children = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
            if not children:
                key = None
                break
            key = draw(st.sampled_from(children))
            child = parent[key]
            if not isinstance(child, (dict, list)) or draw(st.booleans()):
                break
            parent = child
        action = draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
        if key is None or action == "add":
            if isinstance(parent, dict):
                parent[draw(KEYS)] = draw(JSON_VALUES | st.integers(-3, 8))
            else:
                parent.append(draw(JSON_VALUES))
        elif action == "replace":
            parent[key] = draw(JSON_VALUES | st.integers(-3, 8) | st.sampled_from(["a", "l2"]))
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[key])))
        else:
            parent[draw(KEYS)] = json.loads(json.dumps(parent[key]))
    return data


@st.composite
def tampered_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` cut, extended, with bytes flipped, or with a 4- or 8-byte field overwritten."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["truncate", "append", "flip", "int32", "int64"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "truncate":
            del data[at:]
        elif action == "append":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif action == "int32":
            data[at : at + 4] = struct.pack("<i", draw(st.integers(-(2**31), 2**31 - 1)))
        elif action == "int64":
            data[at : at + 8] = struct.pack("<q", draw(st.integers(-(2**63), 2**63 - 1)))
    return bytes(data)


def check_whole_or_refused(folder: Path) -> None:
    """Only IndexFileError may escape; a store that loads is consistent and safe to add to."""
    try:
        store = FAISS.load_local(folder, embeddings())
    except IndexFileError as error:
        assert str(error).startswith(error.path) and "\n" not in str(error)
        event("refused")
        return
    event("loaded")
    before = {i: (d.page_content, d.metadata) for i, d in store.docstore.items()}
    assert len(store) == (store.index.ntotal if store.index is not None else 0)
    for doc in store.similarity_search("apple banana", k=len(store) + 1):
        assert doc.id in before
    new = store.add_texts(["a brand new text"])
    assert len(store) == len(before) + 1 == store.index.ntotal
    after = {i: (d.page_content, d.metadata) for i, d in store.docstore.items() if i not in new}
    assert after == before  # nothing overwritten
    every = store.similarity_search("a brand new text", k=len(store))
    assert sorted(d.id for d in every) == sorted(store.docstore)  # each vector has its document
    store.save_local(folder / "again")  # what loads can be saved, and loads back the same
    again = FAISS.load_local(folder / "again", embeddings())
    assert list(again.docstore) == list(store.docstore)


ORIGINAL = payload_of(build())
with tempfile.TemporaryDirectory() as _folder:
    build().save_local(_folder)
    ORIGINAL_VECTORS = (Path(_folder) / "index.faiss").read_bytes()


@FUZZ
@given(data=tampered_json(ORIGINAL))
def test_fuzz_tampered_json_fails_with_one_error(data):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "index.faiss").write_bytes(ORIGINAL_VECTORS)
        rewrite(folder, data)
        check_whole_or_refused(folder)


@FUZZ
@given(vectors=tampered_bytes(ORIGINAL_VECTORS), text=st.none() | st.binary(max_size=64))
def test_fuzz_tampered_bytes_fail_with_one_error(vectors, text):
    """The vectors file mangled; sometimes the documents file replaced by arbitrary bytes too."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "index.faiss").write_bytes(vectors)
        if text is None:
            rewrite(folder, ORIGINAL)
        else:
            (folder / "index.json").write_bytes(text)
        check_whole_or_refused(folder)
