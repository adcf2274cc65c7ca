"""`vssl study`: a grid of pre-training runs × seeds, each evaluated the same way, as one table.

A study preset (``configs/study/<name>.yaml``) names the synthetic benchmark (generated once under the output
folder) or a manifest, the evaluation preset and protocols, the number of seeds, reference encoders (``random``)
and the runs: a name → a pre-training preset plus overrides. A run may pre-train on another synthetic benchmark
(``synthetic``), have the encoders it saved after some epochs evaluated beside its final one (``epochs_evaluated``:
columns ``<run>@<epoch>``), and name another run's encoder of the same seed in its overrides (``'${run:<name>}'``,
quoted inside a YAML list, e.g. distillation teachers; such runs train after the runs they name). Every encoder is
evaluated on the study's benchmark, or on each of ``eval_synthetic``. Every run of every seed trains in its own
folder and is skipped when its ``encoder.pt`` exists, and an evaluation already in the store for the same checkpoint
(its SHA-256) and config hash is not repeated (an interrupted study resumes where it stopped; an interrupted run
resumes from its last checkpoint).
Results go to one store; the table (mean ± std over seeds) is written as Markdown and CSV, with each run's final
loss and pretext accuracy.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from vssl.app.evaluate import EvalConfig, EvalDataConfig, run_eval, stored_encoder_sha256, with_dataset_splits
from vssl.app.pretrain import PretrainConfig, epoch_encoder_path, resolve_method, run_pretrain
from vssl.app.progress import RunClock
from vssl.core.config import config_hash, from_dict, load_config, load_preset, merge, parse_overrides, ranged
from vssl.core.errors import ConfigError, VsslError
from vssl.core.io import write_text_atomic
from vssl.data.clip_store import build_clip_store, open_clip_store
from vssl.data.formats import class_order
from vssl.data.manifest import read_manifest
from vssl.data import synthesize, task_generators
from vssl.data.synthetic import SynthConfig, resolve_config
from vssl.results.report import (AGREEMENT_HEADERS, comparison_table, difference_rows, format_table,
                                 ranking_agreement, summarise, summary_csv)
from vssl.results.store import ResultStore


RUN_REFERENCE = re.compile(r"\$\{run:([^}]*)\}")  # ${run:<name>} in a run's overrides: that run's encoder.pt


@dataclass
class StudyRun:
    preset: str  # pre-training preset (configs/pretrain) or YAML file
    overrides: tuple[str, ...] = ()  # may name another run's encoder of the same seed: '${run:<name>}'
    synthetic: str = ""  # pre-train on this synthetic preset (under <out>/data/<preset>); "" = the study's benchmark
    # also evaluate the encoders saved after these epochs (each before the run's last) as columns <run>@<epoch>
    # (Kumar et al. 2023 Table 3: one run at 50/100/150/200 epochs)
    epochs_evaluated: tuple[int, ...] = ranged((), ge=1)


@dataclass
class StudyConfig:
    synthetic: str = "tiny"  # synthetic preset generated under <out>/data; ignored when manifest is set
    manifest: str = ""  # an existing manifest with pre-training and labelled splits instead
    seeds: int = ranged(3, ge=1)
    pretrain_overrides: tuple[str, ...] = ()  # applied to every run (e.g. the study's epoch budget)
    eval_preset: str = "synthetic_tiny"
    eval_overrides: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ("knn", "linear")
    references: tuple[str, ...] = ("random",)  # encoders evaluated without pre-training
    runs: dict[str, StudyRun] = field(default_factory=dict)
    # evaluate every encoder on each of these synthetic presets (results named synthetic_<preset>); () = the study's
    # benchmark (Kumar et al. 2023 Fig. 4: K400 and SSv2 pre-training, each tested on UCF101 and Diving48)
    eval_synthetic: tuple[str, ...] = ()
    minutes: float = ranged(0.0, ge=0)  # wall-clock on 2 CPU cores, measured or budgeted (0 = unknown); in --help


def load_study(preset: str, overrides: list[str] = ()) -> StudyConfig:
    """A study preset + ``key=value`` overrides; runs are validated like every other config."""
    data = load_preset(preset, "study")
    runs = data.pop("runs", {}) or {}
    if not isinstance(runs, dict) or not runs:
        raise ConfigError(f"study '{preset}': 'runs' must map run names to {{preset, overrides}}")
    config = from_dict(StudyConfig, merge(data, parse_overrides(list(overrides))))
    config.runs = {name: from_dict(StudyRun, spec, f"runs.{name}") for name, spec in runs.items()}
    return config


def ensure_synthetic(out: Path, preset: str | SynthConfig, seed: int, progress: bool) -> Path:
    """Generate the benchmark unless the same preset and seed already lie in ``out`` (it is deterministic), then
    decode it once into a clip store (``vssl data cache``) unless a valid one exists. A task-shift benchmark
    (``vssl.data.task_generators``: long untrimmed videos among them) gets no clip store."""
    manifest, meta = out / "manifest.csv", out / "synth.json"
    task = isinstance(preset, str) and preset in task_generators()
    wanted = {"preset": preset, "seed": seed} if task else None
    current = False
    if manifest.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if task:
            current = info == wanted
        else:
            config = json.loads(json.dumps(asdict(resolve_config(preset))))  # as synth.json stores it
            current = info.get("config") == config and info.get("seed") == seed
    if not current:
        synthesize(out, preset=preset, seed=seed, progress=progress)
        if task:  # written last: a generation cut short is redone
            write_text_atomic(meta, json.dumps(wanted))
    if not task and open_clip_store(manifest) is None:
        build_clip_store(manifest, progress=progress)
    return manifest


def evaluated_protocol(stored: str) -> str:
    """The `vssl eval` protocol a stored result came from: ``retrieval@<tap>`` is retrieval, ``svm@<tap>`` and
    ``svm@aslan`` are svm, the rest are stored under their own name. A `run_eval` call stores all its results in
    one transaction, so one stored row means the protocol finished."""
    return stored.split("@", 1)[0]


def heading(text: str) -> None:
    """A stage heading of a study's output."""
    print(f"\n== {text} ==", flush=True)


