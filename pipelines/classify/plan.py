"""What `curation classify` will do, known before it calls anything: the settings with the command's overrides, the
calls it makes (one per distinct system prompt and prompt of the run's accepted rows), the cost estimate and what
the call journal has already spent. A dry run shows the plan and stops; a real run carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.llms.journal import Journal
from curation.output_folder import check_output_file
from curation.pipelines.classify.config import ClassifyConfig, load_classify_config
from curation.pipelines.classify.requests import classification_requests
from curation.pipelines.classify.run import (
    OUTPUT,
    Classification,
    estimate,
    journal_path,
    labelled,
    run_classification,
    write_labels,
)
from curation.run_folder import RunFolder


@dataclass
class ClassificationPlan:
    config: ClassifyConfig
    requests: pl.DataFrame  # request_id and case, one per distinct system prompt and prompt
    links: pl.DataFrame  # each accepted row's id and the request_id that classifies it
    out: Path

    def estimate(self) -> pl.DataFrame:
        """Calls, tokens and USD, upper bounds, then the total."""
        return estimate(self.requests, self.config)

    def spent(self) -> float:
        """USD an earlier run into the same output already spent (at most), from its call journal."""
        journal = journal_path(self.out)
        return Journal.spent_in(journal) if journal.is_file() else 0.0

    def carry_out(self) -> tuple[Classification, pl.DataFrame]:
        """The calls (resumed from the journal, stopped at the budget), then every accepted row whose prompt got a
        verdict written to `out`: the classification and those labels. Calls that all failed raise, writing nothing."""
        classification = run_classification(self.config, self.requests, journal_path(self.out))
        if classification.failure is not None:
            raise classification.failure
        labels = labelled(self.links, classification.verdicts, self.config.confidence_floor)
        write_labels(labels, self.out)
        return classification, labels


def plan_classification(run_dir: Path, config_path: Path | None, out: Path | None = None,
                        **overrides: object) -> ClassificationPlan:
    """The plan for classifying `run_dir`'s accepted prompts: the config file (or the defaults) with the overrides that
    are not None (budget_usd...), checked as the file is; `out` defaults to RUN_DIR/llm_classification.parquet.
    Bad settings, a run folder that is not one, an output the command must not write and accepted rows without an
    id or a prompt fail here."""
    run = RunFolder.read(run_dir)
    config = load_classify_config(config_path, **overrides)
    accepted = run_dir / "accepted.parquet"
    out = out or run_dir / OUTPUT
    check_output_file(out, [accepted])
    requests, links = classification_requests(run.accepted, accepted)
    return ClassificationPlan(config, requests, links, out)
