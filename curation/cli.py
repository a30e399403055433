"""The `curation` command line: `curation run CONFIG.yaml`, `curation run --demo`, one command per stage."""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from curation.config import RunConfig, demo_config, load_config, saved_config, validated
from curation.errors import CurationError
from curation.output_folder import atomic_directory, check_output_file, check_output_folder, claim_folder
from curation.pipelines import STAGES, build_stage
from curation.readers import read_records
from curation.reports.bias_audit import audit
from curation.reports.curation_report import write_report
from curation.reports.dataset_card import KINDS, write_card
from curation.rules import default_rules
from curation.rules.pack import load_packs
from curation.run import RunResult, run as run_curation, run_pipeline
from curation.run_folder import RunFolder
from curation.schema import CANONICAL, Status
from curation.stage import Pipeline
from curation.train.command import train_command
from curation.writers import write_table

# Offline by default: nothing here needs the Hub unless a config names a Hub dataset.
for variable in ("HF_HUB_DISABLE_TELEMETRY", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
    os.environ.setdefault(variable, "1")

app = typer.Typer(help="Curate culturally aligned preference data (DPO/KTO): filters, dedupe, splits, ledger.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=True)
# Each outcome its own exit code (README, "Exit codes"); 1 is left to Python, which uses it for a crash.
EXIT_BAD_INPUT = 2  # bad input, config or option: nothing written
EXIT_GATE_FAILED = 3  # the outputs are written, but the gate failed (--strict) or a name breaks the convention
EXIT_INTERNAL_ERROR = 4  # a bug: one line here, the traceback in a log file

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (defaults apply without one).")]


def _fail(error: CurationError) -> typer.Exit:
    # Text, not markup: file labels like "saved[test]" must print as they are.
    console.print(Text("error: ", style="bold red") + Text(str(error)), highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _config(config_path: Path | None, input_path: str) -> RunConfig:
    """The config file's settings (or the defaults) applied to this one input."""
    config = load_config(config_path) if config_path else RunConfig(name="curation", input={"path": input_path})
    first = config.inputs()[0]
    config.input = first.model_copy(update={"path": input_path})
    return config


@app.command()
def run(
    config_path: Annotated[Path | None, typer.Argument(metavar="CONFIG", help="The run's YAML config.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Run on the embedded demo data: no network, keys or servers.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: out/<name>).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summary.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when a dataset expectation fails (gate.strict).")] = False,
) -> None:
    """Run every stage (normalise, tags, filter, exact/near/semantic dedupe, split), write the datasets and the
    ledger, and check the rule packs' dataset expectations (validation.json)."""
    if demo == (config_path is not None):
        raise typer.BadParameter("give a CONFIG file or --demo (one of the two)")
    try:
        config = demo_config() if demo else load_config(config_path)
        result = run_curation(config, out, None if quiet else console)
    except CurationError as error:
        raise _fail(error) from None
    if not quiet:
        _print_summary(result)
    validation = result.summary["validation"]
    if validation["skipped"]:
        console.print(f"[yellow]{validation['skipped']} dataset expectations skipped[/]: they need columns this run "
                      f"did not make (see {result.output_dir / 'validation.json'})")
    if not validation["success"]:
        console.print(f"[yellow]{validation['failed']} of {validation['evaluated']} dataset expectations failed[/] "
                      f"(see {result.output_dir / 'validation.json'})")
        if strict or config.gate.strict:
            raise typer.Exit(EXIT_GATE_FAILED)


def _print_summary(result: RunResult) -> None:
    summary = result.summary
    table = Table(title=f"{summary['dataset']}: {summary['input_rows']} rows in {summary['seconds']:.2f} s")
    table.add_column("where rows ended")
    table.add_column("rows", justify="right")
    for status, count in summary["status"].items():
        table.add_row(status, str(count))
    console.print(table)
    rules = Table(title="rules and duplicates")
    for column in ("reason", "severity", "rows"):
        rules.add_column(column, justify="right" if column == "rows" else "left")
    # A reason's kind is where its rows ended: quarantined (a blocking rule) or duplicate (a dedupe stage).
    ended = (result.ledger_rows.filter(pl.col("status") != Status.ACCEPTED.value).explode("reasons")
             .group_by("reasons").agg(pl.col("status").first()))
    kinds = {reason: "duplicate" if status == Status.DUPLICATE.value else "block" for reason, status in ended.iter_rows()}
    for name, count in summary["reasons"].items():
        rules.add_row(name, kinds.get(name, "block"), str(count))
    for name, count in summary["warnings"].items():
        rules.add_row(name, "warn", str(count))
    console.print(rules)
    for dataset, splits in summary["outputs"].items():
        console.print(f"[green]{dataset}[/]: " + ", ".join(f"{split} {rows}" for split, rows in splits.items()))
    console.print(f"written to {result.output_dir} (ledger: ledger.json, ledger.parquet)")


@app.command()
def ingest(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="CSV, JSONL, parquet, a saved dataset folder or a Hub id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Canonical records as parquet.")],
    config_path: ConfigOption = None,
) -> None:
    """Read any supported input into canonical records (validates it; bad input exits 2)."""
    try:
        config = _config(config_path, input_path)
        check_output_file(out, config.read_paths())
        records = read_records(config.input)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        try:
            write_table(records, partial)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    except CurationError as error:
        raise _fail(error) from None
    console.print(f"{records.height} records -> {out}")


def _stage_command(stage_name: str):
    def command(
        input_path: Annotated[str, typer.Argument(metavar="INPUT", help="Output of the previous stage (parquet) or any input.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for kept.parquet, removed.parquet, stats.json.")],
        config_path: ConfigOption = None,
    ) -> None:
        try:
            config = _config(config_path, input_path)
            check_output_folder(out, config.read_paths())
            frame = _stage_input(config)
            result = run_pipeline(frame, Pipeline([build_stage(stage_name, config)]))
            with atomic_directory(out, config.read_paths()) as folder:
                write_table(result.accepted, folder / "kept.parquet")
                write_table(result.removed, folder / "removed.parquet")
                (folder / "stats.json").write_text(json.dumps(result.summary, indent=2, ensure_ascii=False),
                                                   encoding="utf-8")
        except CurationError as error:
            raise _fail(error) from None
        console.print(f"{stage_name}: {frame.height} in, {result.accepted.height} kept, {result.removed.height} removed -> {out}")

    command.__doc__ = f"Run only the {stage_name} stage: {STAGES[stage_name].description}"
    return command


def _stage_input(config: RunConfig) -> pl.DataFrame:
    """A previous stage's parquet as it is; anything else through the readers."""
    path = Path(config.input.path)
    if path.suffix == ".parquet" and path.is_file() and set(CANONICAL) <= set(pl.read_parquet_schema(path)):
        return pl.read_parquet(path)
    return read_records(config.input)


for _name in STAGES:
    app.command(name=_name.replace("_", "-"))(_stage_command(_name))


@app.command("rules")
def list_rules(config_path: ConfigOption = None) -> None:
    """List the filter rules and the rule packs' row rules and dataset expectations."""
    try:
        config = load_config(config_path) if config_path else None
        filters = config.filters if config else RunConfig.model_fields["filters"].default
        packs = load_packs(config.gate.packs if config else RunConfig.model_fields["gate"].default.packs)
    except CurationError as error:
        raise _fail(error) from None
    table = Table(title="row rules")
    for column in ("rule", "from", "severity", "reason"):
        table.add_column(column)
    for rule in default_rules(filters):
        table.add_row(rule.name, "built in", rule.severity, rule.reason)
    for pack in packs:
        for rule in pack.rules():
            table.add_row(rule.name, f"pack {pack.name}", rule.severity, rule.reason)
    expectations = Table(title="dataset expectations (great-expectations)")
    for column in ("expectation", "table", "arguments", "what it checks"):
        expectations.add_column(column)
    for pack in packs:
        for expectation in pack.expectations:
            expectations.add_row(expectation.expectation, expectation.table, json.dumps(expectation.kwargs, ensure_ascii=False),
                                 expectation.description or "")
    Console().print(table, expectations)


RunDir = Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A folder `curation run` wrote.")]
Target = Annotated[str, typer.Option("--target", help="Country target of the audit: uniform, spanish_speakers or a YAML file.")]


@app.command()
def report(
    run_dir: RunDir,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: the run folder).")] = None,
    target: Target = "uniform",
    cell_target: Annotated[int | None, typer.Option("--cell-target", help="Rows wanted per country x dimension cell.")] = None,
    gold: Annotated[Path | None, typer.Option("--gold", help="A gold set (folder or JSONL file): adds the evaluation against it "
                                              "(evaluation.json, evaluation.md and a section of the report).")] = None,
) -> None:
    """The curation report (report.html, self-contained; report.md), the bias-balance audit (bias_audit.json,
    bias_audit.md) and the dataset cards of the run's published datasets."""
    from curation.reports.evaluation import evaluate as evaluate_run, write_evaluation

    try:
        run = RunFolder.read(run_dir)
        if out is not None:
            claim_folder(out, [run_dir, *([gold] if gold else [])])
        evaluation = evaluate_run(run_dir, gold) if gold else None
        written, paths = write_report(run, out, target, cell_target, evaluation)
        if evaluation is not None:
            paths |= write_evaluation(evaluation, out or run_dir)
        cards = [_card(run, written.audited, kind, None, "apache-2.0", out) for kind in KINDS if run.published(kind)]
    except CurationError as error:
        raise _fail(error) from None
    for path in [*paths.values(), *cards]:
        console.print(f"wrote {path}")


