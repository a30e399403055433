"""The `curation` command line: a thin layer that parses, calls the layer below (run, review, train, reports,
the extend and classify pipelines) and prints. `common` holds the app, the console and the exit codes; each
other module holds one group of commands, and importing it registers them."""

from curation.cli.common import EXIT_BAD_INPUT, EXIT_GATE_FAILED, EXIT_INTERNAL_ERROR, app, internal_error

# The order of registration is the order of `curation --help`: keep it, and keep isort from sorting it.
# isort: off
from curation.cli import curate, reports, decide, train, review, llm, publish  # noqa: F401
# isort: on

__all__ = ["EXIT_BAD_INPUT", "EXIT_GATE_FAILED", "EXIT_INTERNAL_ERROR", "app", "main"]


def main() -> None:
    """The `curation` command: an unexpected exception (a bug, not bad input) is one line and a log file."""
    try:
        app(prog_name="curation")
    except Exception as error:  # noqa: BLE001 (every exception the commands did not turn into a message)
        raise internal_error(error) from None
