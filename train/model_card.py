"""The Hugging Face model card (README.md) of a trained adapter or model: YAML metadata that the Hub reads
(base_model, datasets, licence, languages, tags, co2_eq_emissions, the evaluation as model-index), then
motivation, training, libraries, evaluation, biases (the dataset's audit), environmental impact, licence."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import polars as pl

from curation.reports.bias_audit import audit, audit_markdown
from curation.reports.dataset_card import languages_found
from curation.reports.markdown import markdown_code, markdown_text
from curation.run_folder import RunFolder
from curation.train.config import TrainConfig
from curation.train.data import PreferenceSplits, cut_warning
from curation.train.emissions import Emissions

TAGS = ["dpo", "trl", "culture", "preference", "curation"]
NOTEBOOKS = ("notebooks/01_curation.ipynb", "notebooks/02_training.ipynb")


def card_metadata(model_name: str, config: TrainConfig, splits: PreferenceSplits, languages: list[str],
                  evaluation: dict, emissions: Emissions):
    """The metadata as a `huggingface_hub.ModelCardData`."""
    from huggingface_hub import EvalResult, ModelCardData

    dataset_id = config.dataset_id or splits.dataset_name
    after = evaluation["after"]
    metrics = {"preference_accuracy": "Preference accuracy (DPO implicit reward)",
               "reward_margin": "Mean reward margin (DPO implicit reward)"}
    return ModelCardData(
        model_name=model_name, base_model=config.base_model, datasets=[dataset_id], language=languages or None,
        license=config.license, library_name="peft" if config.lora else "transformers", pipeline_tag="text-generation",
        tags=[*TAGS, *(["lora", "peft"] if config.lora else [])],
        co2_eq_emissions={
            "emissions": round(emissions.emissions_kg * 1000, 6),  # grams, as the Hub specifies
            "source": "codecarbon",
            "training_type": "fine-tuning",
            "geographical_location": emissions.country_name,
            "hardware_used": emissions.hardware,
        },
        eval_results=[EvalResult(task_type="text-generation", dataset_type=dataset_id, dataset_name=dataset_id,
                                 dataset_split="test", metric_type=metric, metric_name=label, metric_value=after[metric])
                      for metric, label in metrics.items()],
    )


def model_card(model_name: str, config: TrainConfig, splits: PreferenceSplits, training: dict, evaluation: dict,
               emissions: Emissions):
    """The card as a `huggingface_hub.ModelCard` (its `.data` is the metadata, `str(card)` the file)."""
    from huggingface_hub import ModelCard

    run = RunFolder.read(splits.run_folder) if splits.run_folder else None
    languages = languages_found(run.accepted) if run else _languages_of(splits.train)
    front = card_metadata(model_name, config, splits, languages, evaluation, emissions).to_yaml()
    return ModelCard(f"---\n{front}\n---\n\n{_body(model_name, config, splits, run, training, evaluation, emissions)}")


def write_model_card(folder: Path, model_name: str, config: TrainConfig, splits: PreferenceSplits, training: dict,
                     evaluation: dict, emissions: Emissions) -> Path:
    path = folder / "README.md"
    model_card(model_name, config, splits, training, evaluation, emissions).save(path)
    return path


def generated_share(train: pl.DataFrame) -> str:
    """A sentence on the pairs `curation extend` generated, if any: their preference is an LLM judge's."""
    if "origin" not in train.columns:
        return ""
    generated = train.filter(pl.col("origin").is_in(["synthetic", "generated"]))
    if generated.is_empty():
        return ""
    judges = ", ".join(markdown_code(judge) for judge in generated.get_column("judge_model").drop_nulls().unique().sort()) \
        if "judge_model" in generated.columns else "an LLM judge"
    return (f"\n{generated.height:,} of the {train.height:,} training pairs were generated with `curation extend`: "
            f"prompts and answers written by LLMs, the preference decided by {judges or 'an LLM judge'}, "
            "then curated like the rest and put to human review in Argilla.\n")


def _languages_of(train: pl.DataFrame) -> list[str]:
    if "language" not in train.columns:
        return []
    counts = train.get_column("language").drop_nulls().value_counts(sort=True)
    return [code for code, _ in counts.iter_rows() if code != "und"]


