"""DPO for vision-language models (trl's DPOTrainer with a processor, LoRA): on a curated `_images_dpo` dataset
(images, prompt, chosen, rejected in trl's vision format), and a tiny random SmolVLM-shaped model (Idefics3)
built from a config with a tokenizer and image processor made here, for CPU smoke tests, with nothing downloaded.

The evaluation is trl's own on the test split, before and after training: how often the chosen caption gets the
higher implicit reward (rewards/accuracies) and by how much (rewards/margins), the reference being the base
model (the adapter switched off)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rich.console import Console

from curation.errors import ConfigError, CurationError, InputError
from curation.output_folder import atomic_directory, check_output_folder
from curation.train.config import TrainConfig
from curation.train.emissions import EmissionsTracker, grid_country

SPLITS = ("train", "test")
# SmolVLM's chat template: the image placeholder becomes <image>, which the processor expands into the image's tokens.
SMOLVLM_CHAT = ("<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
                "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
                "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
                "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
                "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")
IMAGE_TOKENS = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"]
EVALUATED = ("rewards/accuracies", "rewards/margins", "loss")


def is_image_dataset(path: Path) -> bool:
    """A run folder that published <name>_images_dpo, or such a dataset folder itself."""
    path = Path(path)
    return path.is_dir() and (path.name.endswith("_images_dpo") or any(path.glob("*_images_dpo")))


def load_image_splits(path: Path) -> tuple[dict, Path]:
    """The train and test splits of an _images_dpo dataset (save_to_disk), as `datasets` with decoded images."""
    import datasets

    path = Path(path)
    found = [path] if path.name.endswith("_images_dpo") else sorted(path.glob("*_images_dpo"))
    if not found or not (found[0] / "dataset_dict.json").is_file():
        raise InputError(str(path), "no <name>_images_dpo dataset written by save_to_disk (output.formats: disk)")
    saved = datasets.load_from_disk(str(found[0]))
    missing = [split for split in SPLITS if split not in saved]
    if missing:
        raise InputError(str(found[0]), f"no {' and no '.join(missing)} split (it has {sorted(saved)}): training needs "
                                        "train, evaluation needs test (curate with split.test_fraction > 0)")
    columns = ["images", "prompt", "chosen", "rejected"]
    return {split: saved[split].select_columns(columns) for split in SPLITS}, found[0]


def build_tiny_vlm(folder: Path, texts: list[str] | None = None, hidden_size: int = 64, layers: int = 2,
                   image_size: int = 32, seed: int = 0) -> Path:
    """A random Idefics3 (SmolVLM's architecture) with a vision tower of one layer, its byte-level tokenizer
    (trained on `texts`, the demo texts by default) with SmolVLM's image tokens and chat template, and an image
    processor that resizes every image to `image_size` (no tiling): a processor and model that load by path."""
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    from curation.train.tiny import _special_ids, _tokenizer, demo_texts

    tokenizer = _tokenizer(list(texts or demo_texts()), 1024, SMOLVLM_CHAT)
    tokenizer.add_special_tokens({"additional_special_tokens": IMAGE_TOKENS})
    patch, scale = image_size // 4, 2
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                       num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=4096, **_special_ids(tokenizer))
    vision = Idefics3VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                  image_size=image_size, patch_size=patch)
    config = Idefics3Config(text_config=text, vision_config=vision, scale_factor=scale,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"), **_special_ids(tokenizer))
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config)
    images = Idefics3ImageProcessor(size={"longest_edge": image_size}, max_image_size={"longest_edge": image_size},
                                    do_image_splitting=False)
    processor = Idefics3Processor(images, tokenizer, image_seq_len=(image_size // patch) ** 2 // scale**2,
                                  chat_template=SMOLVLM_CHAT)
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def train_vlm(data: Path, config: TrainConfig, out: Path, console: Console | None = None) -> dict:
    """DPO with LoRA on the train split of an _images_dpo dataset (or the run folder that wrote one), trl's
    evaluation on its test split before and after; writes the adapter, the processor, training.json,
    evaluation.json, emissions.json and a model card into `out`, complete or not at all. Returns training.json."""
    import datasets

    from curation.train.trainer import flushed_denormals, installed_versions

    datasets.disable_progress_bars()
    if not config.lora:
        raise ConfigError("a vision-language model trains a LoRA adapter here (the reference is the base model with "
                          "the adapter off; trl cannot precompute it for images): use --lora")
    keep = [data, *([config.model] if config.model else [])]
    check_output_folder(Path(out), keep)
    grid_country(config.country)
    splits, dataset = load_image_splits(data)
    processor, model = _load(config)
    with atomic_directory(Path(out), keep) as folder, flushed_denormals():
        with EmissionsTracker(config.country, folder) as tracker:
            trainer = _vlm_trainer(model, processor, splits, config, folder / "checkpoints", console)
            before = _metrics(trainer.evaluate())
            outcome = trainer.train()
            after = _metrics(trainer.evaluate())
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
        if config.base_model:
            trainer.model.peft_config["default"].base_model_name_or_path = config.base_model
        trainer.model.save_pretrained(folder, save_embedding_layers=False)
        processor.save_pretrained(folder)
        training = {"model": config.model, "base_model": config.base_model, "method": "DPO (vision-language), LoRA adapter",
                    "reference": "the base model (adapter switched off)", "parameters": config.model_dump(),
                    "data": {"dataset": dataset.name, "path": str(dataset), **{split: splits[split].num_rows for split in SPLITS}},
                    "steps": trainer.state.global_step, "train_runtime_s": outcome.metrics["train_runtime"],
                    "train_loss": outcome.training_loss, "libraries": installed_versions(),
                    "log_history": trainer.state.log_history}
        evaluation = {"split": "test", "pairs": splits["test"].num_rows, "before": before, "after": after}
        for name, record in {"training.json": training, "evaluation.json": evaluation,
                             "emissions.json": tracker.result.as_json()}.items():
            (folder / name).write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        (folder / "README.md").write_text(_card(Path(out).name, config, dataset.name, evaluation, tracker.result),
                                          encoding="utf-8")
    return training


def _load(config: TrainConfig):
    """The processor and the model (bfloat16 if asked, its base in 4-bit NF4 for QLoRA)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from curation.train.model import _four_bit, model_source

    source = model_source(config)
    options: dict = {"dtype": torch.bfloat16 if config.bf16 else torch.float32}
    if config.load_in_4bit:
        options |= _four_bit(config)
    try:
        return AutoProcessor.from_pretrained(source), AutoModelForImageTextToText.from_pretrained(source, **options)
    except (OSError, ValueError) as error:
        raise CurationError(f"model {source}: could not be loaded as a vision-language model: {error}") from None


def _vlm_trainer(model, processor, splits: dict, config: TrainConfig, checkpoints: Path, console: Console | None):
    from peft import LoraConfig
    from transformers import PrinterCallback
    from trl import DPOTrainer

    from curation.train.trainer import StepProgress, dpo_arguments

    arguments = dpo_arguments(config, checkpoints)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_target_modules, bias="none", task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=arguments, train_dataset=splits["train"], eval_dataset=splits["test"],
                         processing_class=processor, peft_config=lora,
                         callbacks=[StepProgress(console)] if console else None)
    trainer.remove_callback(PrinterCallback)
    return trainer


