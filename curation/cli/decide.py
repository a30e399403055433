"""`curation decide`: a person's decision about one row, added to the project's decisions file."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from curation.cli.common import RunDir, app, console, fail
from curation.decisions import decide_in_run, decisions_file
from curation.errors import CurationError

Flag = Annotated[bool, typer.Option()]


@app.command("decide")
def decide(
    run_dir: RunDir,
    row_id: Annotated[str, typer.Argument(metavar="ID", help="The row's id (accepted.parquet, quarantine.parquet, "
                                                             "duplicates.parquet, ledger.parquet).")],
    keep: Annotated[bool, typer.Option("--keep", help="Keep the row: overrules a rule that quarantined it.")] = False,
    quarantine: Annotated[str | None, typer.Option("--quarantine", metavar="REASON",
                                                   help="Quarantine the row with this reason (a short name: review_off_topic).")] = None,
    not_duplicate_of: Annotated[str | None, typer.Option("--not-duplicate-of", metavar="ID",
                                                         help="The row is not a copy of that row: dedupe keeps both.")] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="The chosen answer is the better one.")] = False,
    swap: Annotated[bool, typer.Option("--swap", help="The rejected answer is the better one.")] = False,
    both_good: Annotated[bool, typer.Option("--both-good", help="Both answers are good: the pair goes to KTO only.")] = False,
    both_bad: Annotated[bool, typer.Option("--both-bad", help="Both answers are bad: the row is quarantined.")] = False,
    correct: Annotated[str | None, typer.Option("--correct", metavar="TEXT", help="A corrected answer: it replaces chosen.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="The prompt's category (knowledge, preference, dynamics, "
                                                                    "bias_trap; trivial, stereotype, no_anchor quarantine it).")] = None,
    dimension: Annotated[str | None, typer.Option("--dimension", help="The prompt's cultural dimension.")] = None,
    why: Annotated[str | None, typer.Option("--why", help="Why: kept with the decision.")] = None,
    who: Annotated[str | None, typer.Option("--who", help="Who decides (default: your login name).")] = None,
    decisions: Annotated[Path | None, typer.Option("--decisions", help="The decisions file (default: the one the "
                                                                        "run's config names).")] = None,
) -> None:
    """Record a decision about one row in the decisions file; every later `curation run` applies it."""
    chosen = {"keep": keep, "quarantine": quarantine, "not_duplicate_of": not_duplicate_of, "confirm": confirm,
              "swap": swap, "both_good": both_good, "both_bad": both_bad, "correct": correct, "category": category,
              "dimension": dimension}
    actions = [(action, None if value is True else value) for action, value in chosen.items() if value not in (None, False)]
    try:
        path = decisions_file(run_dir, decisions)
        added = decide_in_run(run_dir, row_id, actions, who or getpass.getuser(), why, path)
    except CurationError as error:
        raise fail(error) from None
    console.print(f"{added} decision{'s' * (added != 1)} about {row_id} added to {path}; the next `curation run` applies "
                  f"{'them' if added != 1 else 'it'}")