def _body(model_name: str, config: TrainConfig, splits: PreferenceSplits, run: RunFolder | None, training: dict,
          evaluation: dict, emissions: Emissions) -> str:
    base = f"[{markdown_text(config.base_model)}](https://huggingface.co/{quote(config.base_model, safe='/')})" \
        if config.base_model else f"a local model ({markdown_code(config.model)})"
    kind = "A LoRA adapter for" if config.lora else "A full fine-tune of"
    data = training["data"]
    dataset_id = config.dataset_id or splits.dataset_name
    return f"""# {markdown_text(model_name)}

{kind} {base}, trained with Direct Preference Optimisation (DPO) on {markdown_code(dataset_id)}: culturally aligned
preference pairs for Spanish, Portuguese and the other languages of the Iberian Peninsula and Latin America,
curated with the `curation` engine (its notebooks are published with this model).

## Motivation

Instruct models of a few billion parameters answer questions about everyday culture in a generic way, often
Peninsular or US-centred. The pairs this model learned from hold, for each prompt, the answer people from the
country judged locally natural (facts, norms, register, words) against one they judged worse. DPO raises the
likelihood of the chosen answer relative to the rejected one, while a KL term (beta = {config.beta}) keeps the
model close to where it started.
{generated_share(splits.train)}
## Training

{_training_text(config, data, training)}

| parameter | value |
|---|---|
{_parameters_table(config)}

### Libraries

| library | version |
|---|---|
{chr(10).join(f"| {name} | {version} |" for name, version in training["libraries"].items())}

## Evaluation

On the {data['test']['kept']} pairs of the test split, before and after training. The implicit reward of an
answer is beta x (log-probability under the model - log-probability under the model before training); the
**preference accuracy** is the share of pairs whose chosen answer gets the higher reward, the **reward margin**
the mean difference. Before training the model is its own reference, so every reward is zero: the
**likelihood accuracy** (chosen answer with the higher mean log-probability per token) is the number to
compare there.

{_evaluation_table(evaluation)}

## Biases, risks and limitations

{_biases_text(run)}

## Environmental impact

Measured with codecarbon {emissions.codecarbon_version} (`OfflineEmissionsTracker`, process tracking,
{emissions.country_name}'s grid) over the whole run: trl's data preparation, the training and both evaluations.

| | |
|---|---|
| emissions | {emissions.emissions_kg * 1000:.4f} g CO2eq |
| energy | {emissions.energy_kwh:.6f} kWh |
| duration | {emissions.duration_s:.1f} s |
| hardware | {emissions.hardware} |
| RAM | {emissions.ram_total_gb:.1f} GB |
| grid | {emissions.country_name} ({emissions.country_iso_code}) |

## How to use

{_usage_text(model_name, config)}

## Notebooks

The processing and training notebooks are published with the model: {", ".join(f"`{name}`" for name in NOTEBOOKS)}
in the `curation` repository run the curation on the demo data and this training on a tiny model.

## Licence

{markdown_text(config.license)}, as the base model. The training data's licence is in its dataset card.
"""


def _training_text(config: TrainConfig, data: dict, training: dict) -> str:
    train, test = data["train"], data["test"]
    method = (f"LoRA (r = {config.lora_r}, alpha = {config.lora_alpha}) on `{config.lora_target_modules}`: "
              f"{training['trainable_parameters']:,} trainable of {training['total_parameters']:,} parameters"
              if config.lora else f"all {training['total_parameters']:,} parameters")
    precision = "4-bit NF4 base (QLoRA), " if config.load_in_4bit else ""
    precision += "bfloat16" if config.bf16 else "float32"
    template = ", rendered through the model's chat template" if data["format"] == "conversational" else ""
    dequantised = " (GGUF, de-quantised to float)" if config.model and config.model.endswith(".gguf") else ""
    loaded = f"Loaded from `{config.model}`{dequantised}. " if config.base_model and config.model != config.base_model else ""
    return f"""{loaded}trl's `DPOTrainer` ({', '.join(config.loss_type)} loss), {method}; {precision}, on {training['device']}.
The data is in trl's {data['format']} format{template}.
Train split: {train['rows']} pairs, {train['truncated']} cut at {config.max_length} tokens, {train['dropped']} dropped
(prompt alone {config.max_length} tokens or more); test split: {test['rows']} pairs, {test['truncated']} cut,
{test['dropped']} dropped. {training['steps']} optimiser steps ({training['epochs']:.2f} epochs) in
{training['train_runtime_s']:.1f} s, {training['tokens_trained']:,} tokens ({training['tokens_per_second']:.0f} tokens/s);
final training loss {training['train_loss']:.4f}.{_cut_warnings(config, data)}"""


def _cut_warnings(config: TrainConfig, data: dict) -> str:
    warnings = [cut_warning(split, data[split]["rows"], data[split]["truncated"], config.max_length) for split in ("train", "test")]
    return "".join(f"\n\n**Warning:** {warning}" for warning in warnings if warning)


def _parameters_table(config: TrainConfig) -> str:
    keys = ["beta", "learning_rate", "warmup_steps", "num_train_epochs", "max_steps", "per_device_train_batch_size",
            "gradient_accumulation_steps", "max_length", "bf16", "gradient_checkpointing", "load_in_4bit", "seed"]
    values = config.model_dump()
    return "\n".join(f"| {key} | {values[key]} |" for key in keys)


def _evaluation_table(evaluation: dict) -> str:
    metrics = ("preference_accuracy", "reward_margin", "reward_chosen", "reward_rejected", "likelihood_accuracy")
    # Four significant digits: a few steps move rewards by thousandths, which fixed decimals would show as 0.
    rows = [f"| {moment} | " + " | ".join(f"{evaluation[moment][metric]:.4g}" for metric in metrics) + " |"
            for moment in ("before", "after")]
    return "\n".join([f"| | {' | '.join(metrics)} |", "|---" * (len(metrics) + 1) + "|", *rows])


def _biases_text(run: RunFolder | None) -> str:
    if run is None:
        return ("The model was not trained from a `curation run` folder, so no audit of its data is at hand: "
                "run `curation report` on the data's run folder for the bias-balance audit.")
    return f"""The model learns whatever the preference data holds. The bias-balance audit of the curated data
({markdown_code(f"curation report {run.path.name}")}) follows: who is represented and how much, which cultural dimensions and
registers each country has, and whether longer answers won (DPO learns length).

{audit_markdown(audit(run.accepted))}
The variety, register and dimension tags are lexicon heuristics; countries with few rows are learned less."""


def _usage_text(model_name: str, config: TrainConfig) -> str:
    if config.lora:
        return f"""```python
from peft import AutoPeftModelForCausalLM
from transformers import AutoTokenizer

model = AutoPeftModelForCausalLM.from_pretrained("{model_name}")
tokenizer = AutoTokenizer.from_pretrained("{model_name}")
```"""
    return f"""```python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("{model_name}")
tokenizer = AutoTokenizer.from_pretrained("{model_name}")
```"""
