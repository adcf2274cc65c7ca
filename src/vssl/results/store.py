"""SQLite results store: one row per (run, encoder, protocol, dataset, split, metric, seed) value.

Safe under concurrent writers: every write is one short transaction in WAL mode with a generous busy
timeout, so two evaluations writing at once both land. Each row names its encoder twice: a readable name and
``encoder_sha256``, the checkpoint's SHA-256 (see ``vssl.app.evaluate.encoder_sha256``), so two checkpoints that
share a name stay apart. ``n_videos`` counts the test videos a value was computed on, ``n_skipped`` the
videos the evaluation skipped as unreadable, and ``rule`` names the protocol settings that decide the value (the
kNN's k and vote), so that values computed under different rules are never averaged together. A store written
before these columns existed is migrated in place when opened for writing (its rows get an empty hash and rule and
unknown counts); reading never changes or creates a file.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from vssl.core.errors import OutputError, VsslError

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
    created REAL NOT NULL,
    encoder_sha256 TEXT NOT NULL DEFAULT '',
    n_videos INTEGER,
    n_skipped INTEGER,
    rule TEXT NOT NULL DEFAULT ''
)
"""
# columns added after the first schema: (name, SQL type and default); older stores gain them on the first write
ADDED_COLUMNS = (("encoder_sha256", "TEXT NOT NULL DEFAULT ''"), ("n_videos", "INTEGER"), ("n_skipped", "INTEGER"),
                 ("rule", "TEXT NOT NULL DEFAULT ''"))
ADDED_DEFAULTS = {"encoder_sha256": "''", "n_videos": "NULL", "n_skipped": "NULL", "rule": "''"}


def is_database_url(location) -> bool:
    """Whether a store location is a PostgreSQL URL rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def local_folder(location) -> Path:
    """Where files that belong with a store go (feature cache, CKA maps): the SQLite file's folder, or ``runs``
    for a database URL."""
    return Path("runs") if is_database_url(location) else Path(location).parent


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
    encoder_sha256: str = ""  # the checkpoint's SHA-256 ("" in rows stored before it was recorded)
    n_videos: int | None = None  # test videos the value was computed on (None: not recorded)
    n_skipped: int | None = None  # videos the evaluation skipped as unreadable (None: not recorded)
    rule: str = ""  # the protocol settings that decide the value, e.g. the kNN vote ("" where none or not recorded)


class ResultStore:
    """Append-only results table in a SQLite file. ``create=True`` (for writers) creates the file and its folder
    and migrates an older schema; ``create=False`` (for readers) requires an existing store and changes nothing.
    Every problem with the file is a one-line VsslError naming it."""

    def __new__(cls, path: str | Path = "", create: bool = True):
        """A ``postgresql://`` URL opens the PostgreSQL store (:mod:`vssl.results.postgres`), anything else SQLite."""
        if cls is ResultStore and is_database_url(path):
            from vssl.results.postgres import PostgresResultStore

            return super().__new__(PostgresResultStore)
        return super().__new__(cls)

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if not create:
            if not self.path.is_file():
                raise VsslError(f"no results store at {self.path}")
            with self._open() as db:
                if db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='results'").fetchone() \
                        is None:
                    raise VsslError(f"{self.path}: not a vssl results store (no 'results' table)")
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create results store {self.path}: {e.strerror or e}") from None
        with self._open() as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
            self._migrate(db)

    @classmethod
    def check_writable(cls, path: str | Path) -> None:
        """Fail now, in one line, where a store cannot be written at ``path`` (a file that is not a SQLite
        database, a folder that cannot be made or written); creates the folder at most, never the store. A
        PostgreSQL URL is checked by connecting (and creating its tables)."""
        if is_database_url(path):
            ResultStore(path)
            return
        store = object.__new__(cls)
        store.path = Path(path)
        if store.path.exists():
            with store._open() as db:
                db.execute("SELECT name FROM sqlite_master").fetchall()
            return
        try:
            store.path.parent.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=store.path.parent).close()
        except OSError as e:
            raise OutputError(f"cannot create results store {store.path}: {e.strerror or e}") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60.0)

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        """A connection, closed afterwards; SQLite's errors become one line naming the file."""
        try:
            with closing(self._connect()) as db:
                yield db
        except sqlite3.DatabaseError as e:
            reason = str(e)
            if "not a database" in reason:
                raise VsslError(f"{self.path}: not a SQLite results store ({reason})") from None
            raise OutputError(f"results store {self.path}: {reason}") from None

    def _columns(self, db: sqlite3.Connection) -> set[str]:
        return {row[1] for row in db.execute("PRAGMA table_info(results)")}

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Add the columns a store written by an older vssl lacks; existing rows keep every value."""
        present = self._columns(db)
        for name, sql_type in ADDED_COLUMNS:
            if name not in present:
                try:
                    db.execute(f"ALTER TABLE results ADD COLUMN {name} {sql_type}")
                except sqlite3.OperationalError as e:  # another writer migrated it first
                    if "duplicate column" not in str(e):
                        raise

    def add(self, results: list[Result]) -> None:
        """Insert results in one transaction (all or nothing)."""
        now = time.time()
        rows = [(r.run_id, r.encoder, r.protocol, r.dataset, r.split, r.label, r.metric, float(r.value),
                 int(r.seed), r.config_hash, r.created or now, r.encoder_sha256, r.n_videos, r.n_skipped, r.rule)
                for r in results]
        with self._open() as db, db:
            db.executemany(
                "INSERT INTO results (run_id, encoder, protocol, dataset, split, label, metric, value, seed,"
                " config_hash, created, encoder_sha256, n_videos, n_skipped, rule) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows)

    def query(self, **filters) -> list[Result]:
        """Rows matching equality filters on any column, oldest first."""
        columns = [f for f in Result.__dataclass_fields__]
        bad = [k for k in filters if k not in columns]
        if bad:
            raise ValueError(f"unknown results column '{bad[0]}'")
        with self._open() as db:
            present = self._columns(db)  # a store not yet migrated reads with the added columns' defaults
            missing = [k for k in filters if k not in present]
            if missing:  # e.g. encoder_sha256 of an old store: only the default can match
                values = {k: {"''": "", "NULL": None}[ADDED_DEFAULTS[k]] for k in missing}
                if any(filters[k] != values[k] for k in missing):
                    return []
                filters = {k: v for k, v in filters.items() if k in present}
            where = " AND ".join(f"{k} = ?" for k in filters)
            selected = ", ".join(c if c in present else f"{ADDED_DEFAULTS[c]} AS {c}" for c in columns)
            sql = f"SELECT {selected} FROM results" + (f" WHERE {where}" if where else "") + " ORDER BY id"
            return [Result(*row) for row in db.execute(sql, list(filters.values()))]
