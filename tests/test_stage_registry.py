"""One stage registry: every stage builds itself from the run config and says whether the run includes it; the
two lexicon tags are one stage class; the CLI leaves reading and writing to the layers below."""

import ast
from pathlib import Path

import polars as pl
import pytest

from curation.config import demo_config
from curation.demo.images import images_demo_config
from curation.errors import ConfigError
from curation.pipelines import STAGES, default_pipeline
from curation.pipelines.apply_decisions import ApplyDecisions
from curation.pipelines.lexicon_tag import LexiconTag, RegisterTag, VarietyTag
from curation.pipelines.near_dedupe import NearDedupe
from curation.testing import frame_of, pair

ROOT = Path(__file__).resolve().parents[1]


def with_settings(config, **settings):
    return type(config).model_validate(config.model_dump() | settings)


@pytest.mark.parametrize("demo", [demo_config, images_demo_config], ids=["arena", "images"])
def test_every_stage_of_the_registry_builds_from_the_demo_config(demo, tmp_path):
    config = with_settings(demo(), decisions=str(tmp_path / "decisions.yaml"))  # not written yet: no decisions
    for stage in STAGES:
        built = stage.from_config(config)
        assert type(built) is stage and built.name == stage.name and built.description


def test_the_config_decides_which_stages_run():
    arena, images = demo_config(), images_demo_config()
    assert [stage.name for stage in default_pipeline(images)] == [
        "normalise", "language_tag", "variety_tag", "register_tag", "dimension_tag", "filter",
        "image_exact_dedupe", "image_near_dedupe", "image_split"]
    decided = [stage.name for stage in default_pipeline(with_settings(arena, decisions="decisions.yaml"))]
    assert decided[-3:] == ["semantic_dedupe", "apply_decisions", "split"]
    assert "apply_decisions" not in [stage.name for stage in default_pipeline(arena)]
    near_off = with_settings(images, images=images.images.model_dump() | {"near": False})
    assert "image_near_dedupe" not in [stage.name for stage in default_pipeline(near_off)]


def test_from_config_carries_the_settings():
    config = with_settings(demo_config(), dedupe={"near": {"threshold": 0.7, "ngram": 3}, "scope": ["country", "persona"]})
    near = NearDedupe.from_config(config)
    assert (near.threshold, near.ngram, near.scope) == (0.7, 3, ["country", "persona"])
    with pytest.raises(ConfigError, match="apply_decisions needs the decisions file"):
        ApplyDecisions.from_config(demo_config())


def test_variety_and_register_are_one_lexicon_stage_with_their_own_names_lexicons_and_stats(tmp_path):
    assert {stage for stage in STAGES if issubclass(stage, LexiconTag)} == {VarietyTag, RegisterTag}
    assert not any("process" in vars(stage) or "__init__" in vars(stage) for stage in (VarietyTag, RegisterTag))
    lexicon = tmp_path / "mine.yaml"
    lexicon.write_text("es:\n  - kind: word\n    weight: 3\n    varieties: [es-XX]\n    words: [guachinango]\n")
    config = with_settings(demo_config(), tagging={"varieties_lexicon": str(lexicon)})
    frame = frame_of(pair(prompt="¿Dónde se pesca el guachinango?", chosen="Si querés pescarlo, tenés que ir al puerto temprano.",
                          country="XX")).with_columns(pl.lit("es").alias(f"{field}_lang") for field in ("prompt", "chosen", "rejected"))
    varieties = VarietyTag.from_config(config)(frame)
    registers = RegisterTag.from_config(config)(varieties.kept)
    assert varieties.kept.item(0, "prompt_variety") == "es-XX" and varieties.stats == {"prompt_es-XX": 1}
    assert registers.kept.item(0, "chosen_register") == "vos" and registers.stats == {"chosen_vos": 1}
    assert {"prompt_variety", "chosen_register_evidence"} <= set(registers.kept.columns)


def test_the_cli_reads_and_writes_no_data_itself():
    """Reading inputs and writing tables belong to the layers below (curation.steps, run, reports...)."""
    internals = ("curation.readers", "curation.writers")
    offenders = []
    for path in sorted((ROOT / "curation" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.name} imports {name}" for name in names
                          if any(name == module or name.startswith(module + ".") for module in internals)]
    assert not offenders, "\n".join(offenders)
