"""Start argilla-server's own CLI with the SQL search engine registered and two fixes for bulk pushes
(below). Run with the argilla-server environment's Python:
`python argilla_launch.py start | database migrate | database users create ...`.

A password and an API key come in the environment (ARGILLA_LAUNCH_PASSWORD, ARGILLA_LAUNCH_API_KEY),
readable by this user only, and reach the CLI as options inside this process: the command line, which
`ps` shows to every user (/proc/<pid>/cmdline, the original argv), never holds them."""

import os
import sys


def _hidden_options() -> list[str]:
    """Taken out of the environment, before argilla_server reads it, and so its children never inherit them."""
    return [item for option, variable in (("--password", "ARGILLA_LAUNCH_PASSWORD"), ("--api-key", "ARGILLA_LAUNCH_API_KEY"))
            if variable in os.environ for item in (option, os.environ.pop(variable))]


HIDDEN_OPTIONS = _hidden_options()

# Set before argilla_server is imported: importing it builds the app and reads the settings.
os.environ.setdefault("ARGILLA_SEARCH_ENGINE", "sql")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argilla_sql_engine  # noqa: E402,F401  (registers the "sql" engine)
from argilla_server.bulk import records_bulk  # noqa: E402
from argilla_server.cli import app  # noqa: E402
from argilla_server.contexts import webhooks  # noqa: E402
from argilla_server.models import database  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

_notify_record_event = records_bulk.notify_record_event_v1


async def _notify_when_someone_listens(db, record_event, record):
    """argilla-server 2.8 builds every logged record's webhook event (the dataset with five relations
    loaded, the record serialised) before it looks for a webhook to send it to: most of a bulk push's
    time on SQLite. With no webhook enabled, there is nothing to build."""
    if not await webhooks.list_enabled_webhooks(db):
        return []
    return await _notify_record_event(db, record_event, record)


records_bulk.notify_record_event_v1 = _notify_when_someone_listens

_adapters: dict[int, tuple[object, TypeAdapter]] = {}


def _type_adapter(kind):
    """argilla-server 2.8 builds a pydantic TypeAdapter (a whole schema build) for every question and
    metadata property of every record it validates; one per settings type is enough."""
    if id(kind) not in _adapters:
        _adapters[id(kind)] = (kind, TypeAdapter(kind))
    return _adapters[id(kind)][1]


database.TypeAdapter = _type_adapter

app(args=[*sys.argv[1:], *HIDDEN_OPTIONS])
