"""SQLite results store: one row per (run, encoder, protocol, dataset, split, metric, seed) value.

Safe under concurrent writers: every write is one short transaction in WAL mode with a generous busy
timeout, so two evaluations writing at once both land.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    encoder TEXT NOT NULL,
    protocol TEXT NOT NULL,
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    label TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    seed INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass
class Result:
    run_id: str
    encoder: str
    protocol: str
    dataset: str
    split: str
    label: str
    metric: str
    value: float
    seed: int
    config_hash: str
    created: float = 0.0


class ResultStore:
    """Append-only results table in a SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60.0)

    def add(self, results: list[Result]) -> None:
        """Insert results in one transaction (all or nothing)."""
        now = time.time()
        rows = [(r.run_id, r.encoder, r.protocol, r.dataset, r.split, r.label, r.metric, float(r.value),
                 int(r.seed), r.config_hash, r.created or now) for r in results]
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT INTO results (run_id, encoder, protocol, dataset, split, label, metric, value, seed,"
                " config_hash, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    def query(self, **filters) -> list[Result]:
        """Rows matching equality filters on any column, oldest first."""
        columns = [f for f in Result.__dataclass_fields__]
        bad = [k for k in filters if k not in columns]
        if bad:
            raise ValueError(f"unknown results column '{bad[0]}'")
        where = " AND ".join(f"{k} = ?" for k in filters)
        sql = f"SELECT {', '.join(columns)} FROM results" + (f" WHERE {where}" if where else "") + " ORDER BY id"
        with closing(self._connect()) as db:
            return [Result(*row) for row in db.execute(sql, list(filters.values()))]
