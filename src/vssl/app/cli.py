"""The `vssl` command line: demo, data, pretrain, eval, results, models, methods."""

from __future__ import annotations

import argparse
import sys

from vssl.core.errors import VsslError


def cmd_demo(args) -> None:
    from vssl.app.demo import run_demo

    run_demo(args.out, epochs=args.epochs, seeds=args.seeds, progress=not args.quiet, overrides=args.overrides)


def cmd_data_synth(args) -> None:
    from vssl.data import synthesize

    manifest = synthesize(args.out, preset=args.preset, seed=args.seed, workers=args.workers, progress=not args.quiet)
    print(f"wrote {manifest}")


def cmd_data_import(args) -> None:
    from vssl.data.formats import import_dataset, read_dataset_info

    options = {}
    for option in args.option:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise VsslError(f"--option expects key=value, got '{option}'")
        options[key] = value
    manifest = import_dataset(args.format, args.root, args.out, **options)
    info = read_dataset_info(manifest)
    counts = ", ".join(f"{split}: {n}" for split, n in info.splits.items())
    print(f"wrote {manifest} ({counts}); classes: "
          + ", ".join(f"{name} {len(names)}" for name, names in info.classes.items()))


def cmd_data_labels_statistics(args) -> None:
    from vssl.methods.label_cache import compute_statistics_labels

    path = compute_statistics_labels(args.manifest, split=args.split, clip_len=args.clip_len, stride=args.stride,
                                     out=args.out, progress=not args.quiet, position_step=args.position_step)
    print(f"statistics labels: {path}")


def cmd_data_index(args) -> None:
    from vssl.data.index import build_index, index_path_for
    from vssl.data.manifest import read_manifest

    samples = read_manifest(args.manifest)
    index = build_index(samples, cache=index_path_for(args.manifest), progress=not args.quiet)
    print(f"indexed {len(index.infos)} readable video(s), {len(index.errors)} unreadable → "
          f"{index_path_for(args.manifest)}")


def cmd_data_cache(args) -> None:
    from vssl.data.clip_store import build_clip_store

    build_clip_store(args.manifest, progress=not args.quiet)


def cmd_data_check(args) -> None:
    from vssl.data.check import check
    from vssl.results.report import format_table

    report = check(args.manifest, progress=not args.quiet)
    print(f"{args.manifest}: {report.samples} samples, {report.files} files; "
          + ", ".join(f"{split or '(no split)'}: {n}" for split, n in sorted(report.per_split.items())))
    rows = [[split, label_set, str(len(c)), str(min(c.values())), str(max(c.values()))]
            for (split, label_set), c in sorted(report.classes.items())]
    if rows:
        print(format_table(["split", "label set", "classes", "min/class", "max/class"], rows))
    if not report.ok:
        print(f"{len(report.unreadable)} unreadable file(s):")
        for error in sorted(report.unreadable.values()):
            print(f"  {error}")
        sys.exit(1)
    print("all files readable")


def cmd_pretrain(args) -> None:
    from vssl.app.api import pretrain
    from vssl.core.config import parse_overrides

    out = pretrain(args.preset, parse_overrides(args.overrides))
    print(f"encoder: {out / 'encoder.pt'}  (checkpoints: {out / 'checkpoints'}, logs: {out / 'logs'})")


def cmd_eval(args) -> None:
    from vssl.app.api import eval_config
    from vssl.app.eval_timing import EvalTiming
    from vssl.app.evaluate import run_eval
    from vssl.core.config import parse_overrides
    from vssl.results.report import comparison_table, retrieval_table, summarise

    overrides = (args.overrides + ([f"retrieval.taps={args.taps}"] if args.taps else [])
                 + ([f"seeds={args.seeds}"] if args.seeds is not None else []))
    config = eval_config(args.preset, parse_overrides(overrides))  # what vssl.evaluate builds, then runs
    timing = EvalTiming()
    with timing.phase("total"):
        results = run_eval(args.protocols.split(","), config, timing=timing)
    print(comparison_table(summarise(results)))
    by_layer = retrieval_table(results)
    if by_layer:
        print("\n" + by_layer)
    print(f"recorded {len(results)} result(s) in {config.store}")
    print(timing.line())


def cmd_study(args) -> None:
    from pathlib import Path

    from vssl.app.study import load_study, run_study

    config = load_study(args.preset, args.overrides)
    run_study(config, args.out or Path("runs") / "study" / Path(args.preset).stem, progress=not args.quiet)


