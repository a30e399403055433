"""One DPO run: the splits fitted to the model's tokens, the model with its LoRA adapter, trl's DPOTrainer, the
evaluation before and after, and the carbon footprint; writes the adapter (or model), the tokenizer,
training.json, evaluation.json, emissions.json and the model card into one folder, complete or not at all."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import PrinterCallback, TrainerCallback
from trl.trainer.dpo_trainer import DataCollatorForPreference

from curation.errors import InputError
from curation.output_folder import atomic_directory, check_output_folder
from curation.train.config import TrainConfig
from curation.train.data import (
    LengthReport,
    PreferenceSplits,
    as_dataset,
    fit_to_max_length,
    load_splits,
    pair_token_ids,
    token_lengths,
)
from curation.train.emissions import Emissions, EmissionsTracker, grid_country
from curation.train.evaluate import AnswerLogProbs, answer_log_probs, preference_metrics
from curation.train.model import (
    load_model,
    load_tokenizer,
    model_source,
    require_chat_template,
)
from curation.train.model_card import write_model_card

LIBRARIES = ("curation", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "codecarbon",
             "huggingface_hub", "bitsandbytes", "gguf")


@dataclass
class TrainResult:
    output_dir: Path
    lengths: dict[str, LengthReport]
    evaluation: dict
    emissions: Emissions
    training: dict


def installed_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Tiny floats (denormals) treated as zero on the CPU while training: where they occur, CPU arithmetic on
    them is many times slower (SmolLM2's forward pass: 8 s -> 1.4 s here), and they are below what matters."""
    import torch

    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def train(data: Path, config: TrainConfig, out: Path, console: Console | None = None) -> TrainResult:
    """Train on the train split of `data` (a run folder or a DPO dataset folder), evaluate on its test split,
    and write everything to `out`. Bad data or settings raise a CurationError before the model is loaded."""
    import datasets

    datasets.disable_progress_bars()
    keep = [data, *([config.model] if config.model else [])]
    check_output_folder(Path(out), keep)
    grid_country(config.country)
    splits = load_splits(data)
    source = model_source(config)
    tokenizer = load_tokenizer(source)
    if splits.conversational:
        require_chat_template(tokenizer, source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # as trl does: the evaluation pads like the training
    (train_pairs, test_pairs), lengths = _fit(splits, tokenizer, config.max_length)
    test_ids = pair_token_ids(test_pairs, tokenizer, splits.conversational)
    model = load_model(config)

    def evaluate(policy) -> AnswerLogProbs:
        return answer_log_probs(policy, test_ids, tokenizer.pad_token_id, config.max_length,
                                config.per_device_eval_batch_size)

    with atomic_directory(Path(out), keep) as folder, flushed_denormals():
        with EmissionsTracker(config.country, folder) as tracker:
            trainer = _dpo_trainer(model, tokenizer, as_dataset(train_pairs), config, folder / "checkpoints", console)
            before = evaluate(trainer.model)  # the reference: the model as it was
            outcome = trainer.train()
            after = evaluate(trainer.model)
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
        evaluation = {"split": "test", "before": preference_metrics(before, before, config.beta),
                      "after": preference_metrics(after, before, config.beta)}
        training = _training_record(trainer, outcome, config, splits, lengths)
        _save(trainer.model, tokenizer, config, folder)
        records = {"training.json": training, "evaluation.json": evaluation, "emissions.json": tracker.result.as_json()}
        for name, record in records.items():
            (folder / name).write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        write_model_card(folder, Path(out).name, config, splits, training, evaluation, tracker.result)
    return TrainResult(Path(out), lengths, evaluation, tracker.result, training)


def _fit(splits: PreferenceSplits, tokenizer, max_length: int) -> tuple[tuple[pl.DataFrame, pl.DataFrame],
                                                                        dict[str, LengthReport]]:
    """The train and test pairs that leave an answer token within `max_length`, and what was cut or dropped."""
    kept, lengths = {}, {}
    for split, frame in (("train", splits.train), ("test", splits.test)):
        kept[split], lengths[split] = fit_to_max_length(frame, token_lengths(frame, tokenizer, splits.conversational),
                                                        max_length)
        if kept[split].height == 0:
            raise InputError(splits.files[split], f"every prompt is {max_length} tokens or longer, so no answer token "
                                                  "is left to learn from: raise max_length")
    return (kept["train"], kept["test"]), lengths


def dpo_arguments(config: TrainConfig, checkpoints: Path, **more):
    """trl's DPOConfig from a preset, for the text and the vision-language trainer alike."""
    import torch
    from trl import DPOConfig

    return DPOConfig(
        output_dir=str(checkpoints), save_strategy="no", report_to="none", logging_steps=1, disable_tqdm=True,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, learning_rate=config.learning_rate,
        warmup_steps=config.warmup_steps, num_train_epochs=config.num_train_epochs, max_steps=config.max_steps or -1,
        beta=config.beta, loss_type=config.loss_type, max_length=config.max_length, seed=config.seed,
        bf16=config.bf16, fp16=False, gradient_checkpointing=config.gradient_checkpointing,
        # Without an accelerator say so: transformers refuses bf16 otherwise (CPUs run it through autocast).
        use_cpu=not (torch.cuda.is_available() or torch.backends.mps.is_available()),
        dataloader_pin_memory=torch.cuda.is_available(), **more,
    )


def _dpo_trainer(model, tokenizer, train_dataset, config: TrainConfig, checkpoints: Path, console: Console | None):
    from peft import LoraConfig
    from trl import DPOTrainer

    # Without an adapter to switch off, the reference is the model before training: its log-probabilities
    # are computed once up front, so trl never loads a second copy (or fetches one from the Hub).
    arguments = dpo_arguments(config, checkpoints, precompute_ref_log_probs=not config.lora)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_target_modules, bias="none", task_type="CAUSAL_LM") if config.lora else None
    # trl's own collator unless the model needs token types (it then sets the pad token the same way).
    collator = TextTokenTypesCollator(tokenizer.pad_token_id, config.max_length) if _needs_token_types(model) else None
    trainer = DPOTrainer(model=model, args=arguments, train_dataset=train_dataset, processing_class=tokenizer,
                         data_collator=collator, peft_config=lora, callbacks=[StepProgress(console)] if console else None)
    trainer.remove_callback(PrinterCallback)  # it prints every log line; the progress bar shows the loss
    return trainer


