"""Results store: round trip, concurrent writers lose nothing, aggregation over seeds."""

import multiprocessing as mp

import pytest

from vssl.results.report import comparison_table, summarise
from vssl.results.store import Result, ResultStore


def _result(seed: int, value: float, encoder: str = "enc") -> Result:
    return Result("run", encoder, "knn", "synth", "test", "motion", "top1", value, seed, "abc")


def _writer(path: str, worker: int, count: int) -> None:
    store = ResultStore(path)
    for i in range(count):
        store.add([_result(worker * 1000 + i, float(i))])


def test_round_trip(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add([_result(0, 50.0), _result(1, 60.0, encoder="other")])
    rows = ResultStore(tmp_path / "r.sqlite").query(encoder="other")
    assert len(rows) == 1 and rows[0].value == 60.0 and rows[0].seed == 1 and rows[0].created > 0


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ResultStore(path)
    processes = [mp.get_context("spawn").Process(target=_writer, args=(path, w, 40)) for w in range(3)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
        assert p.exitcode == 0
    rows = ResultStore(path).query()
    assert len(rows) == 120
    assert len({r.seed for r in rows}) == 120


def test_summary_mean_std_over_seeds(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add([_result(0, 50.0), _result(1, 60.0), _result(2, 70.0)])
    store.add([_result(2, 40.0)])  # a re-run of seed 2 replaces the older value
    (row,) = summarise(store.query())
    assert row.seeds == 3 and row.mean == pytest.approx(50.0) and row.std == pytest.approx(10.0)
    assert "50.0 ± 10.0" in comparison_table([row])


def test_query_rejects_unknown_column(tmp_path):
    with pytest.raises(ValueError, match="colour"):
        ResultStore(tmp_path / "r.sqlite").query(colour="red")


def test_ranking_agreement_is_kendall_tau_between_protocol_rankings():
    from vssl.results.report import SummaryRow, ranking_agreement

    def row(encoder, protocol, mean):
        return SummaryRow(encoder, protocol, "d", "motion", "top1", mean, 0.0, 1)
    # kNN ranks a > b > c > d; linear ranks a > b > d > c: one discordant pair of six, τ = (5 - 1) / 6
    rows = [row("a", "knn", 90), row("b", "knn", 80), row("c", "knn", 70), row("d", "knn", 60),
            row("a", "linear", 95), row("b", "linear", 85), row("c", "linear", 50), row("d", "linear", 55),
            row("random", "knn", 10), row("random", "linear", 99), row("supervised", "knn", 1)]
    assert ranking_agreement(rows) == [["d", "motion", "knn", "linear", "4", "+0.67"]]
    # references are left out, and a pair of protocols sharing fewer than 3 methods is not scored
    assert ranking_agreement([r for r in rows if r.encoder in ("a", "b", "random")]) == []