def cmd_suite(args) -> None:
    from vssl.app.suite import run_suite

    encoders = [e for e in (args.encoders or "").split(",") if e]
    run_suite(args.suite, encoders, args.out or f"runs/suite/{args.suite}", seeds=args.seeds, jobs=args.jobs,
              dry_run=args.dry_run, datasets=args.datasets, progress=not args.quiet, executor=args.executor,
              resources=args.resources)


def cmd_report(args) -> None:
    from vssl.results.html_report import build_report

    identities = dict(pair.split("=", 1) for pair in (args.as_ or "").split(",") if pair)
    page = build_report(args.store, args.out, runs=args.runs, reference=args.reference, identities=identities)
    print(f"written: {page}")


def cmd_results(args) -> None:
    if args.action in ("export", "import"):
        from vssl.results.transfer import export_results, import_results

        if not args.file:
            raise VsslError(f"vssl results {args.action}: name the JSON Lines file, e.g. "
                            f"`vssl results {args.action} results.jsonl --store {args.store}`")
        if args.action == "export":
            print(f"exported {export_results(args.store, args.file)} result(s) from {args.store} to {args.file}")
        else:
            added, present = import_results(args.file, args.store)
            print(f"imported {added} result(s) into {args.store} ({present} already there)")
        return
    from vssl.results.report import (AGREEMENT_HEADERS, comparison_table, count_cell, format_table,
                                     ranking_agreement, summarise, summary_csv)
    from vssl.results.store import ResultStore

    name, _, sha256 = (args.encoder or "").partition("#")  # `name#1a2b3c4d` as the tables show a checkpoint
    filters = {k: v for k, v in (("encoder", name), ("protocol", args.protocol),
                                 ("dataset", args.dataset), ("metric", args.metric)) if v}
    stored = ResultStore(args.store, create=False).query(**filters)  # reading never creates a store
    rows = summarise([r for r in stored if r.encoder_sha256.startswith(sha256)])
    if not rows:
        print(f"no results in {args.store}" + (f" matching {filters}" if filters else ""))
        return
    if args.format == "agreement":
        print(format_table(AGREEMENT_HEADERS, ranking_agreement(rows)))
    elif args.format == "csv":
        print(summary_csv(rows), end="")
    elif args.format == "long":
        print(format_table(["encoder", "protocol", "dataset", "label", "metric", "mean", "std", "seeds", "n",
                            "skipped"],
                           [[r.encoder, r.method, r.dataset, r.label, r.metric, f"{r.mean:.2f}", f"{r.std:.2f}",
                             str(r.seeds), count_cell([r.n]), count_cell([r.skipped])] for r in rows]))
    else:
        print(comparison_table(rows, markdown=args.format == "markdown"))


def cmd_models(args) -> None:
    from vssl.models import summary
    from vssl.results.report import format_table

    rows = [[m.name, f"{m.parameters:,}", f"{m.gflops:.1f}", str(m.feature_dim), f"{m.frames}×{m.size}²",
             ", ".join(m.taps)] for m in summary()]
    print(format_table(["backbone", "params (no head)", "GFLOPs (2×MACs)", "feature dim", "default input",
                        "taps"], rows))


def cmd_methods(args) -> None:
    from vssl.methods import settings

    for name, (doc, defaults) in settings().items():
        print(f"{name}: {doc}")
        for key, default in defaults.items():
            print(f"    method.{key} = {default}")


class IntermixedParser(argparse.ArgumentParser):
    """A parser whose commands take their positionals anywhere among the options, so ``key=value`` overrides may
    follow ``--seeds 3`` (argparse's intermixed parsing; a parser with subcommands parses as usual)."""

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing or any(a.nargs == argparse.PARSER for a in self._get_positional_actions()):
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def preset_names(kind: str) -> str:
    """``presets: a, b, ...`` of ``configs/<kind>``, wrapped for --help."""
    import textwrap

    from vssl.core.config import PRESET_DIR

    names = ", ".join(sorted(p.stem for p in (PRESET_DIR / kind).glob("*.yaml")))
    return textwrap.fill(f"presets: {names}", width=100, subsequent_indent="  ")


