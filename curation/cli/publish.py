"""`curation publish`: a run's datasets to a Hub organisation, in the Hub's layout, with their cards, config and
notebooks. The cards' reports and the Hub client load only when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from curation.cli.common import RunDir, app, console, fail
from curation.errors import CurationError

if TYPE_CHECKING:
    from curation.publish.layout import RepoPlan


@app.command()
def publish(
    run_dir: RunDir,
    org: Annotated[str, typer.Option("--org", help="The Hub organisation (or user) the datasets go to, e.g. "
                                                   "somosnlp-hackathon-2026.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repositories private (an existing one keeps "
                                                            "its visibility).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List every file and its size; send nothing.")] = False,
    notebooks: Annotated[Path | None, typer.Option("--notebooks", help="The notebooks to publish beside the data "
                                                                  "(default: the project's notebooks/ folder).")] = None,
    no_notebooks: Annotated[bool, typer.Option("--no-notebooks", help="Publish without notebooks.")] = False,
    target: Annotated[str, typer.Option("--target", help="Country target of the cards' audit: uniform, "
                                                         "spanish_speakers or a YAML file.")] = "uniform",
) -> None:
    """Upload each published dataset of a run (<name>_dpo, <name>_kto, <name>_prompts; an image run's
    <name>_images_dpo, <name>_images_kto) to <org>/<dataset> on the
    Hugging Face Hub: data/<split>-*.parquet, the dataset card (README.md, with `configs`), the run's config.yaml
    and ledger.json under curation/, and the notebooks. Names are checked against the convention before anything is
    sent. The token comes from HF_TOKEN or `hf auth login` and is never shown. HF_ENDPOINT points at another Hub.
    A re-publish is a new commit on the same repositories."""
    from curation.publish.hub import hub_token, send
    from curation.publish.layout import NOTEBOOKS, publish_plan, unpublishable

    try:
        plans = publish_plan(run_dir, org, None if no_notebooks else notebooks or NOTEBOOKS, target)
        for dataset in unpublishable(run_dir):
            console.print(Text(f"not published: {dataset} (no dataset card for its kind yet)", style="yellow"))
        if dry_run:
            _print_plans(plans)
            return
        token = hub_token()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("publishing", total=len(plans))
            published = send(plans, token, private, done=lambda _: progress.advance(task))
    except CurationError as error:
        raise fail(error) from None
    for result in published:
        state = f"commit {result.commit[:12]}" if result.commit else "unchanged: the Hub holds these files already"
        console.print(Text(f"published {result.url} ({state})"), highlight=False)


def _print_plans(plans: list[RepoPlan]) -> None:
    terminal = Console()
    for plan in plans:
        rows = ", ".join(f"{split} {count:,}" for split, count in plan.splits.items())
        table = Table(title=Text(f"{plan.repo_id} ({rows} rows)"), title_justify="left")
        table.add_column("file")
        table.add_column("bytes", justify="right")
        for file in plan.files:
            table.add_row(Text(file.path_in_repo), f"{file.size:,}")
        table.add_row(Text("total", style="bold"), f"{plan.size:,}")
        terminal.print(table)
    total = sum(plan.size for plan in plans)
    terminal.print(Text(f"dry run: {len(plans)} repositories, {sum(len(plan.files) for plan in plans)} files, "
                        f"{total:,} bytes; nothing was sent"))
