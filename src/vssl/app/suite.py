"""`vssl suite`: a benchmark suite as a plan of jobs (encoder × task × seed), each with a stable hash, run as
separate `vssl eval` processes: finished jobs are skipped on a rerun, a failed one is recorded with its error and
does not stop the others, and ``--jobs N`` runs N at a time. Suites are presets in ``configs/suite``; a task names
a synthetic benchmark (generated under ``<out>/data``) or a dataset of ``datasets.yaml`` (name → manifest)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from vssl.app.evaluate import EncoderConfig, encoder_name
from vssl.app.study import ensure_synthetic, heading, write_tables
from vssl.core.config import from_dict, load_preset, ranged
from vssl.core.errors import ConfigError
from vssl.core.io import write_text_atomic
from vssl.evaluation.feature_cache import file_sha256
from vssl.results.report import summarise
from vssl.results.store import ResultStore
from vssl.results.task_agreement import TaskScore, task_agreement_report

DONE, FAILED, TODO = "done", "failed", "todo"
EXECUTORS = ("process", "local", "slurm")  # process: a pool of `vssl eval` processes here; local/slurm: submitit


@dataclass
class SuiteTask:
    eval_preset: str
    protocols: tuple[str, ...]
    synthetic: str = ""  # a synthetic benchmark preset, generated under <out>/data/<preset>
    dataset: str = ""  # or a dataset name of datasets.yaml
    overrides: tuple[str, ...] = ()
    score: str = ""  # the task's headline "label/metric" (e.g. motion/top1): enters the task agreement table
    lower_is_better: bool = False  # the score is an error (e.g. count/mean_counting_error)


@dataclass
class SuiteConfig:
    tasks: dict[str, SuiteTask] = field(default_factory=dict)
    minutes: float = ranged(0.0, ge=0)  # wall-clock per encoder and seed on 2 CPU cores (0 = unknown)


@dataclass(frozen=True)
class Job:
    encoder: str  # "random" or a checkpoint path
    task: str
    seed: int
    hash: str


def load_suite(name: str) -> SuiteConfig:
    data = load_preset(name, "suite")
    tasks = data.pop("tasks", None)
    if not isinstance(tasks, dict) or not tasks:
        raise ConfigError(f"suite '{name}': 'tasks' must map task names to {{eval_preset, protocols, ...}}")
    config = from_dict(SuiteConfig, data)
    config.tasks = {task: from_dict(SuiteTask, spec, f"tasks.{task}") for task, spec in tasks.items()}
    for task, spec in config.tasks.items():
        if bool(spec.synthetic) == bool(spec.dataset):
            raise ConfigError(f"suite '{name}': tasks.{task} needs exactly one of 'synthetic' and 'dataset'")
        if spec.score and spec.score.count("/") != 1:
            raise ConfigError(f"suite '{name}': tasks.{task}.score={spec.score!r} must look like label/metric")
    return config


def headline_scores(config: SuiteConfig) -> dict[str, TaskScore]:
    """task → its headline score, for the tasks that name one (a suite stores a task's results as its dataset)."""
    return {task: TaskScore(task, *spec.score.split("/"), spec.lower_is_better)
            for task, spec in config.tasks.items() if spec.score}


def write_task_agreement(config: SuiteConfig, out: Path) -> None:
    """``task_agreement.md``: each task's headline per encoder and Kendall's τ between the tasks' rankings."""
    tasks = headline_scores(config)
    if len(tasks) < 2:
        return
    text = task_agreement_report(summarise(ResultStore(out / "results.sqlite").query()), tasks)
    write_text_atomic(out / "task_agreement.md", text)
    print("\n" + text + f"written: {out / 'task_agreement.md'}")


def encoder_identity(encoder: str) -> str:
    """What a job's hash knows of its encoder: "random", or the checkpoint file's SHA-256 (a retrained file is a
    new job); a missing file is a one-line error."""
    if encoder == "random":
        return encoder
    if not Path(encoder).is_file():
        raise ConfigError(f"--encoders: file not found: {encoder}")
    return file_sha256(encoder)


def plan(suite: str, config: SuiteConfig, encoders: list[str], seeds: int) -> list[Job]:
    """Every (encoder, task, seed) job with its hash: SHA-256 of the suite, the encoder's identity, the task's full
    spec and the seed, so that the same job has the same hash in every run and any change makes a new one."""
    jobs = []
    identities = {encoder: encoder_identity(encoder) for encoder in encoders}
    for encoder in encoders:
        for task, spec in config.tasks.items():
            for seed in range(seeds):
                key = json.dumps({"suite": suite, "encoder": identities[encoder], "task": task, "spec": asdict(spec),
                                  "seed": seed}, sort_keys=True)
                jobs.append(Job(encoder, task, seed, hashlib.sha256(key.encode()).hexdigest()[:12]))
    return jobs


def ledger_path(out: Path, job: Job) -> Path:
    return out / "jobs" / f"{job.hash}.json"


def status(out: Path, job: Job) -> str:
    path = ledger_path(out, job)
    return json.loads(path.read_text()).get("status", TODO) if path.is_file() else TODO


def read_datasets(path: str | Path | None) -> dict[str, str]:
    """name → manifest from ``datasets.yaml``; relative manifests are relative to that file."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--datasets: file not found: {path}")
    entries = yaml.safe_load(path.read_text()) or {}
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: expected 'name: manifest' lines")
    return {name: str((path.parent / manifest).resolve()) for name, manifest in entries.items()}


def manifests(config: SuiteConfig, out: Path, datasets: dict[str, str], progress: bool,
              needed: set[str]) -> dict[str, str]:
    """task → manifest for the ``needed`` tasks: synthetic benchmarks generated (once each) under ``out/data``."""
    found = {}
    for task in needed:
        spec = config.tasks[task]
        if spec.synthetic:
            found[task] = str(ensure_synthetic(out / "data" / spec.synthetic, spec.synthetic, seed=0,
                                               progress=progress))
        elif spec.dataset in datasets:
            found[task] = datasets[spec.dataset]
        else:
            raise ConfigError(f"task {task}: dataset '{spec.dataset}' is not in --datasets "
                              f"({', '.join(datasets) or 'none given'})")
    return found


def command(job: Job, spec: SuiteTask, manifest: str, out: Path) -> list[str]:
    """The `vssl eval` process of a job."""
    name = encoder_name(EncoderConfig(checkpoint=job.encoder))
    return [sys.executable, "-m", "vssl.app.cli", "eval", ",".join(spec.protocols), spec.eval_preset,
            f"data.manifest={manifest}", f"data.name={job.task}", f"encoder.checkpoint={job.encoder}",
            f"encoder.name={name}", f"seed={job.seed}", f"store={out / 'results.sqlite'}", "progress=false",
            *spec.overrides]


def run_job(job: Job, spec: SuiteTask, manifest: str, out: Path) -> str:
    """Run one job in its own process and record it in the ledger: done, or failed with the last line of its
    error output."""
    args = command(job, spec, manifest, out)
    start = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    record = {"status": DONE if done.returncode == 0 else FAILED, "encoder": job.encoder, "task": job.task,
              "seed": job.seed, "seconds": round(time.monotonic() - start, 1), "command": args[2:],
              "error": "" if done.returncode == 0 else (lines[-1] if lines else f"exit code {done.returncode}")}
    path = ledger_path(out, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=1) + "\n")
    return record["status"]


class SubmittedJob:
    """A job for submitit: calls :func:`run_job`; when the cluster preempts it, submitit asks ``checkpoint`` and
    requeues the same job, which runs its `vssl eval` again (an evaluation writes its results at the end, in one
    transaction, so a requeued job never leaves half a result)."""

    def __init__(self, job: Job, spec: SuiteTask, manifest: str, out: Path):
        self.job, self.spec, self.manifest, self.out = job, spec, manifest, out

    def __call__(self) -> str:
        return run_job(self.job, self.spec, self.manifest, self.out)

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(self)


def submitit_executor(kind: str, out: Path, resources: str | Path | None):
    """submitit's LocalExecutor, or its Slurm executor with the parameters of ``resources`` (YAML: e.g.
    slurm_partition, gpus_per_node, cpus_per_task, timeout_min), logs under ``out/submitit``."""
    import submitit

    folder = out / "submitit"
    executor = submitit.LocalExecutor(folder=folder) if kind == "local" else \
        submitit.AutoExecutor(folder=folder, cluster="slurm")
    parameters = {"timeout_min": 60}
    if resources is not None:
        loaded = yaml.safe_load(Path(resources).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{resources}: expected 'parameter: value' lines (e.g. slurm_partition: gpu)")
        parameters.update(loaded)
    executor.update_parameters(**parameters)
    return executor


def run_with_submitit(kind: str, todo: list[Job], config: SuiteConfig, paths: dict[str, str], out: Path,
                      resources: str | Path | None) -> list[tuple[Job, str]]:
    """Submit the jobs as one array and wait; a job that dies without a ledger entry counts as failed."""
    executor = submitit_executor(kind, out, resources)
    with executor.batch():
        futures = [executor.submit(SubmittedJob(job, config.tasks[job.task], paths[job.task], out)) for job in todo]
    results = []
    for job, future in zip(todo, futures):
        try:
            results.append((job, future.result()))
        except Exception as e:  # noqa: BLE001 - any failure of one job is recorded, the others go on
            record = {"status": FAILED, "encoder": job.encoder, "task": job.task, "seed": job.seed,
                      "error": str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__}
            ledger_path(out, job).parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(ledger_path(out, job), json.dumps(record, indent=1) + "\n")
            results.append((job, FAILED))
    return results


def run_suite(suite: str, encoders: list[str], out: str | Path, seeds: int = 3, jobs: int = 1,
              dry_run: bool = False, datasets: str | Path | None = None, progress: bool = True,
              executor: str = "process", resources: str | Path | None = None) -> list[Job]:
    """Plan, print and (unless ``dry_run``) run the jobs not yet done, with ``jobs`` processes here or through
    submitit (``executor`` local or slurm, ``resources`` a YAML of its parameters); write the comparison tables;
    → the plan."""
    config, out = load_suite(suite), Path(out)
    if not encoders:
        raise ConfigError("--encoders: name at least one encoder (checkpoint paths or 'random')")
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    planned = plan(suite, config, encoders, seeds)
    states = {job: status(out, job) for job in planned}
    heading(f"suite {suite}: {len(planned)} job(s), {sum(s == DONE for s in states.values())} done")
    for job in planned:
        print(f"{job.hash}  {states[job]:6}  {job.task:24} seed {job.seed}  {job.encoder}")
    if dry_run:
        return planned
    todo = [job for job in planned if states[job] != DONE]
    paths = manifests(config, out, read_datasets(datasets), progress, {job.task for job in todo})
    if executor == "process":
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(lambda job: (job, run_job(job, config.tasks[job.task], paths[job.task], out)),
                                    todo))
    else:
        results = run_with_submitit(executor, todo, config, paths, out, resources)
    failed = [job for job, state in results if state == FAILED]
    for job in failed:
        error = json.loads(ledger_path(out, job).read_text())["error"]
        print(f"failed: {job.hash} {job.task} seed {job.seed} {job.encoder}: {error}")
    if (out / "results.sqlite").is_file():
        write_tables(out / "results.sqlite", out, seeds=seeds)
        write_task_agreement(config, out)
    return planned