def seeds_note(seeds: int) -> str:
    """How a table aggregates: ``seed 0`` for one seed, else ``mean ± std over seeds 0–N``."""
    return "seed 0" if seeds == 1 else f"mean ± std over seeds 0–{seeds - 1}"


def chance_levels(data: EvalDataConfig) -> dict[str, float]:
    """Top-1 of guessing, 100 / number of classes (in evaluation's class numbering), per evaluated label set."""
    data = with_dataset_splits(data)
    samples = read_manifest(data.manifest, split=data.train_split) + read_manifest(data.manifest, split=data.test_split)
    return {label: 100 / len(class_order(data.manifest, samples, label)) for label in data.labels}


@dataclass(frozen=True)
class Benchmark:
    """A benchmark the study's encoders are evaluated on."""

    manifest: Path
    name: str = ""  # the dataset name its results are stored under; "" = the manifest's folder name

    def overrides(self) -> list[str]:
        """The `vssl eval` settings that point at it."""
        return [f"data.manifest={self.manifest}", *([f"data.name={self.name}"] if self.name else [])]


def referenced_runs(name: str, runs: dict[str, StudyRun]) -> list[str]:
    """The runs whose encoders run ``name`` names in its overrides (``${run:<name>}``), in order of mention."""
    named = list(dict.fromkeys(m for item in runs[name].overrides for m in RUN_REFERENCE.findall(item)))
    unknown = [other for other in named if other not in runs]
    if unknown:
        raise ConfigError(f"runs.{name}: ${{run:{unknown[0]}}} names no run of this study "
                          f"(runs: {', '.join(runs)})")
    return named


def run_order(runs: dict[str, StudyRun]) -> list[str]:
    """The runs in the preset's order, except that a run comes after every run it names (its teachers first)."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " → ".join((*path[path.index(name):], name))
            raise ConfigError(f"runs name each other's encoders in a cycle: {cycle}")
        if name not in order:
            for other in referenced_runs(name, runs):
                visit(other, (*path, name))
            order.append(name)

    for name in runs:
        visit(name, ())
    return order


def run_folder(out: Path, name: str, seed: int) -> Path:
    return out / "pretrain" / name / f"seed{seed}"


def resolve_run_references(overrides: tuple[str, ...], out: Path, seed: int) -> list[str]:
    """``overrides`` with each ``${run:<name>}`` replaced by that run's ``encoder.pt`` of the same seed."""
    return [RUN_REFERENCE.sub(lambda m: str(run_folder(out, m.group(1), seed) / "encoder.pt"), item)
            for item in overrides]


def run_overrides(config: StudyConfig, name: str, out: Path, seed: int) -> list[str]:
    """A run's pre-training overrides after the study's: its references resolved, its evaluated epochs saved."""
    run = config.runs[name]
    saved = [f"train.save_encoders_at=[{','.join(map(str, run.epochs_evaluated))}]"] if run.epochs_evaluated else []
    return [*config.pretrain_overrides, *resolve_run_references(run.overrides, out, seed), *saved]


def run_encoders(name: str, run: StudyRun, folder: Path) -> list[tuple[str, Path]]:
    """(encoder name, checkpoint) a run is evaluated as: after each evaluated epoch, then at its end."""
    return [*((f"{name}@{epoch}", epoch_encoder_path(folder, epoch)) for epoch in run.epochs_evaluated),
            (name, folder / "encoder.pt")]


