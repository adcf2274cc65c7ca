"""Results: the store, aggregation over seeds and reports; the API's ``load``, ``summarise`` and ``comparison_table``."""

from __future__ import annotations

from pathlib import Path

from vssl.core.errors import VsslError
from vssl.results.report import SummaryRow, comparison_table, summarise
from vssl.results.store import Result, ResultStore

__all__ = ["Result", "ResultStore", "SummaryRow", "comparison_table", "load", "summarise"]


def load(path: str | Path = "runs/results.sqlite", **filters) -> list[Result]:
    """Every result stored in ``path`` (oldest first), optionally only those whose columns equal ``filters``
    (encoder, protocol, dataset, split, label, metric, seed, run_id, ...)."""
    try:
        return ResultStore(path, create=False).query(**filters)  # one line if missing or not a store
    except ValueError as e:  # an unknown column
        raise VsslError(f"{path}: {e}") from None
