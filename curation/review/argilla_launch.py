"""Start argilla-server's own CLI with the SQL search engine registered. Run with the argilla-server
environment's Python: `python argilla_launch.py start | database migrate | database users create ...`."""

import os
import sys

# Set before argilla_server is imported: importing it builds the app and reads the settings.
os.environ.setdefault("ARGILLA_SEARCH_ENGINE", "sql")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argilla_sql_engine  # noqa: E402,F401  (registers the "sql" engine)
from argilla_server.cli import app  # noqa: E402

app()