def synthetic_folders(config: StudyConfig, out: Path, main: str) -> dict[str, Path]:
    """Every synthetic preset the study uses → where it is generated: the study's benchmark ``main`` ("" for a
    manifest study) in <out>/data, as always; every other (a run's pre-training data, an evaluation benchmark) in
    <out>/data/<preset>."""
    presets = [*([main] if main else []), *(run.synthetic for run in config.runs.values() if run.synthetic),
               *config.eval_synthetic]
    return {preset: out / "data" if preset == main else out / "data" / preset for preset in dict.fromkeys(presets)}


def evaluation_benchmarks(config: StudyConfig, out: Path, main: str) -> list[Benchmark]:
    """Each of ``eval_synthetic``, else the study's own benchmark."""
    folders = synthetic_folders(config, out, main)
    if config.eval_synthetic:
        return [Benchmark(folders[preset] / "manifest.csv", f"synthetic_{preset}") for preset in config.eval_synthetic]
    if config.manifest:
        return [Benchmark(Path(config.manifest))]
    return [Benchmark(folders[main] / "manifest.csv", f"synthetic_{main}")]


def pretraining_manifest(config: StudyConfig, run: StudyRun, out: Path, main: str) -> Path:
    """The manifest a run pre-trains on: its own synthetic preset, else the study's benchmark."""
    if run.synthetic:
        return synthetic_folders(config, out, main)[run.synthetic] / "manifest.csv"
    return Path(config.manifest) if config.manifest else out / "data" / "manifest.csv"


def check_runs(config: StudyConfig, out: Path) -> list[str]:
    """Every run's settings, checked before the first trains; → the order they train in."""
    order = run_order(config.runs)
    for name in order:
        run = config.runs[name]
        pretrain = load_config(PretrainConfig, run.preset, "pretrain", run_overrides(config, name, out, seed=0))
        resolve_method(pretrain)
        late = [epoch for epoch in run.epochs_evaluated if epoch >= pretrain.train.epochs]
        if late:
            raise ConfigError(f"runs.{name}.epochs_evaluated: epoch {late[0]} is not before the run's last "
                              f"({pretrain.train.epochs}), whose encoder is the column '{name}'")
    return order


def finished(folder: Path, encoders: list[tuple[str, Path]]) -> bool:
    """Whether a run has trained (its encoder.pt exists); a trained run must hold every encoder it is evaluated as."""
    if not (folder / "encoder.pt").is_file():
        return False
    missing = [path for _, path in encoders if not path.is_file()]
    if missing:
        raise VsslError(f"{missing[0]} is missing: {folder} trained without saving that epoch's encoder "
                        "(train.save_encoders_at); delete the folder to train it again")
    return True


def run_study(config: StudyConfig, out: str | Path, progress: bool = True,
              synthetic: str | SynthConfig | None = None, versus: str | None = None) -> str:
    """Train and evaluate every run for every seed; write ``comparison.md``/``.csv``; return the printed table.

    ``synthetic`` replaces the preset's benchmark by a ready SynthConfig (tests run the same path smaller);
    ``versus`` (e.g. ``random``) adds a printed column per method: its mean minus that encoder's.
    """
    out = Path(out)
    order = check_runs(config, out)  # a bad setting stops the study now, not after the runs before it
    load_config(EvalConfig, config.eval_preset, "eval", list(config.eval_overrides))
    benchmark = synthetic or config.synthetic
    main = "" if config.manifest else str(getattr(benchmark, "name", benchmark))
    if config.manifest:
        heading(f"benchmark: {config.manifest}")
    for preset, folder in synthetic_folders(config, out, main).items():
        heading(f"benchmark: synthetic {preset}")
        ensure_synthetic(folder, benchmark if preset == main else preset, seed=0, progress=progress)
    benchmarks = evaluation_benchmarks(config, out, main)
    store = out / "results.sqlite"
    flag = str(progress).lower()

    def evaluate(name: str, checkpoint: str | Path, seed: int) -> None:
        for bench in benchmarks:
            eval_config = load_config(EvalConfig, config.eval_preset, "eval", [
                *bench.overrides(), f"encoder.checkpoint={checkpoint}", f"encoder.name={name}", f"seed={seed}",
                f"store={store}", f"progress={flag}", *config.eval_overrides])
            digest = config_hash(replace(eval_config, data=with_dataset_splits(eval_config.data)))  # as stored
            # keyed on the checkpoint's hash: a retrained run is evaluated again (rows of an older vssl have none)
            sha256 = stored_encoder_sha256(eval_config.encoder, seed)
            done = {evaluated_protocol(r.protocol)
                    for r in ResultStore(store).query(encoder=name, seed=seed, config_hash=digest)
                    if r.encoder_sha256 in (sha256, "")}
            if not set(config.protocols) <= done:  # a resumed study does not repeat a stored evaluation
                run_eval(list(config.protocols), eval_config)

    heading(f"pre-training and evaluation: {len(config.runs)} run(s) × {config.seeds} seed(s)"
            + (f", references {', '.join(config.references)} evaluated per seed" if config.references else ""))
    clock = RunClock(len(config.runs) * config.seeds)
    for seed in range(config.seeds):
        for name in config.references:
            print(f"evaluate {name} seed {seed} (no pre-training)", flush=True)
            evaluate(name, name, seed)
        for name in order:
            run, folder = config.runs[name], run_folder(out, name, seed)
            encoders = run_encoders(name, run, folder)
            done = finished(folder, encoders)
            clock.start(name, seed, finished=done)
            if not done:
                resume = (folder / "checkpoints" / "last.ckpt").is_file()
                run_pretrain(load_config(PretrainConfig, run.preset, "pretrain", [
                    f"data.manifest={pretraining_manifest(config, run, out, main)}", f"train.out_dir={folder}",
                    f"train.seed={seed}", f"train.progress={flag}", f"train.resume={str(resume).lower()}",
                    *run_overrides(config, name, out, seed)]))
            for encoder, checkpoint in encoders:
                evaluate(encoder, checkpoint, seed)
            clock.stop()
    heading("results")
    chance = {}
    for bench in benchmarks:
        levels = chance_levels(load_config(EvalConfig, config.eval_preset, "eval", [
            *bench.overrides(), *config.eval_overrides]).data)
        chance |= {(f"{bench.name} {label}" if len(benchmarks) > 1 else label): value
                   for label, value in levels.items()}
    return write_tables(store, out, pretraining_table(out, config), seeds=config.seeds, chance=chance,
                        versus=versus)


