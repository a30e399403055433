"""Human review in Argilla: `curation review serve`, `push` and `pull`. argilla loads only when one of them runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from curation.cli.common import RunDir, app, console, fail, needs
from curation.config import saved_config
from curation.errors import CurationError

review_app = typer.Typer(help="Human review in Argilla: serve a local server, push rows, pull decisions.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")
ApiUrl = Annotated[str, typer.Option("--api-url", envvar="ARGILLA_API_URL", help="Argilla server (local or hosted).")]
LOCAL_ARGILLA = "http://127.0.0.1:6900"
ApiKey = Annotated[str, typer.Option("--api-key", envvar="ARGILLA_API_KEY", help="Its API key (never printed).")]
DatasetName = Annotated[str | None, typer.Option("--dataset", help="Argilla dataset name (default: <run name>_review).")]
Workspace = Annotated[str, typer.Option("--workspace", help="Argilla workspace.")]


@review_app.command("serve")
def review_serve(
    home: Annotated[Path, typer.Option("--home", help="Where the server keeps its database and accounts.")] = Path(".argilla"),
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 6900,
) -> None:
    """Start Argilla on 127.0.0.1 (argilla-server, SQLite, redis-server, the SQL search engine) with an owner and an
    annotator account, until Ctrl-C. `source <home>/accounts.env` exports the owner's ARGILLA_API_URL and
    ARGILLA_API_KEY; <home>/annotator.env the annotator's (both readable by you only)."""
    needs("review")
    from curation.review.server import LocalArgilla, ReviewServerError

    server = LocalArgilla(home.resolve(), port=port)
    try:
        server.start()
        console.print(f"Argilla is up at {server.api_url} (workspace curation). Users: owner, annotator. "
                      f"`source {home / 'accounts.env'}` sets ARGILLA_API_URL and ARGILLA_API_KEY for the owner "
                      f"({home / 'annotator.env'}: the annotator's). Ctrl-C stops it.")
        while server.alive():
            time.sleep(1)
        raise ReviewServerError(f"the Argilla server (argilla-server or its redis-server) died; see {home / 'server.log'}")
    except KeyboardInterrupt:
        pass
    except CurationError as error:
        raise fail(error) from None
    finally:
        server.stop()


def _review_name(run_dir: Path, dataset: str | None) -> str:
    return dataset or f"{saved_config(run_dir).name}_review"


@review_app.command("push")
def review_push(
    run_dir: RunDir,
    api_url: ApiUrl = LOCAL_ARGILLA,
    api_key: ApiKey = "",
    dataset: DatasetName = None,
    workspace: Workspace = "curation",
    overlap: Annotated[int, typer.Option("--overlap", min=1, help="Annotators each record needs.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the A/B order.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 500,
    update: Annotated[bool, typer.Option("--update", help="Re-send records already pushed (they are updated, not duplicated).")] = False,
    show_suggestions: Annotated[bool, typer.Option("--show-suggestions", help="Pre-select the arena's vote (or the LLM "
                                                   "judge's) and show the judge's rationale: faster, but it anchors "
                                                   "the reviewer (blind by default).")] = False,
) -> None:
    """Send the accepted rows (those that passed the gate) to an Argilla dataset, blind (no vote pre-selected),
    in Spanish (Portuguese for Portuguese data); resumes an interrupted push."""
    needs("review")
    try:
        from curation.review.push import connect, push
        client = connect(api_url, api_key)
        result = push(run_dir, client, _review_name(run_dir, dataset), workspace, overlap, seed, batch_size, update, console,
                      show_suggestions)
    except CurationError as error:
        raise fail(error) from None
    console.print(f"{result.dataset}: {result.pushed} pushed, {result.skipped} already there, {len(result.rejected)} rejected")
    for record_id, reason in result.rejected:
        console.print(f"  rejected {record_id}: {reason}")


@review_app.command("pull")
def review_pull(
    run_dir: RunDir,
    api_url: ApiUrl = LOCAL_ARGILLA,
    api_key: ApiKey = "",
    dataset: DatasetName = None,
    workspace: Workspace = "curation",
    decisions: Annotated[Path | None, typer.Option("--decisions", help="The decisions file to add to (default: the one "
                                                                        "the run's config names).")] = None,
) -> None:
    """Read submitted responses, resolve annotators by majority, add them to the decisions file, and curate the
    run again with every decision into RUN_DIR/reviewed/ (a run folder: report, card, train and evaluate take it)."""
    needs("review")
    try:
        from curation.review.pull import pull
        from curation.review.push import connect
        from curation.run import run
        result = pull(run_dir, connect(api_url, api_key), _review_name(run_dir, dataset), workspace, decisions,
                      curate=lambda config, out: run(config, out, console))
    except CurationError as error:
        raise fail(error) from None
    console.print(f"{result.reviewed} records reviewed ({result.added} new decisions in {result.decisions_file}); "
                  f"agreement {result.agreement}; curated again into {result.output_dir}")
