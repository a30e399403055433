"""Pipeline steps: small classes with one job, declared inputs and outputs, composed with `>>`.

A stage returns the rows it keeps and the rows that leave the flow (quarantined or duplicate, each
with its reasons); the pipeline records both in the ledger, so no row is dropped without a reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Self

import polars as pl

from curation.config import RunConfig
from curation.errors import CurationError
from curation.schema import Status

REMOVED_COLUMNS = {
    "status": pl.String,
    "stage": pl.String,
    "reasons": pl.List(pl.String),
    "duplicate_of": pl.String,
    "duplicate_of_source": pl.String,
}


@dataclass
class StageResult:
    kept: pl.DataFrame
    removed: pl.DataFrame
    stats: dict[str, int] = field(default_factory=dict)


# Rows a row-local stage handles at a time: its temporaries (lower-cased, folded copies of every
# text, the filter's rule columns) then stay small on a million-row run. At 100k rows the filter's
# temporaries made the run's peak (1.93 GB); at 50k the peak is 1.51 GB (README, "Scale").
CHUNK_ROWS = 50_000
# Rows a run streams through its leading row-local stages at a time (see curation.run).
BATCH_ROWS = CHUNK_ROWS


class Stage(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]]
    outputs: ClassVar[tuple[str, ...]] = ()
    # True when a row's result depends on that row alone: the stage may then run chunk by chunk.
    row_local: ClassVar[bool] = False

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        """The stage with the run config's settings (the registry, curation.pipelines.STAGES, builds each so)."""
        return cls()

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        """Whether the configured run includes this stage (its own command runs it either way)."""
        return True

    @abstractmethod
    def process(self, frame: pl.DataFrame) -> StageResult: ...

    def __call__(self, frame: pl.DataFrame) -> StageResult:
        missing = [column for column in self.inputs if column not in frame.columns]
        if missing:
            raise CurationError(f"stage {self.name} needs columns {missing}; run the stages before it first")
        result = self._process_in_chunks(frame) if self.row_local and frame.height > CHUNK_ROWS else self.process(frame)
        absent = [column for column in self.outputs if column not in result.kept.columns]
        if absent:  # the stage's own contract: a bug, not the data's fault
            raise RuntimeError(f"stage {self.name} did not produce {absent}")
        return result

    def _process_in_chunks(self, frame: pl.DataFrame) -> StageResult:
        results = [self.process(frame.slice(start, CHUNK_ROWS)) for start in range(0, frame.height, CHUNK_ROWS)]
        stats: dict[str, int] = {}
        for result in results:
            add_stats(stats, result.stats)
        return StageResult(pl.concat([r.kept for r in results], rechunk=False),
                           pl.concat([r.removed for r in results], how="diagonal_relaxed", rechunk=False), stats)

    def leave(self, rows: pl.DataFrame, status: Status, reasons: pl.Expr,
              duplicate_of: pl.Expr | None = None, duplicate_of_source: pl.Expr | None = None) -> pl.DataFrame:
        """Rows leaving the flow at this stage, labelled with where, why and (for duplicates) of what."""
        return rows.with_columns(
            status=pl.lit(status.value),
            stage=pl.lit(self.name),
            reasons=reasons,
            duplicate_of=duplicate_of if duplicate_of is not None else pl.lit(None, dtype=pl.String),
            duplicate_of_source=duplicate_of_source if duplicate_of_source is not None else pl.lit(None, dtype=pl.String),
        )

    def nothing_removed(self, frame: pl.DataFrame) -> pl.DataFrame:
        return self.leave(frame.clear(), Status.QUARANTINED, pl.lit([], dtype=pl.List(pl.String)))

    def __rshift__(self, other: Stage) -> Pipeline:
        return Pipeline([self]) >> other


def add_stats(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + value


class Pipeline:
    def __init__(self, stages: list[Stage]):
        self.stages = stages

    def __rshift__(self, other: Stage) -> Pipeline:
        return Pipeline([*self.stages, other])

    def __iter__(self):
        return iter(self.stages)

    def check(self, columns: Iterable[str], makers: dict[str, str] | None = None) -> None:
        """Before any row is read: every stage's inputs are in the data's columns or made by a stage before
        it (as distilabel checks its DAG). `makers` (column -> stage) names what to run first."""
        available = set(columns)
        for stage in self.stages:
            missing = [column for column in stage.inputs if column not in available]
            if missing:
                needed = sorted({(makers or {}).get(column) for column in missing} - {None})
                hint = f": run {', '.join(needed)} first" if needed else ""
                raise CurationError(f"stage {stage.name} needs columns {missing} that neither the data nor an earlier "
                                    f"stage of this pipeline makes{hint}")
            available |= set(stage.outputs)