GoldOption = Annotated[Path, typer.Option("--gold", help="The gold set: a folder (every *.jsonl joined on `row`) or one JSONL file.")]
TERMINAL_TABLES = ("Coverage", "Rule families", "Tags", "Dedupe (", "Dedupe: false merges", "Category")


@app.command()
def evaluate(
    run_dir: RunDir,
    gold: GoldOption,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: the run folder).")] = None,
    target_file: Annotated[str | None, typer.Option("--target-file", help="The input file the gold labels (default: the "
                                                    "*.csv its README.md names, else arena_v0_sample.csv).")] = None,
) -> None:
    """Measure the run's judgements against hand labels (curation/data/gold/README.md): rule families per side,
    tags (dimension, register, variety, language) with confusion matrices, dedupe per stage and the prompt
    category, as precision, recall and F1 with counts, on the rows the gold labels. Writes evaluation.json and
    evaluation.md."""
    from curation.reports.evaluation import evaluate as evaluate_run, evaluation_tables, headline, write_evaluation

    try:
        if out is not None:
            claim_folder(out, [run_dir, gold])
        evaluation = evaluate_run(run_dir, gold, target_file)
        paths = write_evaluation(evaluation, out or run_dir)
    except CurationError as error:
        raise _fail(error) from None
    terminal = Console()
    terminal.print(Text(headline(evaluation)))
    for problem in evaluation["gold_problems"]:
        console.print(Text(f"gold: {problem}", style="yellow"))
    for title, frame in evaluation_tables(evaluation).items():
        if title.startswith(TERMINAL_TABLES):
            terminal.print(_rich_table(title, frame))
    for path in paths.values():
        console.print(f"wrote {path}")