def _metrics(evaluated: dict) -> dict:
    return {name: evaluated.get(f"eval_{name}") for name in EVALUATED}


def _card(name: str, config: TrainConfig, dataset: str, evaluation: dict, emissions) -> str:
    """A short model card: what was trained on what, trl's test-split metrics before and after, the footprint."""
    rows = "\n".join(f"| {metric} | {evaluation['before'][metric]:.4g} | {evaluation['after'][metric]:.4g} |"
                     for metric in EVALUATED if evaluation["before"][metric] is not None)
    base = config.base_model or config.model
    return (f"---\nbase_model: {base}\nlibrary_name: peft\nlicense: {config.license}\ntags: [dpo, trl, lora, "
            f"vision-language]\n---\n\n# {name}\n\nA LoRA adapter for `{base}`, trained with DPO (trl, vision-language) "
            f"on `{config.dataset_id or dataset}`: images with a prompt and a chosen and a rejected caption.\n\n"
            f"## Evaluation (test split, {evaluation['pairs']} pairs; reference: the base model)\n\n"
            f"| metric | before | after |\n|---|---|---|\n{rows}\n\n## Footprint\n\n"
            f"{emissions.emissions_kg * 1000:.4f} g CO2eq, {emissions.energy_kwh:.6f} kWh, {emissions.duration_s:.0f} s "
            f"on {emissions.hardware} ({emissions.country_name}'s grid), measured with codecarbon.\n")
