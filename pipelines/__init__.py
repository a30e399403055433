"""The curation stages, one per file, and the default pipeline that chains them."""

from __future__ import annotations

from collections.abc import Callable

from curation.config import RunConfig
from curation.decisions import read_decisions
from curation.errors import ConfigError
from curation.pipelines.apply_decisions import ApplyDecisions
from curation.pipelines.dimension_tag import DimensionTag
from curation.pipelines.exact_dedupe import ExactDedupe
from curation.pipelines.filter import Filter
from curation.pipelines.image_pipeline import image_rules, image_stages, text_filters
from curation.pipelines.language_tag import LanguageTag
from curation.pipelines.near_dedupe import NearDedupe
from curation.pipelines.normalise import Normalise
from curation.pipelines.register_tag import RegisterTag
from curation.pipelines.semantic_dedupe import SemanticDedupe
from curation.pipelines.split import Split
from curation.pipelines.variety_tag import VarietyTag
from curation.rules import default_rules
from curation.rules.pack import load_packs
from curation.stage import Pipeline, Stage

# Each stage built from the run config; the order is the pipeline's.
BUILDERS: dict[str, Callable[[RunConfig], Stage]] = {
    Normalise.name: lambda c: Normalise(strip_markup=c.normalise.strip_markup),
    LanguageTag.name: lambda c: LanguageTag(c.tagging.language.backend, c.tagging.language.max_chars,
                                            c.tagging.language.workers),
    VarietyTag.name: lambda c: VarietyTag(c.tagging.varieties_lexicon),
    RegisterTag.name: lambda c: RegisterTag(c.tagging.register_lexicon),
    DimensionTag.name: lambda c: DimensionTag(c.tagging.dimensions_lexicon),
    Filter.name: lambda c: Filter(default_rules(text_filters(c), tagged=c.tagging.enabled, varieties_lexicon=c.tagging.varieties_lexicon)
                                  + image_rules(c) + [rule for pack in load_packs(c.gate.packs) for rule in pack.rules()]),
    ExactDedupe.name: lambda c: ExactDedupe(by_prompt=c.dedupe.exact.by_prompt, scope=c.dedupe.scope,
                                            persona=c.dedupe.persona,
                                            generic_system_prompts=c.dedupe.generic_system_prompts),
    NearDedupe.name: lambda c: NearDedupe(c.dedupe.near.target, c.dedupe.near.threshold, c.dedupe.near.ngram,
                                          c.dedupe.near.bins, c.dedupe.near.band_size, scope=c.dedupe.scope,
                                          persona=c.dedupe.persona, generic_system_prompts=c.dedupe.generic_system_prompts,
                                          guard=c.dedupe.guard, borderline=c.dedupe.borderline),
    SemanticDedupe.name: lambda c: SemanticDedupe(c.dedupe.semantic.model, c.dedupe.semantic.threshold,
                                                  c.dedupe.semantic.cache_dir, scope=c.dedupe.scope,
                                                  persona=c.dedupe.persona,
                                                  generic_system_prompts=c.dedupe.generic_system_prompts,
                                                  guard=c.dedupe.guard, borderline=c.dedupe.borderline),
    ApplyDecisions.name: lambda c: ApplyDecisions(read_decisions(_decisions_file(c))),
    Split.name: lambda c: Split(test_fraction=c.split.test_fraction, seed=c.split.seed),
}
STAGES = {stage.name: stage for stage in (Normalise, LanguageTag, VarietyTag, RegisterTag, DimensionTag, Filter,
                                          ExactDedupe, NearDedupe, SemanticDedupe, ApplyDecisions, Split)}
TAGGING = {LanguageTag.name, VarietyTag.name, RegisterTag.name, DimensionTag.name}


def enabled(name: str, config: RunConfig) -> bool:
    if name in TAGGING:
        return config.tagging.enabled
    if name == NearDedupe.name:
        return config.dedupe.near.enabled
    if name == SemanticDedupe.name:
        return config.dedupe.semantic.enabled
    if name == ApplyDecisions.name:
        return config.decisions is not None
    return True


def _decisions_file(config: RunConfig) -> str:
    if config.decisions is None:
        raise ConfigError("apply_decisions needs the decisions file: set `decisions: decisions.yaml` in the config")
    return config.decisions


def build_stage(name: str, config: RunConfig) -> Stage:
    return BUILDERS[name](config)


def default_pipeline(config: RunConfig) -> Pipeline:
    """normalise >> tags >> filter >> exact, near and semantic dedupe >> the steward's decisions >> split (disabled
    stages left out). An image run (config.images) dedupes and splits by image instead
    (curation.pipelines.image_pipeline)."""
    names = [name for name in BUILDERS if enabled(name, config)]
    if config.images is not None:
        names = names[:names.index(Filter.name) + 1]
    first, *rest = [build_stage(name, config) for name in names] + (image_stages(config) if config.images else [])
    pipeline = Pipeline([first])
    for stage in rest:
        pipeline = pipeline >> stage
    return pipeline


def column_makers() -> dict[str, str]:
    """Column -> the stage that makes it: what a pipeline check names when a column is missing."""
    return {column: stage.name for stage in STAGES.values() for column in stage.outputs}
