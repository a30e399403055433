"""The curating commands: `curation run`, `ingest`, one command per stage, and `rules`. The stage registry loads
with them (each stage is a command); the engine loads only when one of them runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from curation.cli.common import EXIT_GATE_FAILED, app, console, fail
from curation.config import RunConfig, demo_config, load_config, validated
from curation.demo.images import images_demo_config
from curation.errors import CurationError
from curation.pipelines import STAGES
from curation.rules import default_rules
from curation.rules.pack import load_packs
from curation.stage import Stage

if TYPE_CHECKING:
    from curation.run import RunResult

DEMOS = {"arena": demo_config, "images": images_demo_config}
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (defaults apply without one).")]


@app.command()
def run(
    config_path: Annotated[Path | None, typer.Argument(metavar="CONFIG", help="The run's YAML config (with --demo: "
                                                     "which demo, arena or images).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Run on the embedded demo data: no network, keys or servers. "
                                                      "`--demo images`: the drawn image + caption demo.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: out/<name>).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summary.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when a dataset expectation fails (gate.strict).")] = False,
    engine: Annotated[str | None, typer.Option("--engine", help="local (default) or ray: the same run on a Ray cluster "
                                                                "(needs the [ray] extra; config `engine:`).")] = None,
    address: Annotated[str | None, typer.Option("--address", help="With --engine ray: the cluster to join (auto, "
                                                                  "ray://HOST:PORT); default a small local Ray.")] = None,
) -> None:
    """Run every stage (normalise, tags, filter, exact/near/semantic dedupe, split), write the datasets and the
    ledger, and check the rule packs' dataset expectations (validation.json)."""
    from curation.run import run as run_curation

    if not demo and config_path is None:
        raise typer.BadParameter("give a CONFIG file or --demo (one of the two)")
    if demo and str(config_path or "arena") not in DEMOS:
        raise typer.BadParameter(f"--demo takes {' or '.join(DEMOS)} (nothing: arena), not a CONFIG file")
    try:
        config = DEMOS[str(config_path or "arena")]() if demo else load_config(config_path)
        config = engine_options(config, engine, address)
        result = run_curation(config, out, None if quiet else console)
    except CurationError as error:
        raise fail(error) from None
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


def engine_options(config: RunConfig, engine: str | None, address: str | None) -> RunConfig:
    """The config with --engine and --address applied (checked as the config's own settings are)."""
    settings = {key: value for key, value in (("engine", engine), ("address", address)) if value is not None}
    if not settings:
        return config
    updated = validated(RunConfig, config.model_dump() | settings, "--engine/--address")
    updated._source = config._source
    return updated


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
    kinds = result.reason_kinds()
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
    from curation.steps import ingest as ingest_records, step_config

    try:
        rows = ingest_records(step_config(config_path, input_path), out)
    except CurationError as error:
        raise fail(error) from None
    console.print(f"{rows} records -> {out}")


def _stage_command(stage: type[Stage]):
    def command(
        input_path: Annotated[str, typer.Argument(metavar="INPUT", help="Output of the previous stage (parquet) or any input.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for kept.parquet, removed.parquet, stats.json.")],
        config_path: ConfigOption = None,
    ) -> None:
        from curation.steps import run_step, step_config

        try:
            counts = run_step(stage, step_config(config_path, input_path), out)
        except CurationError as error:
            raise fail(error) from None
        console.print(f"{stage.name}: {counts.rows_in} in, {counts.kept} kept, {counts.removed} removed -> {out}")

    command.__doc__ = f"Run only the {stage.name} stage: {stage.description}"
    return command


for _stage in STAGES:
    app.command(name=_stage.name.replace("_", "-"))(_stage_command(_stage))


@app.command("rules")
def list_rules(config_path: ConfigOption = None) -> None:
    """List the filter rules (the image rules of image runs too) and the rule packs' row rules and dataset
    expectations."""
    from curation.config import ImagesConfig
    from curation.pipelines.image_pipeline import image_rules, text_filters
    from curation.rules import image_checks

    try:
        config = load_config(config_path) if config_path else None
        filters = text_filters(config) if config else RunConfig.model_fields["filters"].default
        packs = load_packs(config.gate.packs if config else RunConfig.model_fields["gate"].default.packs)
    except CurationError as error:
        raise fail(error) from None
    table = Table(title="row rules")
    for column in ("rule", "from", "severity", "reason"):
        table.add_column(column)
    for rule in default_rules(filters):
        table.add_row(rule.name, "built in", rule.severity, rule.reason)
    for rule in image_rules(config) if config and config.images else image_checks.rules(ImagesConfig()):
        table.add_row(rule.name, "built in, image runs", rule.severity, rule.reason)
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
