"""The curation stages, one per file, and the default pipeline that chains them."""

from __future__ import annotations

from curation.config import RunConfig
from curation.pipelines.apply_decisions import ApplyDecisions
from curation.pipelines.dimension_tag import DimensionTag
from curation.pipelines.exact_dedupe import ExactDedupe
from curation.pipelines.filter import Filter
from curation.pipelines.image_exact_dedupe import ImageExactDedupe
from curation.pipelines.image_near_dedupe import ImageNearDedupe
from curation.pipelines.image_split import ImageSplit
from curation.pipelines.language_tag import LanguageTag
from curation.pipelines.lexicon_tag import RegisterTag, VarietyTag
from curation.pipelines.near_dedupe import NearDedupe
from curation.pipelines.normalise import Normalise
from curation.pipelines.semantic_dedupe import SemanticDedupe
from curation.pipelines.split import Split
from curation.stage import Pipeline, Stage

# The registry: every stage in the pipeline's order. Each builds itself from the run config (from_config) and
# says whether the run includes it (enabled): an image run swaps the text dedupe and split for the image ones.
STAGES: tuple[type[Stage], ...] = (
    Normalise, LanguageTag, VarietyTag, RegisterTag, DimensionTag, Filter, ExactDedupe, NearDedupe, SemanticDedupe,
    ImageExactDedupe, ImageNearDedupe, ApplyDecisions, Split, ImageSplit)


def default_pipeline(config: RunConfig) -> Pipeline:
    """normalise >> tags >> filter >> exact, near and semantic dedupe (or, for images, exact and near duplicate
    images) >> the steward's decisions >> split (by image for images), without the stages the config disables."""
    return Pipeline([stage.from_config(config) for stage in STAGES if stage.enabled(config)])


def column_makers() -> dict[str, str]:
    """Column -> the first stage that makes it: what a pipeline check names when a column is missing."""
    return {column: stage.name for stage in reversed(STAGES) for column in stage.outputs}
