"""What `curation extend` will do, known before it calls anything: the settings with the command's overrides, the
prompts it requests (largest gaps first), the gap cells they fill, the cost estimate and what the call journal
has already spent. A dry run shows the plan and stops; a real run carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.llms.journal import Journal
from curation.output_folder import check_output_folder
from curation.pipelines.extend.config import ExtendConfig, load_extend_config
from curation.pipelines.extend.estimate import estimate, gap_cover
from curation.pipelines.extend.requests import prompt_requests
from curation.pipelines.extend.run import JOURNAL, Extension, run_extension, write_outputs
from curation.run_folder import RunFolder


@dataclass
class ExtensionPlan:
    seed_run: Path
    accepted: pl.DataFrame  # the seed run's accepted rows, whose gaps the requests fill
    config: ExtendConfig
    requests: pl.DataFrame
    out: Path

    def gap_cover(self) -> pl.DataFrame:
        """Every country x dimension cell below target, with the prompts requested for it (see estimate.gap_cover)."""
        return gap_cover(self.accepted, self.requests, self.config)

    def estimate(self) -> pl.DataFrame:
        """Tokens and USD per step, upper bounds, then the total."""
        return estimate(self.requests, self.config)

    def spent(self) -> float:
        """USD an earlier run into the same folder already spent (at most), from its call journal."""
        journal = self.out / JOURNAL
        return Journal.spent_in(journal) if journal.is_file() else 0.0

    def carry_out(self) -> tuple[Extension, dict[str, Path]]:
        """The calls (resumed from the journal, stopped at the budget) and the files written, by name."""
        extension = run_extension(self.config, self.requests, self.out)
        return extension, write_outputs(extension, self.out, self.seed_run)


def plan_extension(seed_run: Path, config_path: Path | None, out: Path | None = None, **overrides: object) -> ExtensionPlan:
    """The plan for extending `seed_run`: the config file (or the defaults) with the overrides that are not None
    (budget_usd, max_prompts, cell_target...), checked as the file is; `out` defaults to <seed run>_extension.
    Bad settings, a seed run that is not one and an output folder the engine must not replace fail here."""
    run = RunFolder.read(seed_run)
    config = load_extend_config(config_path, **overrides)
    out = out or seed_run.with_name(f"{seed_run.name}_extension")
    requests = prompt_requests(run.accepted, config)
    check_output_folder(out, [seed_run])
    return ExtensionPlan(seed_run, run.accepted, config, requests, out)