def _rich_table(title: str, frame: pl.DataFrame) -> Table:
    table = Table(title=Text(title))
    for name, dtype in frame.schema.items():
        table.add_column(Text(name.replace("flagged ", "").replace("blocked ", "blk ")), justify="right" if dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*(Text("–" if value is None else f"{value:.3f}" if isinstance(value, float) else
                             ", ".join(map(str, value)) if isinstance(value, list) else str(value)) for value in row))
    return table


@app.command()
def card(
    run_dir: RunDir,
    kind: Annotated[str, typer.Option("--kind", help="Which published dataset: dpo, kto or prompts.")] = "dpo",
    repo_id: Annotated[str | None, typer.Option("--repo-id", help="Hub name to publish under (checked against the naming convention).")] = None,
    license_id: Annotated[str, typer.Option("--license", help="Licence id for the card's metadata.")] = "apache-2.0",
    target: Target = "uniform",
) -> None:
    """The Hugging Face dataset card (README.md) of one published dataset; exits 1 if its name breaks the
    naming convention (prompts / dpo / kto / image)."""
    if kind not in KINDS:
        raise typer.BadParameter(f"--kind must be one of {sorted(KINDS)}")
    try:
        run = RunFolder.read(run_dir)
        path = _card(run, audit(run.accepted, target), kind, repo_id, license_id)
    except CurationError as error:
        raise _fail(error) from None
    console.print(f"wrote {path}")


