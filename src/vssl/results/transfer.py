"""Move results between stores: export a store to JSON Lines (one result per line, every column), import a file
into another store without duplicating what it already holds (a result is the same when every column but the
row id agrees), so imports can be repeated and merged from many machines."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.core.io import write_text_atomic
from vssl.results.store import Result, ResultStore

COLUMNS = tuple(f.name for f in fields(Result))


def export_results(store: str | Path, path: str | Path) -> int:
    """Write every result of ``store`` to ``path`` (JSON Lines, atomically); → the number written."""
    results = ResultStore(store, create=False).query()
    write_text_atomic(path, "".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in results))
    return len(results)


def read_results(path: str | Path) -> list[Result]:
    """The results of a JSON Lines export; a bad line is a one-line error naming the file and line."""
    results = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            results.append(Result(**{k: entry[k] for k in COLUMNS if k in entry}))
        except (json.JSONDecodeError, TypeError) as e:
            raise VsslError(f"{path}:{number}: not a vssl result ({e})") from None
    return results


def import_results(path: str | Path, store: str | Path) -> tuple[int, int]:
    """Add the results of ``path`` that ``store`` does not hold yet (in one transaction); → (added, already there)."""
    target = ResultStore(store)
    held = {tuple(asdict(r).values()) for r in target.query()}
    incoming = read_results(path)
    new, seen = [], set()
    for r in incoming:
        key = tuple(asdict(r).values())
        if key not in held and key not in seen:
            new.append(r)
            seen.add(key)
    target.add(new)
    return len(new), len(incoming) - len(new)