def study_durations() -> str:
    """One --help line per study preset: its runs × seeds and how long it takes (the preset's ``minutes``)."""
    from vssl.core.config import PRESET_DIR, load_preset

    lines = []
    for path in sorted((PRESET_DIR / "study").glob("*.yaml")):
        data = load_preset(path.stem, "study")
        runs, seeds, minutes = len(data.get("runs") or {}), data.get("seeds", 3), data.get("minutes", 0)
        lines.append(f"  {path.stem:<20} {runs} run(s) × {seeds} seed(s) = {runs * seeds} pre-training runs, "
                     + (f"about {minutes:g} min on 2 CPU cores" if minutes else "duration not measured"))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = IntermixedParser(prog="vssl", description="Self-supervised video representation learning "
                              "and its honest benchmarking.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="world32 synthetic data → supervised ceiling, VCOP and random init → kNN/linear table")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--epochs", type=int, default=None, help="pre-training epochs (default: the preset's)")
    p.add_argument("--seeds", type=int, default=1, help="pre-train and evaluate this many seeds (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("overrides", nargs="*", help="key=value of the demo study, as for `vssl study demo` "
                   "(e.g. pretrain_overrides=[train.batch_size=16])")
    p.set_defaults(func=cmd_demo)

    data = sub.add_parser("data", help="generate, index, cache and check datasets").add_subparsers(
        dest="data_command", required=True)
    from vssl.data import task_generators
    from vssl.data.synthetic import PRESETS as SYNTH_PRESETS

    p = data.add_parser("synth", help="write the synthetic video benchmark (mp4 files + manifest.csv)",
                        epilog=f"presets: {', '.join([*SYNTH_PRESETS, *task_generators()])} "
                               "(world32_untrimmed: long videos with action segments for localization, ActivityNet "
                               "JSON ground truth; world32_multilabel: 2-3 sprites a video, label set 'motions' "
                               "of their motion classes, for `vssl eval multilabel`; world32_repetition: one sprite "
                               "bouncing or swaying 2-10 times, label set 'count', for `vssl eval counting`; "
                               "world32_boxes: 1-2 sprites a video boxed per keyframe in AVA's CSV format, for "
                               "`vssl eval st_detection`)")
    p.add_argument("--preset", default="tiny", help="tiny (default), world32 (the demo's), ... (all listed below); "
                   "*_domain2: domain shift, *_fine: fine-grained motion (SEVERE-style stand-ins)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="random seed of the benchmark (default 0)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data_synth)
    from vssl.data.formats import describe_format, list_formats

    p = data.add_parser("import", help="official annotation files of a public dataset → manifest + dataset.json",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="formats:\n" + "\n".join(describe_format(f) for f in list_formats())
                        + "\n\nexample: vssl data import ucf101 /data/UCF101 --out data/ucf101_split1.csv "
                          "--option fold=1")
    p.add_argument("format", choices=list_formats())
    p.add_argument("root", help="the dataset's folder: annotation files and videos as released")
    p.add_argument("--out", required=True, help="manifest to write (.csv or .jsonl)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="format option, e.g. fold=2 (repeatable; see the list below)")
    p.set_defaults(func=cmd_data_import)
    labels = data.add_parser("labels", help="pre-compute pretext-task labels").add_subparsers(
        dest="labels_command", required=True)
    p = labels.add_parser("statistics", help="Wang 2020's 14 motion + 13 appearance statistics per clip position "
                          "(Farnebäck flow), cached for `vssl pretrain statistics_tiny ...`")
    p.add_argument("manifest")
    p.add_argument("--split", default="pretrain")
    p.add_argument("--clip-len", type=int, default=16, help="frames per clip (Wang 2020 §3.4.2: 16)")
    p.add_argument("--stride", type=int, default=1, help="frame step inside a clip (default 1: consecutive)")
    p.add_argument("--position-step", type=int, default=None,
                   help="frames between labelled clip starts (default: one clip span, non-overlapping)")
    p.add_argument("--out", default=None, help="cache file (default: next to the manifest)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data_labels_statistics)
    p = data.add_parser("index", help="probe every video of a manifest once and cache frames/fps/size")
    p.add_argument("manifest")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data_index)
    p = data.add_parser("cache", help="decode every video of a manifest once into a uint8 clip store "
                        "(<manifest>.clips/) that loaders read instead of the files")
    p.add_argument("manifest")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_data_cache)
    p = data.add_parser("check", help="report unreadable files and label statistics of a manifest")
    p.add_argument("manifest")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data_check)

    p = sub.add_parser("pretrain", help="self-supervised pre-training from a preset plus key=value overrides",
                       epilog=f"{preset_names('pretrain')}\n"
                              "example: vssl pretrain rho_moco_tiny data.manifest=data/manifest.csv train.epochs=5",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("preset", nargs="?", default=None, help="preset name in configs/pretrain or a YAML file")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.set_defaults(func=cmd_pretrain)

    from vssl.evaluation.protocols import protocol_names

    protocols = ", ".join(protocol_names())
    p = sub.add_parser("eval", help=f"evaluate an encoder: {protocols} (comma-separated)",
                       epilog=f"{preset_names('eval')}\n"
                              "example: vssl eval knn,linear,retrieval synthetic_tiny data.manifest=data/manifest.csv "
                              "encoder.checkpoint=runs/pretrain/encoder.pt --taps all",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("protocols", help=f"comma-separated: {protocols}")
    p.add_argument("preset", nargs="?", default=None, help="preset name in configs/eval or a YAML file")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.add_argument("--taps", default=None, help="retrieval taps: all, or comma-separated pool1..pool5 / backbone "
                                                "tap names (same as retrieval.taps=...)")
    p.add_argument("--seeds", type=int, default=None, help="repeat with seeds 0..N-1 (same as seeds=N); "
                   "`vssl results` then reports mean ± std")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("study", help="a grid of pre-training runs × seeds, all evaluated the same way, as one table",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"presets (time scales with the seeds, e.g. seeds=1):\n{study_durations()}\n"
                              "example: vssl study rho_synthetic seeds=1 --out runs/rho")
    p.add_argument("preset", help="preset name in configs/study or a YAML file")
    p.add_argument("overrides", nargs="*", help="key=value, e.g. seeds=1 or pretrain_overrides=[train.epochs=2]")
    p.add_argument("--out", default=None, help="output folder (default: runs/study/<preset>)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser("suite", help="a benchmark suite: encoders × tasks × seeds as jobs, resumable and parallel",
                       epilog=f"{preset_names('suite')}\nexample: vssl suite severe_synthetic --encoders "
                              "random,runs/vcop/encoder.pt --seeds 3 --jobs 2",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", help="suite preset in configs/suite or a YAML file")
    p.add_argument("--encoders", required=True, help="comma-separated checkpoint paths and/or 'random'")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per encoder and task (default 3)")
    p.add_argument("--jobs", type=int, default=1, help="jobs run at the same time, each its own process (default 1)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (job hash, status, task, seed, encoder)")
    p.add_argument("--datasets", default=None, help="datasets.yaml: dataset name → manifest, for real-data suites")
    p.add_argument("--executor", default="process", choices=("process", "local", "slurm"),
                   help="process (default): --jobs processes here; local / slurm: submitit (one job array)")
    p.add_argument("--resources", default=None,
                   help="YAML of submitit parameters, e.g. slurm_partition, gpus_per_node, timeout_min")
    p.add_argument("--out", default=None, help="output folder (default: runs/suite/<suite>)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_suite)

    p = sub.add_parser("report", help="a static HTML report of a results store (tables, charts, CSV and LaTeX)")
    p.add_argument("--store", default="runs/results.sqlite", help="results store (default: runs/results.sqlite)")
    p.add_argument("--out", default="report", help="output folder (default: report)")
    p.add_argument("--runs", default=None, help="a study's pretrain/ folder: loss curves and links to run configs")
    p.add_argument("--reference", default=None, help="a shipped table of published numbers, e.g. severe_table_4_4")
    p.add_argument("--as", dest="as_", default=None,
                   help="ours=published names, e.g. random=None,runs/moco/encoder.pt=MoCo (default: every row)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("results", help="print stored results (mean ± std over seeds); export or import them")
    p.add_argument("action", nargs="?", default="show", choices=("show", "export", "import"),
                   help="show (default); export: write the store to FILE (JSON Lines); import: add FILE's results "
                        "that the store lacks")
    p.add_argument("file", nargs="?", default=None, help="the JSON Lines file of export / import")
    p.add_argument("--store", default="runs/results.sqlite", help="results store (default: runs/results.sqlite)")
    p.add_argument("--encoder", help="only this encoder (e.g. random, or a run's name; "
                   "name#<hash prefix> for one checkpoint of a name, as the tables show it)")
    p.add_argument("--protocol", help="only this protocol (e.g. knn, linear, finetune, retrieval@pool5)")
    p.add_argument("--dataset", help="only this dataset (data.name of the evaluation)")
    p.add_argument("--metric", help="only this metric (e.g. top1, top5)")
    p.add_argument("--format", choices=["table", "long", "markdown", "csv", "agreement"], default="table",
                   help="table (default): one column per encoder; long: one line per result; markdown, csv; "
                        "agreement: Kendall's τ between the method rankings of every two protocols")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("models", help="list backbones with parameter counts and taps")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("methods", help="list self-supervised methods and their settings")
    p.set_defaults(func=cmd_methods)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if getattr(args, "preset", None) and "=" in args.preset and args.command in ("pretrain", "eval"):
        args.overrides.insert(0, args.preset)  # no preset given: the first word was already an override
        args.preset = None
    try:
        args.func(args)
    except VsslError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # a folder or file that cannot be made or written, met outside vssl.core.io
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
