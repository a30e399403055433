"""`curation train`: DPO on a curated split. The heavy libraries (torch, transformers, trl) load only when the
command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table

from curation.cli.common import app, console, fail, needs
from curation.errors import CurationError
from curation.train.config import load_preset, preset_names, with_overrides
from curation.train.data import cut_warning


@app.command("train")
def train_command(
    data: Annotated[Path, typer.Argument(metavar="RUN_DIR_OR_DATASET",
                                         help="A `curation run` folder (its <name>_dpo dataset), or a DPO dataset folder "
                                              "with train and test splits (parquet or save_to_disk).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the adapter (or model), tokenizer, "
                                                          "training.json, evaluation.json, emissions.json, README.md.")],
    preset: Annotated[str, typer.Option("--preset", "-p", help=f"{', '.join(preset_names())}, or a YAML file of the "
                                                               "same settings (train/presets/ shows each one).")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Hub id, local folder or .gguf file "
                                                                    "(default: the preset's).")] = None,
    lora: Annotated[bool | None, typer.Option("--lora/--no-lora", help="Train a LoRA adapter, or every weight "
                                                                       "(default: the preset's).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop after N optimiser steps.")] = None,
    epochs: Annotated[float | None, typer.Option("--epochs", help="Passes over the train split.")] = None,
    learning_rate: Annotated[float | None, typer.Option("--learning-rate", "--lr")] = None,
    beta: Annotated[float | None, typer.Option("--beta", help="DPO's pull towards the reference model.")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", help="Tokens per prompt + answer; longer pairs "
                                                                        "are cut (and counted).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Pairs per device and step.")] = None,
    gradient_accumulation: Annotated[int | None, typer.Option("--gradient-accumulation", min=1)] = None,
    bf16: Annotated[bool | None, typer.Option("--bf16/--no-bf16", help="bfloat16 (Ampere or newer GPUs).")] = None,
    gradient_checkpointing: Annotated[bool | None, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing",
                                                                help="Less memory, ~20% slower.")] = None,
    load_in_4bit: Annotated[bool | None, typer.Option("--load-in-4bit/--no-load-in-4bit",
                                                                help="QLoRA: a 4-bit base (CUDA and bitsandbytes).")] = None,
    country: Annotated[str | None, typer.Option("--country", help="Country of the electricity grid, for the carbon "
                                                                  "estimate (ISO code: ES, MX, PT...).")] = None,
    base_model: Annotated[str | None, typer.Option("--base-model", help="Hub id for the card's base_model.")] = None,
    dataset_id: Annotated[str | None, typer.Option("--dataset-id", help="Hub id of the data for the card.")] = None,
    license_id: Annotated[str | None, typer.Option("--license", help="Licence id for the card.")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Train with DPO (trl) on the train split, a LoRA adapter by default, and evaluate preference accuracy and
    reward margins on the test split before and after; codecarbon measures the emissions. Writes the adapter
    (or model), tokenizer, training.json, evaluation.json, emissions.json and the model card (README.md)."""
    needs("train")
    try:
        config = with_overrides(
            load_preset(preset), model=model, lora=lora, max_steps=max_steps, num_train_epochs=epochs,
            learning_rate=learning_rate, beta=beta, max_length=max_length, per_device_train_batch_size=batch_size,
            gradient_accumulation_steps=gradient_accumulation, bf16=bf16, gradient_checkpointing=gradient_checkpointing,
            load_in_4bit=load_in_4bit, country=country, base_model=base_model, dataset_id=dataset_id,
            license=license_id, seed=seed)
        from curation.train.trainer import train
        from curation.train.vlm import is_image_dataset, train_vlm

        if is_image_dataset(data):  # images with two captions: a vision-language model (curation.train.vlm)
            training = train_vlm(data, config, out, None if quiet else console)
            console.print(f"DPO (vision-language): {training['steps']} steps in {training['train_runtime_s']:.1f} s; "
                          f"written to {out} (evaluation.json, model card: README.md)")
            return
        result = train(data, config, out, None if quiet else console)
    except CurationError as error:
        raise fail(error) from None
    for split, report in result.lengths.items():  # printed even with --quiet: the model learned from openings only
        warning = cut_warning(split, report.rows, report.truncated, result.training["parameters"]["max_length"])
        if warning:
            console.print(f"[yellow]warning:[/yellow] {warning}", markup=True)
    if not quiet:
        console.print(_summary(result))
        console.print(f"written to {result.output_dir} (model card: README.md)")


def _summary(result) -> Group:
    training, emissions = result.training, result.emissions
    pairs = Table(title=f"DPO: {training['steps']} steps in {training['train_runtime_s']:.1f} s, "
                        f"{training['tokens_per_second']:.0f} tokens/s")
    for column in ("split", "pairs", f"cut at {result.training['parameters']['max_length']} tokens", "dropped", "kept"):
        pairs.add_column(column, justify="left" if column == "split" else "right")
    for split, report in result.lengths.items():
        pairs.add_row(split, str(report.rows), str(report.truncated), str(report.dropped), str(report.kept))
    scores = Table(title=f"test split ({result.evaluation['after']['pairs']} pairs)")
    for column in ("", "preference accuracy", "reward margin", "likelihood accuracy"):
        scores.add_column(column, justify="left" if not column else "right")
    for moment in ("before", "after"):
        metrics = result.evaluation[moment]
        scores.add_row(moment, f"{metrics['preference_accuracy']:.3f}", f"{metrics['reward_margin']:.4g}",
                       f"{metrics['likelihood_accuracy']:.3f}")
    footprint = (f"emissions: {emissions.emissions_kg * 1000:.4f} g CO2eq, {emissions.energy_kwh:.6f} kWh, "
                 f"{emissions.duration_s:.0f} s on {emissions.hardware} ({emissions.country_name}'s grid)")
    return Group(pairs, scores, footprint)