def _save(model, tokenizer, config: TrainConfig, folder: Path) -> None:
    """The adapter (or the whole model) and the tokenizer, ready to upload."""
    if config.lora:
        if config.base_model:
            # The Hub id, not the local copy it was loaded from: the adapter then loads wherever it is published.
            model.peft_config["default"].base_model_name_or_path = config.base_model
        # The vocabulary is never changed, so the embeddings stay out of the adapter (and no Hub lookup checks it).
        model.save_pretrained(folder, save_embedding_layers=False)
    else:
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _needs_token_types(model) -> bool:
    """Gemma 3's multimodal checkpoints (Gemma-3-4b-it and larger) refuse to train without token_type_ids."""
    return model.config.model_type == "gemma3"


class TextTokenTypesCollator(DataCollatorForPreference):
    """trl's preference collator, with token_type_ids all 0 (text): the pairs hold no image."""

    def torch_call(self, examples: list[dict]) -> dict:
        import torch

        batch = super().torch_call(examples)
        batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        return batch


def _training_record(trainer, outcome, config: TrainConfig, splits: PreferenceSplits, lengths: dict[str, LengthReport]) -> dict:
    state = trainer.state
    tokens = max((entry.get("num_tokens", 0) for entry in state.log_history), default=0)
    runtime = outcome.metrics["train_runtime"]
    if config.lora:
        trainable, total = trainer.model.get_nb_trainable_parameters()
    else:
        trainable = total = sum(parameter.numel() for parameter in trainer.model.parameters())
    return {
        "model": config.model, "base_model": config.base_model, "method": "DPO, LoRA adapter" if config.lora else "DPO",
        "reference": "the base model (adapter switched off)" if config.lora else
                     "the model before training (log-probabilities precomputed: no second copy is loaded)",
        "parameters": config.model_dump(),
        "data": {"dataset": splits.dataset_name, "files": splits.files, "run_folder": str(splits.run_folder or ""),
                 "format": "conversational" if splits.conversational else "standard",
                 **{split: asdict(report) | {"kept": report.kept} for split, report in lengths.items()}},
        "device": str(trainer.args.device), "steps": state.global_step, "epochs": state.epoch or 0.0,
        "train_runtime_s": runtime, "train_loss": outcome.training_loss, "tokens_trained": int(tokens),
        "tokens_per_second": tokens / runtime if runtime else 0.0,
        "trainable_parameters": int(trainable), "total_parameters": int(total),
        "libraries": installed_versions(), "log_history": state.log_history,
    }


class StepProgress(TrainerCallback):
    """A rich progress bar over the optimiser steps, with the last loss."""

    def __init__(self, console: Console):
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                 TimeElapsedColumn(), console=console)
        self.task = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress.start()
        self.task = self.progress.add_task("DPO steps", total=state.max_steps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.progress.update(self.task, completed=state.global_step, description=f"DPO steps (loss {logs['loss']:.4f})")

    def on_train_end(self, args, state, control, **kwargs):
        self.progress.update(self.task, completed=state.global_step)
        self.progress.stop()
