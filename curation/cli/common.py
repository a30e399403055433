"""What every command module shares: the Typer app, the stderr console, the exit codes, the error line and the
crash log."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from curation.errors import CurationError
from curation.extras import require

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

RunDir = Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A folder `curation run` wrote.")]


def fail(error: CurationError) -> typer.Exit:
    """Bad input as one line on stderr, and the exit that says so."""
    # Text, not markup: file labels like "saved[test]" must print as they are.
    console.print(Text("error: ", style="bold red") + Text(str(error)), highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def needs(extra: str) -> None:
    """A command's first line: exit 2 with the pip command when its optional extra is not installed, before
    anything imports it."""
    try:
        require(extra)
    except CurationError as error:
        raise fail(error) from None


def internal_error(error: Exception) -> SystemExit:
    """A bug, not bad input: one line on stderr, the traceback in a log file, and the exit that says so."""
    log = crash_log()
    console.print(Text(f"internal error: {type(error).__name__}: {error}", style="bold red"), highlight=False,
                  soft_wrap=True)
    console.print(f"this is a bug in curation, not in your data; the details are in {log}", highlight=False)
    return SystemExit(EXIT_INTERNAL_ERROR)


def crash_log() -> Path:
    """The current exception's traceback, written to a new file under the cache folder's logs/."""
    folder = Path(os.environ.get("CURATION_CACHE") or Path.home() / ".cache" / "curation") / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log.write_text(traceback.format_exc(), encoding="utf-8")
    return log
