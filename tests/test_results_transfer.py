"""`vssl results export` / `import` in real processes: a round trip keeps every column, and importing twice or into
a store that already holds some of the results adds nothing twice."""

import subprocess
import sys

from vssl.results.store import Result, ResultStore


def vssl_results(*args):
    return subprocess.run([sys.executable, "-m", "vssl.app.cli", "results", *args], capture_output=True, text=True,
                          timeout=120)


def test_export_import_round_trip_without_duplicates(tmp_path):
    rows = [Result("r1", "vcop", "knn", "world32", "test", "motion", "top1", 83.25, 0, "abc", created=1.5,
                   encoder_sha256="f" * 64, n_videos=400, n_skipped=1, rule="k=10"),
            Result("r1", "vcop", "linear", "world32", "test", "motion", "top1", 77.5, 0, "abc", created=1.5)]
    ResultStore(tmp_path / "a.sqlite").add(rows)
    ResultStore(tmp_path / "b.sqlite").add(rows[:1])  # b already holds the first result
    exported = vssl_results("export", str(tmp_path / "a.jsonl"), "--store", str(tmp_path / "a.sqlite"))
    assert exported.returncode == 0 and "exported 2 result(s)" in exported.stdout
    first = vssl_results("import", str(tmp_path / "a.jsonl"), "--store", str(tmp_path / "b.sqlite"))
    assert "imported 1 result(s)" in first.stdout and "(1 already there)" in first.stdout
    again = vssl_results("import", str(tmp_path / "a.jsonl"), "--store", str(tmp_path / "b.sqlite"))
    assert "imported 0 result(s)" in again.stdout
    assert ResultStore(tmp_path / "b.sqlite").query() == ResultStore(tmp_path / "a.sqlite").query()
    missing = vssl_results("export", "--store", str(tmp_path / "a.sqlite"))
    assert missing.returncode != 0 and "name the JSON Lines file" in missing.stderr
    (tmp_path / "bad.jsonl").write_text('{"run_id": "x"}\n')
    bad = vssl_results("import", str(tmp_path / "bad.jsonl"), "--store", str(tmp_path / "b.sqlite"))
    assert bad.returncode != 0 and "bad.jsonl:1: not a vssl result" in bad.stderr
