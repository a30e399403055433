"""The curation stages, one per file, and the default pipeline that chains them."""

from __future__ import annotations

from curation.config import RunConfig
from curation.pipelines.exact_dedupe import ExactDedupe
from curation.pipelines.filter import Filter
from curation.pipelines.normalise import Normalise
from curation.pipelines.split import Split
from curation.rules import default_rules
from curation.stage import Pipeline

STAGES = {stage.name: stage for stage in (Normalise, Filter, ExactDedupe, Split)}


def build_stage(name: str, config: RunConfig):
    """One stage, configured from the run config."""
    if name == Normalise.name:
        return Normalise(strip_markup=config.normalise.strip_markup)
    if name == Filter.name:
        return Filter(default_rules(config.filters))
    if name == ExactDedupe.name:
        return ExactDedupe(by_prompt=config.dedupe.exact.by_prompt)
    return Split(test_fraction=config.split.test_fraction, seed=config.split.seed)


def default_pipeline(config: RunConfig) -> Pipeline:
    """normalise >> filter >> exact dedupe >> split."""
    normalise, *rest = [build_stage(name, config) for name in STAGES]
    pipeline = Pipeline([normalise])
    for stage in rest:
        pipeline = pipeline >> stage
    return pipeline
