"""The call journal: every paid call that finished, by the hash of its request, with its answer and
its cost. A run killed at any moment (kill -9) resumes from it without paying twice; the budget is the
journal's spend plus the worst cost of the calls in flight (reserved), checked before each call.

SQLite in WAL mode: distilabel runs each step in its own process, and all of them share one journal.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path


def request_key(model: str, messages: list[dict], options: dict) -> str:
    """The same request (model, messages, options) always has the same key."""
    canonical = json.dumps({"model": model, "messages": messages, "options": options}, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT, text TEXT, "
                       "input_tokens INTEGER, output_tokens INTEGER, usd REAL)")
            # The running spend, kept beside the calls: the budget reads it before every call.
            # Reservations live here too, so steps in different processes share one budget.
            db.execute("CREATE TABLE IF NOT EXISTS spend (one INTEGER PRIMARY KEY CHECK (one = 1), usd REAL, reserved REAL)")
            db.execute("INSERT OR IGNORE INTO spend VALUES (1, (SELECT COALESCE(SUM(usd), 0) FROM calls), 0)")

    def _connection(self) -> sqlite3.Connection:
        if getattr(self._local, "db", None) is None:
            self._local.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            # WAL + NORMAL: a commit survives the process being killed (-9) without an fsync per call;
            # only a power cut can lose the last few calls, which are then paid again, never lost as rows.
            self._local.db.execute("PRAGMA synchronous=NORMAL")
        return self._local.db

    def get(self, key: str) -> tuple[str, int, int] | None:
        row = self._connection().execute("SELECT text, input_tokens, output_tokens FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def record(self, key: str, model: str, text: str, input_tokens: int, output_tokens: int, usd: float,
               reserved: float = 0.0) -> None:
        """Committed before the answer is used: a kill right after this loses nothing paid for."""
        db = self._connection()
        with db:  # one transaction: the call, the spend it adds, and the reservation it ends
            db.execute("BEGIN IMMEDIATE")
            added = db.execute("INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?)",
                               (key, model, text, input_tokens, output_tokens, usd)).rowcount
            db.execute("UPDATE spend SET usd = usd + ?, reserved = MAX(0, reserved - ?)", (usd if added else 0.0, reserved))

    def reserve(self, usd: float, budget: float) -> bool:
        """Hold a call's worst cost if spend + reservations + it stay within the budget."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            return db.execute("UPDATE spend SET reserved = reserved + ? WHERE usd + reserved + ? <= ?",
                              (usd, usd, budget)).rowcount == 1

    def release(self, usd: float) -> None:
        self._connection().execute("UPDATE spend SET reserved = MAX(0, reserved - ?)", (usd,))

    def settle_reservations(self) -> None:
        """At the start of a run: a killed run's calls in flight will never be recorded, but the API may
        have billed them, so their worst cost counts as spent (the budget stays a hard limit)."""
        self._connection().execute("UPDATE spend SET usd = usd + reserved, reserved = 0")

    @staticmethod
    def spent_in(path: Path) -> float:
        """The spend of an existing journal, read without writing to it (for --dry-run)."""
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            usd, reserved = db.execute("SELECT usd, reserved FROM spend").fetchone()
        return usd + reserved

    def spent(self) -> float:
        return self._connection().execute("SELECT usd FROM spend").fetchone()[0]

    def calls(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM calls").fetchone()[0]
