"""`vssl suite` in real processes: a plan with stable hashes, parallel jobs writing one store, a failed job recorded
without stopping the others, and finished jobs skipped on a rerun."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import yaml

MICRO_EVAL = {"data": {"labels": ["motion"], "clip_len": 4, "stride": 2, "num_clips": 2, "crop_size": 24,
                       "short_side": 24, "num_workers": 0, "batch_size": 16},
              "encoder": {"width": 0.125, "depth": [1, 1, 1, 1]}, "linear": {"epochs": 3}}


def vssl_suite(*args):
    return subprocess.run([sys.executable, "-m", "vssl.app.cli", "suite", *args], capture_output=True, text=True,
                          timeout=600)


def test_a_suite_runs_in_parallel_records_failures_and_skips_finished_jobs(micro_manifest, tmp_path):
    (tmp_path / "micro_eval.yaml").write_text(yaml.safe_dump(MICRO_EVAL))
    (tmp_path / "datasets.yaml").write_text(f"micro: {micro_manifest}\n")
    suite = {"tasks": {
        "knn": {"dataset": "micro", "eval_preset": str(tmp_path / "micro_eval.yaml"), "protocols": ["knn"]},
        "linear": {"dataset": "micro", "eval_preset": str(tmp_path / "micro_eval.yaml"), "protocols": ["linear"]},
        "broken": {"dataset": "micro", "eval_preset": str(tmp_path / "micro_eval.yaml"), "protocols": ["knn"],
                   "overrides": ["knn.k=0"]}}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    out = tmp_path / "out"
    args = [str(tmp_path / "suite.yaml"), "--encoders", "random", "--seeds", "1", "--datasets",
            str(tmp_path / "datasets.yaml"), "--out", str(out), "--quiet"]
    plan = vssl_suite(*args, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-2000:]
    hashes = [line.split()[0] for line in plan.stdout.splitlines() if " todo " in line]
    assert len(hashes) == 3 == len(set(hashes))
    assert [line.split()[0] for line in vssl_suite(*args, "--dry-run").stdout.splitlines() if " todo " in line] == hashes

    first = vssl_suite(*args, "--jobs", "2")
    assert first.returncode == 0, first.stderr[-2000:]
    ledger = {p.stem: json.loads(p.read_text()) for p in (out / "jobs").glob("*.json")}
    assert sorted(ledger) == sorted(hashes)
    failed = [job for job in ledger.values() if job["status"] == "failed"]
    assert len(failed) == 1 and all(job["task"] == "broken" and "knn.k" in job["error"] for job in failed)
    with sqlite3.connect(out / "results.sqlite") as db:
        stored = db.execute("select protocol, seed from results where metric = 'top1'").fetchall()
    assert sorted(stored) == [("knn", 0), ("linear", 0)]
    assert "failed:" in first.stdout and (out / "comparison.md").is_file()

    times = {p.stem: p.stat().st_mtime_ns for p in (out / "jobs").glob("*.json")}
    again = vssl_suite(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    for p in (out / "jobs").glob("*.json"):
        record = json.loads(p.read_text())
        assert (p.stat().st_mtime_ns == times[p.stem]) == (record["status"] == "done")  # only failures rerun
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("select count(*) from results where metric = 'top1'").fetchone()[0] == 2


def micro_suite(tmp_path, micro_manifest, tasks: dict) -> list[str]:
    """Write the micro eval preset, datasets.yaml and a suite of ``tasks`` (name → protocol); → suite arguments."""
    (tmp_path / "micro_eval.yaml").write_text(yaml.safe_dump(MICRO_EVAL))
    (tmp_path / "datasets.yaml").write_text(f"micro: {micro_manifest}\n")
    suite = {"tasks": {name: {"dataset": "micro", "eval_preset": str(tmp_path / "micro_eval.yaml"),
                              "protocols": [protocol]} for name, protocol in tasks.items()}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return [str(tmp_path / "suite.yaml"), "--encoders", "random", "--datasets", str(tmp_path / "datasets.yaml"),
            "--out", str(tmp_path / "out"), "--quiet"]


def test_a_six_job_plan_runs_through_submitits_local_executor(micro_manifest, tmp_path):
    args = micro_suite(tmp_path, micro_manifest, {"knn": "knn", "knn_again": "knn", "linear": "linear"})
    done = vssl_suite(*args, "--seeds", "2", "--executor", "local")
    assert done.returncode == 0, done.stderr[-2000:]
    ledger = [json.loads(p.read_text()) for p in (tmp_path / "out" / "jobs").glob("*.json")]
    assert len(ledger) == 6 and {job["status"] for job in ledger} == {"done"}
    assert (tmp_path / "out" / "submitit").is_dir()


def test_a_suite_killed_mid_plan_resumes_where_it_stopped(micro_manifest, tmp_path):
    """SIGKILL the whole suite (and the `vssl eval` it runs) once its first job is recorded; the rerun does only
    the jobs left and ends with every job done."""
    args = micro_suite(tmp_path, micro_manifest, {"a": "knn", "b": "knn", "c": "linear"})
    jobs = tmp_path / "out" / "jobs"
    process = subprocess.Popen([sys.executable, "-m", "vssl.app.cli", "suite", *args, "--seeds", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (jobs.is_dir() and any(jobs.glob("*.json"))) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = {p.stem: p.stat().st_mtime_ns for p in jobs.glob("*.json")}
    assert 1 <= len(first) < 3  # killed with work left
    again = vssl_suite(*args, "--seeds", "1")
    assert again.returncode == 0, again.stderr[-2000:]
    ledger = {p.stem: json.loads(p.read_text()) for p in jobs.glob("*.json")}
    assert len(ledger) == 3 and {job["status"] for job in ledger.values()} == {"done"}
    assert all(jobs.joinpath(f"{stem}.json").stat().st_mtime_ns == mtime for stem, mtime in first.items())