def _card(run: RunFolder, audited: dict, kind: str, repo_id: str | None, license_id: str,
          out_dir: Path | None = None) -> Path:
    path, problem = write_card(run, audited, kind, repo_id, license_id, out_dir)
    if problem:
        console.print(f"[red]naming convention:[/] {problem}")
        raise typer.Exit(EXIT_GATE_FAILED)
    return path


app.command("train")(train_command)

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
    annotator account, until Ctrl-C. The accounts' keys are in <home>/accounts.env (readable by you only)."""
    from curation.review.server import LocalArgilla, ReviewServerError

    server = LocalArgilla(home.resolve(), port=port)
    try:
        server.start()
        console.print(f"Argilla is up at {server.api_url} (workspace curation). Users: owner, annotator; "
                      f"passwords and API keys in {home / 'accounts.env'}. Ctrl-C stops it.")
        while server.alive():
            time.sleep(1)
        raise ReviewServerError(f"the Argilla server (argilla-server or its redis-server) died; see {home / 'server.log'}")
    except KeyboardInterrupt:
        pass
    except CurationError as error:
        raise _fail(error) from None
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
) -> None:
    """Send the accepted rows (those that passed the gate) to an Argilla dataset; resumes an interrupted push."""
    from curation.review.push import connect, push

    try:
        client = connect(api_url, api_key)
        result = push(run_dir, client, _review_name(run_dir, dataset), workspace, overlap, seed, batch_size, update, console)
    except CurationError as error:
        raise _fail(error) from None
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
) -> None:
    """Read submitted responses, resolve annotators by majority, apply the decisions: RUN_DIR/reviewed/."""
    from curation.review.pull import pull
    from curation.review.push import connect

    try:
        result = pull(run_dir, connect(api_url, api_key), _review_name(run_dir, dataset), workspace)
    except CurationError as error:
        raise _fail(error) from None
    console.print(f"{result.reviewed} records reviewed; agreement {result.agreement}; written to {result.output_dir}")


@app.command()
def extend(
    run_dir: RunDir,
    config_path: Annotated[Path | None, typer.Option("--config", "-c", help="Extension YAML (see configs/extend.yaml).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: <run folder>_extension).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate tokens and USD, call nothing, write nothing.")] = False,
    budget: Annotated[float | None, typer.Option("--budget", help="Hard budget in USD (default: the config's, 500).")] = None,
    max_prompts: Annotated[int | None, typer.Option("--max-prompts", help="New prompts at most, largest gaps first.")] = None,
    cell_target: Annotated[int | None, typer.Option("--cell-target", help="Rows wanted per country x dimension cell.")] = None,
) -> None:
    """Extend a run's data with an LLM where the bias audit found gaps: new prompts (with modelo_gen and
    their template), two candidate answers, an LLM judge. Cohere v2 (COHERE_API_KEY, COHERE_BASE_URL) or
    an OpenAI-compatible server. Killed, it resumes from its call journal without paying twice; it stops
    cleanly at the budget. Then `curation run OUT/run.yaml` curates seed + generated rows together."""
    from curation.llms.journal import Journal
    from curation.pipelines.extend.config import ExtendConfig, load_extend_config
    from curation.pipelines.extend.estimate import estimate, gap_cover
    from curation.pipelines.extend.requests import prompt_requests
    from curation.pipelines.extend.run import JOURNAL, run_extension, write_outputs

    try:
        run = RunFolder.read(run_dir)
        config = load_extend_config(config_path)
        overrides = {"budget_usd": budget, "max_prompts": max_prompts, "cell_target": cell_target}
        config = validated(ExtendConfig, config.model_dump() | {key: value for key, value in overrides.items() if value is not None},
                           "extend options")
        requests = prompt_requests(run.accepted, config)
        out = out or run_dir.with_name(f"{run_dir.name}_extension")
        check_output_folder(out, [run_dir])
        if requests.is_empty():
            console.print("no country x dimension cell is below its target: nothing to generate")
            return
        _print_gap_cover(gap_cover(run.accepted, requests, config))
        costs = estimate(requests, config)
        spent = Journal.spent_in(out / JOURNAL) if (out / JOURNAL).is_file() else 0.0
        _print_estimate(costs, config.budget_usd, spent)
        if dry_run:
            return
        with console.status(f"generating {requests.height} prompts, their answers and verdicts"):
            extension = run_extension(config, requests, out)
        paths = write_outputs(extension, out, run_dir)
    except CurationError as error:
        raise _fail(error) from None
    _print_extension(extension.summary, paths)


