"""The results store on a real PostgreSQL server (started here from the pip-installed `pgserver`): versioned schema,
concurrent writers from separate processes losing nothing, re-sent results not duplicated, a round trip with SQLite,
and `vssl eval` writing to a `postgresql://` store. Skipped, with the reason, where no server can start."""

import subprocess
import sys

import pytest

from vssl.results.store import Result, ResultStore
from vssl.results.transfer import export_results, import_results


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory):
    try:
        import pgserver
        import psycopg  # noqa: F401
    except ImportError as e:
        pytest.skip(f"no PostgreSQL for the tests: {e} (pip install pgserver 'psycopg[binary]')")
    try:
        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    except Exception as e:  # noqa: BLE001 - any failure to start the server is a reason to skip, said in full
        pytest.skip(f"PostgreSQL did not start: {e}")
    yield server.get_uri()
    server.cleanup()


def result(encoder: str, seed: int, value: float) -> Result:
    return Result("run", encoder, "knn", "world32", "test", "motion", "top1", value, seed, "hash", rule="k=10")


def test_schema_is_versioned_and_results_are_not_duplicated(postgres_url):
    store = ResultStore(postgres_url)
    assert type(store).__name__ == "PostgresResultStore" and store.schema_version() == 1
    store.add([result("vcop", 0, 80.0), result("vcop", 1, 82.0)])
    store.add([result("vcop", 0, 80.0)])  # sent again: the unique key keeps one
    assert [(r.seed, r.value) for r in store.query(encoder="vcop")] == [(0, 80.0), (1, 82.0)]
    assert "password" not in store.display()


WRITER = """
import sys
from vssl.results.store import Result, ResultStore
url, name = sys.argv[1], sys.argv[2]
store = ResultStore(url)
for seed in range(40):
    store.add([Result("run-" + name, name, "linear", "world32", "test", "motion", "top1", float(seed), seed, "h")])
"""


def test_concurrent_writers_in_separate_processes_lose_nothing(postgres_url):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, postgres_url, f"writer{i}"]) for i in range(3)]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    rows = ResultStore(postgres_url).query(protocol="linear")
    assert len(rows) == 120 and {r.encoder for r in rows} == {"writer0", "writer1", "writer2"}


def test_round_trip_between_sqlite_and_postgres(postgres_url, tmp_path):
    sqlite = tmp_path / "local.sqlite"
    ResultStore(sqlite).add([result("rho", 0, 70.5), result("rho", 1, 71.5)])
    export_results(sqlite, tmp_path / "local.jsonl")
    assert import_results(tmp_path / "local.jsonl", postgres_url) == (2, 0)
    export_results(postgres_url, tmp_path / "shared.jsonl")
    back = tmp_path / "back.sqlite"
    import_results(tmp_path / "shared.jsonl", back)
    assert {(r.encoder, r.seed, r.value) for r in ResultStore(back).query(encoder="rho")} == {("rho", 0, 70.5),
                                                                                              ("rho", 1, 71.5)}


def test_vssl_eval_writes_to_a_postgres_store(postgres_url, micro_manifest, tmp_path):
    args = [f"data.manifest={micro_manifest}", "data.labels=[motion]", "data.clip_len=4", "data.stride=2",
            "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0",
            "encoder.width=0.125", "encoder.depth=[1,1,1,1]", f"store={postgres_url}",
            f"feature_cache={tmp_path / 'cache'}", "progress=false"]
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "knn", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {r.metric for r in ResultStore(postgres_url).query(encoder="random", protocol="knn")} >= {"top1"}
