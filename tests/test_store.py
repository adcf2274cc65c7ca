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


OLD_SCHEMA = """CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, encoder TEXT NOT NULL,
protocol TEXT NOT NULL, dataset TEXT NOT NULL, split TEXT NOT NULL, label TEXT NOT NULL, metric TEXT NOT NULL,
value REAL NOT NULL, seed INTEGER NOT NULL, config_hash TEXT NOT NULL, created REAL NOT NULL)"""


def _old_store(path) -> None:
    """A store as vssl wrote it before encoder hashes and video counts."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute(OLD_SCHEMA)
        db.execute("INSERT INTO results (run_id, encoder, protocol, dataset, split, label, metric, value, seed,"
                   " config_hash, created) VALUES ('r', 'seed0', 'knn', 'd', 'test', 'motion', 'top1', 42.5, 0, 'h', 1.0)")
    db.close()


def test_an_older_store_is_read_unchanged_and_migrated_on_write_without_loss(tmp_path):
    path = tmp_path / "old.sqlite"
    _old_store(path)
    before = path.read_bytes()
    old_row = Result("r", "seed0", "knn", "d", "test", "motion", "top1", 42.5, 0, "h", 1.0, "", None, None)
    assert ResultStore(path, create=False).query() == [old_row]  # read with the new columns' defaults
    assert ResultStore(path, create=False).query(encoder_sha256="") == [old_row]
    assert ResultStore(path, create=False).query(encoder_sha256="ab") == []
    assert path.read_bytes() == before  # reading changed nothing
    store = ResultStore(path)  # a writer migrates
    store.add([Result("s", "seed0", "knn", "d", "test", "motion", "top1", 50.0, 0, "h", 2.0, "ab" * 32, 30, 2)])
    rows = store.query()
    assert rows[0] == old_row and (rows[1].encoder_sha256, rows[1].n_videos, rows[1].n_skipped) == ("ab" * 32, 30, 2)


def test_reading_never_creates_and_bad_files_are_one_line_errors(tmp_path):
    from vssl.core.errors import VsslError

    missing = tmp_path / "missing_dir" / "x.sqlite"
    with pytest.raises(VsslError, match=f"no results store at {missing}"):
        ResultStore(missing, create=False)
    assert not missing.parent.exists()
    text = tmp_path / "notes.sqlite"
    text.write_text("hello\n" * 100)
    for create in (True, False):
        with pytest.raises(VsslError, match=f"{text}: not a SQLite results store"):
            ResultStore(text, create=create)
    with pytest.raises(VsslError, match=f"{text}: not a SQLite results store"):
        ResultStore.check_writable(text)  # what `vssl eval` asks before any work
    assert text.read_text() == "hello\n" * 100
    ResultStore.check_writable(tmp_path / "new" / "r.sqlite")
    assert list((tmp_path / "new").iterdir()) == []  # the folder is made, the store is not


def _hashed(encoder: str, sha256: str, seed: int, value: float) -> Result:
    return Result("run", encoder, "knn", "synth", "test", "motion", "top1", value, seed, "abc",
                  encoder_sha256=sha256, n_videos=20, n_skipped=0)


def test_one_checkpoint_per_seed_is_one_encoder_two_checkpoints_of_a_seed_are_two():
    # a study: one checkpoint per seed under one name, aggregated over seeds
    study = [_hashed("moco", "a" * 64, 0, 50.0), _hashed("moco", "b" * 64, 1, 60.0)]
    (row,) = summarise(study)
    assert (row.encoder, row.seeds, row.mean, row.n) == ("moco", 2, 55.0, 20)
    # two different checkpoints of the same seed under one name: neither replaces the other
    clash = [_hashed("run/seed0", "c" * 64, 0, 30.0), _hashed("run/seed0", "d" * 64, 0, 70.0)]
    rows = summarise(clash)
    assert {(r.encoder, r.mean) for r in rows} == {("run/seed0#cccccccc", 30.0), ("run/seed0#dddddddd", 70.0)}
    table = comparison_table(rows)
    assert "run/seed0#cccccccc" in table and "run/seed0#dddddddd" in table


def test_values_of_different_rules_are_never_averaged_and_the_rule_round_trips(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    majority, weighted = "k=10, majority vote, ties to lower class", "k=10, exp(sim/0.07) vote, ties to lower class"
    store.add([Result("a", "enc", "knn", "d", "test", "motion", "top1", 40.0, 0, "h", rule=majority),
               Result("b", "enc", "knn", "d", "test", "motion", "top1", 50.0, 0, "h", rule=weighted),
               Result("c", "enc", "knn", "d", "test", "motion", "top1", 54.0, 1, "h", rule=weighted)])
    assert [r.rule for r in store.query()] == [majority, weighted, weighted]
    rows = summarise(store.query())
    assert [(r.method, r.mean, r.seeds) for r in rows] == [(f"knn ({weighted})", 52.0, 2), (f"knn ({majority})", 40.0, 1)]
    assert f"knn ({majority})" in comparison_table(rows) and f"knn ({weighted})" in comparison_table(rows)
    one_rule = comparison_table(summarise(store.query(rule=weighted)))
    assert "  knn  " in one_rule and one_rule.endswith(f"\nknn: {weighted}")  # one rule: named once, below