@app.command()
def classify(
    run_dir: RunDir,
    config_path: Annotated[Path | None, typer.Option("--config", "-c", help="Classifier YAML (see configs/classify.yaml).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The verdicts (default: RUN_DIR/llm_classification.parquet); "
                                             "its call journal is kept beside it.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate tokens and USD, call nothing, write nothing.")] = False,
    budget: Annotated[float | None, typer.Option("--budget", help="Hard budget in USD (default: the config's, 50).")] = None,
) -> None:
    """An LLM names the validation category (trivial, stereotype, no_anchor, knowledge, preference, dynamics,
    bias_trap) and the cultural dimension of each distinct prompt of the run's accepted rows, from the guide's
    definitions, with a confidence and a rationale; `undetermined` when it is unsure or under the config's
    confidence floor. One call per distinct system prompt and prompt. Cohere v2 (COHERE_API_KEY,
    COHERE_BASE_URL) or an OpenAI-compatible server. Killed, it resumes from its call journal without paying
    twice; it stops cleanly at the budget. Writes llm_classification.parquet (id, llm_category, llm_dimension,
    llm_confidence, llm_rationale, llm_model): the review's suggestions."""
    from curation.llms.journal import Journal
    from curation.pipelines.classify.config import ClassifyConfig, load_classify_config
    from curation.pipelines.classify.requests import classification_requests
    from curation.pipelines.classify.run import (
        OUTPUT,
        estimate,
        journal_path,
        labelled,
        run_classification,
        write_labels,
    )

    try:
        run = RunFolder.read(run_dir)
        config = load_classify_config(config_path)
        if budget is not None:
            config = validated(ClassifyConfig, config.model_dump() | {"budget_usd": budget}, "classify options")
        out = out or run_dir / OUTPUT
        check_output_file(out, [run_dir / "accepted.parquet"])
        requests, links = classification_requests(run.accepted, run_dir / "accepted.parquet")
        if requests.is_empty():
            console.print("the run accepted no rows: nothing to classify")
            return
        journal = journal_path(out)
        _print_estimate(estimate(requests, config), config.budget_usd, Journal.spent_in(journal) if journal.is_file() else 0.0)
        if dry_run:
            return
        with console.status(f"classifying {requests.height} distinct prompts ({links.height} rows)"):
            classification = run_classification(config, requests, journal)
        if classification.failure is not None:
            raise classification.failure
        labels = labelled(links, classification.verdicts, config.confidence_floor)
        write_labels(labels, out)
    except CurationError as error:
        raise _fail(error) from None
    _print_classification(classification.summary, labels, out)


def _print_classification(summary: dict, labels: pl.DataFrame, out: Path) -> None:
    abstained = labels.filter(pl.col("llm_category") == "undetermined").height
    console.print(f"{summary['prompts']} distinct prompts: {summary['classified']} classified, {summary['failed']} failed "
                  f"(the call failed or the answer was not the verdict asked for), {summary['not_started']} not started"
                  + (f" ({summary['not_started_reason']})" if summary["not_started"] else ""))
    console.print(f"{labels.height} rows labelled, {abstained} undetermined; spent at most {summary['spent_usd']:,.4f} of "
                  f"{summary['budget_usd']:,.2f} USD in {summary['paid_calls']} paid calls ({summary['billed_usd']:,.4f} billed, "
                  f"{summary['unconfirmed_usd']:,.4f} at the worst cost of attempts that may have been billed without an answer)")
    if summary["failed"] or summary["not_started"]:
        console.print("rerun the same command (with a larger --budget if it stopped there): only the missing prompts are paid for")
    console.print(f"wrote {out}")


