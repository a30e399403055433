"""The call journal: every paid call that finished, by the hash of its request, with its answer and
its cost. A run killed at any moment (kill -9) resumes from it without paying twice; the budget is the
journal's spend plus the worst cost of the calls in flight (reserved), checked before each attempt.

The spend has two parts. `usd` is what the API's answers said they billed. `unconfirmed` is the worst
cost of attempts that reached the server and may have been billed with no answer to say so: a timeout,
a body cut short, an answer without usage, a call in flight when a run was killed. The budget holds
their sum, so it stays a hard limit on what the API can bill.

SQLite in WAL mode: distilabel runs each step in its own process, and all of them share one journal.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
from collections import Counter
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
            # The running spend, kept beside the calls: the budget reads it before every attempt.
            # Reservations live here too, so steps in different processes share one budget.
            db.execute("CREATE TABLE IF NOT EXISTS spend (one INTEGER PRIMARY KEY CHECK (one = 1), usd REAL, reserved REAL, "
                       "unconfirmed REAL NOT NULL DEFAULT 0)")
            db.execute("INSERT OR IGNORE INTO spend (one, usd, reserved) VALUES (1, (SELECT COALESCE(SUM(usd), 0) FROM calls), 0)")
            if "unconfirmed" not in {column[1] for column in db.execute("PRAGMA table_info(spend)")}:  # a journal of an older run
                db.execute("ALTER TABLE spend ADD COLUMN unconfirmed REAL NOT NULL DEFAULT 0")
            # Failed attempts by kind ("401 Unauthorized", "timeout"...): what a run that got nothing names.
            db.execute("CREATE TABLE IF NOT EXISTS failures (kind TEXT PRIMARY KEY, attempts INTEGER)")

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
               reserved: float = 0.0, unconfirmed: float = 0.0) -> None:
        """Committed before the answer is used: a kill right after this loses nothing paid for. `unconfirmed`:
        the worst cost of an answer that came without its billed usage."""
        db = self._connection()
        with db:  # one transaction: the call, the spend it adds, and the reservation it ends
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?)", (key, model, text, input_tokens, output_tokens, usd))
            # Counted even when the same request was answered twice at once: the API billed both.
            db.execute("UPDATE spend SET usd = usd + ?, unconfirmed = unconfirmed + ?, reserved = MAX(0, reserved - ?)",
                       (usd, unconfirmed, reserved))

    def fail(self, kind: str, reserved: float, unconfirmed: float) -> None:
        """A failed attempt ends its reservation; its worst cost stays spent when the API may have billed it."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE spend SET unconfirmed = unconfirmed + ?, reserved = MAX(0, reserved - ?)", (unconfirmed, reserved))
            db.execute("INSERT INTO failures VALUES (?, 1) ON CONFLICT (kind) DO UPDATE SET attempts = attempts + 1", (kind,))

    def reserve(self, usd: float, budget: float | None) -> bool:
        """Hold an attempt's worst cost if everything spent, unconfirmed and reserved, plus it, stays within the budget."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            return db.execute("UPDATE spend SET reserved = reserved + ? WHERE usd + unconfirmed + reserved + ? <= ?",
                              (usd, usd, math.inf if budget is None else budget)).rowcount == 1

    def settle_reservations(self) -> None:
        """At the start of a run: a killed run's calls in flight will never be recorded, but the API may
        have billed them, so their worst cost counts as unconfirmed spend (the budget stays a hard limit)."""
        self._connection().execute("UPDATE spend SET unconfirmed = unconfirmed + reserved, reserved = 0")

    @staticmethod
    def spent_in(path: Path) -> float:
        """The spend of an existing journal, read without writing to it (for --dry-run)."""
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            # Every column but the key: usd, reserved, and unconfirmed (absent from an older run's journal).
            return sum(db.execute("SELECT * FROM spend").fetchone()[1:])

    def spending(self) -> tuple[float, float]:
        """(billed, unconfirmed): what the answers said they billed, and the worst cost of the attempts
        that may have been billed with no answer to say so, calls still in flight included."""
        return self._connection().execute("SELECT usd, unconfirmed + reserved FROM spend").fetchone()

    def spent(self) -> float:
        """The spend's upper bound: what the budget holds."""
        return sum(self.spending())

    def calls(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def failures(self) -> Counter[str]:
        return Counter(dict(self._connection().execute("SELECT kind, attempts FROM failures")))
