"""The training configuration: a preset (YAML in train/presets/, or your own file) with command-line overrides."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field

from curation.config import Settings, read_model, validated
from curation.errors import ConfigError


class TrainConfig(Settings):
    """Everything a DPO run needs besides the data; each field is documented in the presets."""

    description: str = Field("", description="What the preset is for.")
    model: str | None = Field(None, description="Hub id, local folder or .gguf file of the model to train.")
    base_model: str | None = Field(None, description="Hub id recorded as `base_model` in the model card.")
    license: str = Field("apache-2.0", description="Licence id of the trained model (the base model's).")
    dataset_id: str | None = Field(None, description="Hub id of the training data for the card (default: its folder's name).")
    # LoRA (peft): an adapter on the attention and MLP projections; the base weights stay frozen.
    lora: bool = True
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_target_modules: list[str] | str = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Module names, or one regular expression matched against full module names.")
    # DPO (trl)
    beta: float = Field(0.1, gt=0, description="Strength of the pull towards the reference model.")
    loss_type: list[str] = ["sigmoid"]
    learning_rate: float = Field(5e-6, gt=0)
    warmup_steps: float = Field(0.1, ge=0, description="Steps of linear warm-up; below 1, a fraction of the run.")
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimiser steps (overrides epochs).")
    per_device_train_batch_size: int = Field(2, ge=1)
    per_device_eval_batch_size: int = Field(2, ge=1)
    gradient_accumulation_steps: int = Field(8, ge=1)
    max_length: int = Field(1024, ge=8, description="Tokens of prompt + answer; longer pairs are cut at the end.")
    seed: int = 42
    # Hardware
    bf16: bool = Field(False, description="bfloat16 weights and compute (Ampere or newer GPUs).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: less memory.")
    load_in_4bit: bool = Field(False, description="QLoRA: the frozen base in 4-bit NF4 (bitsandbytes, CUDA only).")
    # Where the electricity came from, for the carbon estimate (ISO 3166 code).
    country: str = "ES"


def preset_names() -> list[str]:
    folder = resources.files("curation.train").joinpath("presets")
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_preset(name_or_path: str) -> TrainConfig:
    """A shipped preset by name, or a YAML file of the same settings."""
    if name_or_path in preset_names():
        preset = resources.files("curation.train").joinpath("presets", f"{name_or_path}.yaml")
        with resources.as_file(preset) as path:
            return read_model(path, TrainConfig)
    if not Path(name_or_path).is_file():
        raise ConfigError(f"preset {name_or_path!r}: neither a shipped preset ({', '.join(preset_names())}) nor a YAML file")
    return read_model(name_or_path, TrainConfig)


def with_overrides(config: TrainConfig, **overrides: object) -> TrainConfig:
    """The config with the given settings replaced (None leaves a setting as it is), validated again.
    The card's base model follows the model: a Hub id is its own base; a .gguf file is a quantised copy
    of the preset's model, which stays the base; any other local folder has no known base unless
    `base_model` is given (an adapter must never name a base it was not trained on)."""
    given = {key: value for key, value in overrides.items() if value is not None}
    model = given.get("model")
    if isinstance(model, str) and "base_model" not in given:
        if not Path(model).exists():
            given["base_model"] = model
        elif not model.endswith(".gguf"):
            given["base_model"] = None
    return validated(TrainConfig, config.model_dump() | given, "training settings")
