"""The results store on PostgreSQL (``store=postgresql://user:password@host/db``), for a team sharing one database:
the same interface as the SQLite store, versioned schema migrations, and a unique key on every column that makes a
result, so that writers on many machines insert concurrently (``ON CONFLICT DO NOTHING``) and re-sending a result
never duplicates it. Needs psycopg (``pip install "psycopg[binary]"``)."""

from __future__ import annotations

from dataclasses import fields

from vssl.core.errors import OutputError, VsslError
from vssl.results.store import Result, ResultStore

COLUMNS = tuple(f.name for f in fields(Result))
KEY = ("run_id", "encoder", "protocol", "dataset", "split", "label", "metric", "seed", "config_hash", "rule",
       "encoder_sha256")
# (version, statements): applied in order, each once, recorded in vssl_schema
MIGRATIONS = (
    (1, ["""CREATE TABLE IF NOT EXISTS results (
            id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, encoder TEXT NOT NULL, protocol TEXT NOT NULL,
            dataset TEXT NOT NULL, split TEXT NOT NULL, label TEXT NOT NULL, metric TEXT NOT NULL,
            value DOUBLE PRECISION NOT NULL, seed INTEGER NOT NULL, config_hash TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL, encoder_sha256 TEXT NOT NULL DEFAULT '', n_videos INTEGER,
            n_skipped INTEGER, rule TEXT NOT NULL DEFAULT '')""",
         f"CREATE UNIQUE INDEX IF NOT EXISTS results_identity ON results ({', '.join(KEY)})"]),
)


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise VsslError('store=postgresql://...: install psycopg first (pip install "psycopg[binary]")') from None
    return psycopg


class PostgresResultStore(ResultStore):
    """A results store in a PostgreSQL database; ``create`` as the SQLite store's (readers migrate nothing)."""

    def __init__(self, url: str, create: bool = True):
        self.url, self.path = url, url
        self._psycopg = _psycopg()
        with self._connect() as db:
            if create:
                self._migrate(db)
            elif db.execute("SELECT to_regclass('results')").fetchone()[0] is None:
                raise VsslError(f"{self.display()}: not a vssl results store (no 'results' table)")

    def display(self) -> str:
        """The URL without its password, for messages."""
        scheme, _, rest = self.url.partition("://")
        credentials, at, host = rest.rpartition("@")
        return f"{scheme}://{credentials.split(':')[0]}{at}{host}" if at else self.url

    def _connect(self):
        try:
            return self._psycopg.connect(self.url)
        except self._psycopg.Error as e:
            raise OutputError(f"results store {self.display()}: {str(e).strip().splitlines()[0]}") from None

    def _migrate(self, db) -> None:
        with db.transaction():
            db.execute("CREATE TABLE IF NOT EXISTS vssl_schema (version INTEGER PRIMARY KEY)")
            db.execute("LOCK TABLE vssl_schema IN EXCLUSIVE MODE")  # one migrating writer at a time
            done = {row[0] for row in db.execute("SELECT version FROM vssl_schema")}
            for version, statements in MIGRATIONS:
                if version not in done:
                    for statement in statements:
                        db.execute(statement)
                    db.execute("INSERT INTO vssl_schema (version) VALUES (%s)", (version,))

    def schema_version(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT max(version) FROM vssl_schema").fetchone()[0] or 0

    @classmethod
    def check_writable(cls, url: str) -> None:
        cls(url)

    def add(self, results: list[Result]) -> None:
        """Insert in one transaction; a result the database already holds (same key) is left as it is."""
        import time

        now = time.time()
        rows = [tuple(getattr(r, c) if c != "created" else (r.created or now) for c in COLUMNS) for r in results]
        columns = ", ".join(COLUMNS)
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        with self._connect() as db, db.transaction(), db.cursor() as cursor:
            cursor.executemany(f"INSERT INTO results ({columns}) VALUES ({placeholders}) "
                               f"ON CONFLICT ({', '.join(KEY)}) DO NOTHING", rows)

    def query(self, **filters) -> list[Result]:
        bad = [k for k in filters if k not in COLUMNS]
        if bad:
            raise ValueError(f"unknown results column '{bad[0]}'")
        where = " AND ".join(f"{k} = %s" for k in filters)
        sql = f"SELECT {', '.join(COLUMNS)} FROM results" + (f" WHERE {where}" if where else "") + " ORDER BY id"
        with self._connect() as db:
            return [Result(*row) for row in db.execute(sql, list(filters.values()))]