def final_epoch_metrics(run_dir: Path) -> dict[str, float]:
    """The last logged value of every epoch-level metric of a run (its newest CSV log), e.g. pretext accuracy."""
    logs = sorted((run_dir / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    values: dict[str, float] = {}
    if logs:
        with open(logs[-1], newline="") as f:
            for row in csv.DictReader(f):
                values.update({k: float(v) for k, v in row.items() if k.endswith("_epoch") and v not in ("", None)})
    return values


def pretraining_table(out: Path, config: StudyConfig) -> str:
    """Final epoch loss and pretext accuracy (where the method logs one) per run, mean ± std over seeds."""
    rows = []
    for name in config.runs:
        finals = [final_epoch_metrics(run_folder(out, name, seed)) for seed in range(config.seeds)]
        cells = []
        for key, scale in (("train/loss_epoch", 1.0), ("train/pretext_acc_epoch", 100.0)):
            values = [f[key] * scale for f in finals if key in f]
            cells.append("-" if not values else f"{statistics.fmean(values):.2f}" + (
                f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""))
        rows.append([name, *cells])
    return format_table(["run", "final loss", "pretext accuracy (%)"], rows, markdown=True)


def write_tables(store: Path, out: Path, pretraining: str = "", seeds: int = 0,
                 chance: dict[str, float] | None = None, versus: str | None = None) -> str:
    """The top-1 comparison (mean ± std over ``seeds`` seeds; 0 = not known) of everything in ``store``, as text,
    Markdown and CSV; with ``pretraining`` (a Markdown table) appended to the Markdown file. The printed table also
    gets a chance line (``chance``: top-1 per label set) and, with ``versus``, a column per method of its mean minus
    that encoder's. The table is printed whether or not progress bars are shown (``--quiet`` hides only those)."""
    rows = [r for r in summarise(ResultStore(store).query()) if r.metric == "top1"]
    table = comparison_table(rows + (difference_rows(rows, versus) if versus else []))
    note = seeds_note(seeds) if seeds else "mean ± std over seeds"
    extra = f"\nPre-training, last epoch ({note}):\n\n{pretraining}\n" if pretraining else ""
    agreement = ranking_agreement(rows)
    if agreement:
        extra += ("\nDo the protocols rank the methods alike? Kendall's τ (ceiling and floor left out):\n\n"
                  + format_table(AGREEMENT_HEADERS, agreement, markdown=True) + "\n")
    write_text_atomic(out / "comparison.md", comparison_table(rows, markdown=True) + "\n" + extra)
    write_text_atomic(out / "comparison.csv", summary_csv(rows))
    print(f"\nvideo-level top-1 accuracy (%), {note}:\n" + table)
    if chance:
        print("chance (100 / number of classes): "
              + ", ".join(f"{label} {value:.1f}" for label, value in sorted(chance.items())))
    print(f"\nwritten: {out / 'comparison.md'}, {out / 'comparison.csv'}, results store {store}")
    return table