def _printed(value: object, share: bool = False) -> str:
    """A number as the terminal shows it: floats are USD (4 decimals) or, for a share, a percentage."""
    if isinstance(value, float):
        return f"{value:.1%}" if share else f"{value:,.4f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _frame_table(title: str, frame: pl.DataFrame, headers: dict[str, str] | None = None, shares: tuple[str, ...] = ()) -> Table:
    """A frame as a terminal table: text left, numbers right, formatted only here (the data keeps its numbers)."""
    table = Table(title=title)
    for name, dtype in frame.schema.items():
        table.add_column((headers or {}).get(name, name), justify="right" if dtype.is_numeric() else "left")
    for row in frame.iter_rows(named=True):
        table.add_row(*(_printed(value, name in shares) for name, value in row.items()))
    return table


GAP_HEADERS = {"rows": "rows today", "requested": "prompts requested", "covered": "gap covered"}


def _print_gap_cover(cells: pl.DataFrame) -> None:
    """The cells below target this run asks prompts for, how much of each gap, and what the run leaves."""
    from curation.pipelines.extend.estimate import with_cells_total

    filled, left = cells.filter(pl.col("requested") > 0), cells.filter(pl.col("requested") == 0)
    console.print(_frame_table("country x dimension cells below target that this run fills", with_cells_total(filled),
                               GAP_HEADERS, ("covered",)))
    gap, requested = cells.get_column("gap").sum(), filled.get_column("requested").sum()
    console.print(f"{requested:,} prompts requested for {filled.height} of the {cells.height} cells below target: "
                  f"{requested / gap:.1%} of their {gap:,} missing rows, if every prompt becomes an accepted row.")
    if left.height:
        console.print(f"The other {left.height} cells ({left.get_column('gap').sum():,} rows) get none this run: "
                      "--max-prompts, the config's countries and rows of unknown country decide which.")


def _print_estimate(costs: pl.DataFrame, budget: float, spent: float) -> None:
    console.print(_frame_table("estimate (upper bound: every answer at its max_tokens)", costs))
    total = costs.get_column("usd")[-1]
    left = budget - spent
    verdict = "fits" if total <= left else "does not fit: the run stops cleanly when the budget is reached"
    console.print(f"budget {budget:,.2f} USD, spent so far at most {spent:,.4f} USD, left {left:,.4f} USD: the estimate {verdict}")


def _print_extension(summary: dict, paths: dict[str, Path]) -> None:
    console.print(f"{summary['requested']} requested: {summary['generated']} generated "
                  f"({', '.join(f'{name} {count}' for name, count in summary['preferences'].items())}), "
                  f"{summary['failed']} failed {summary['failed_by_step'] or ''}")
    console.print(f"spent at most {summary['spent_usd']:,.4f} of {summary['budget_usd']:,.2f} USD in {summary['paid_calls']} paid calls"
                  f" ({summary['billed_usd']:,.4f} billed, {summary['unconfirmed_usd']:,.4f} at the worst cost of attempts"
                  " that may have been billed without an answer)"
                  + (f"; {summary['usd_per_generated_pair']:,.4f} USD per generated pair" if summary["usd_per_generated_pair"] else ""))
    for path in paths.values():
        console.print(f"wrote {path}")
    if "run_config" in paths:
        console.print(f"next: curation run {paths['run_config']}  (filters, dedupe against the seed, tagging, the gate)")


def main() -> None:
    """The `curation` command: an unexpected exception (a bug, not bad input) is one line and a log file."""
    try:
        app(prog_name="curation")
    except Exception as error:  # noqa: BLE001 (every exception the commands did not turn into a message)
        log = crash_log()
        console.print(Text(f"internal error: {type(error).__name__}: {error}", style="bold red"), highlight=False,
                      soft_wrap=True)
        console.print(f"this is a bug in curation, not in your data; the details are in {log}", highlight=False)
        raise SystemExit(EXIT_INTERNAL_ERROR) from None


def crash_log() -> Path:
    """The current exception's traceback, written to a new file under the cache folder's logs/."""
    folder = Path(os.environ.get("CURATION_CACHE") or Path.home() / ".cache" / "curation") / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log.write_text(traceback.format_exc(), encoding="utf-8")
    return log


if __name__ == "__main__":
    main()
