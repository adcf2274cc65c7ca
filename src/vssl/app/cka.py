"""`vssl eval cka`: the layer × layer CKA map of two encoders (or of one with itself) on the same test clips, stored
as results and written as a heat-map PNG and a CSV (Kumar et al. 2023, §4.5)."""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import replace

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, FeatureCache, Recorder, encoder_name, frozen_features
from vssl.core.io import atomic_path
from vssl.evaluation.cka import cka_map, write_heatmap_png
from vssl.evaluation.features import readable_rows
from vssl.evaluation.protocols import CKA
from vssl.results.store import local_folder


def run_cka(config: EvalConfig, data: EvalData, seed: int, cache: FeatureCache, source: EncoderSource,
            recorder: Recorder, timing: EvalTiming) -> set[str]:
    """CKA of every tap of the encoder (rows) against every tap of ``cka.other`` (columns) on the pooled test
    features, views averaged; results stored with the other encoder's name as the label and ``<row>|<column>`` as
    the metric. → skipped video paths."""
    skipped: set[str] = set()

    def features_of(cfg: EvalConfig, src: EncoderSource) -> dict:
        build = functools.cache(lambda: src.encoder(seed))  # built only when a feature is not in the cache
        with timing.phase("setup"):
            taps = list(src.tap_names(build))
        return frozen_features(cfg, data, src, build, seed, cache, config.data.test_split, data.test, taps, timing,
                               skipped)[1]

    other_config = config
    features = {"a": features_of(config, source)}
    if config.cka.other:
        other_config = replace(config, encoder=replace(config.encoder, checkpoint=config.cka.other,
                                                       name=config.cka.other_name))
        features["b"] = features_of(other_config, EncoderSource(other_config.encoder))
    else:
        features["b"] = features["a"]
    rows = readable_rows(next(iter(features["a"].values()))) & readable_rows(next(iter(features["b"].values())))
    a = {tap: value[rows].mean(dim=1) for tap, value in features["a"].items()}
    b = {tap: value[rows].mean(dim=1) for tap, value in features["b"].items()}
    with timing.phase("protocols"):
        matrix = cka_map(a, b, config.cka.unbiased, config.cka.batch_size)
    other_name = encoder_name(other_config.encoder)
    metrics = {f"{row}|{column}": float(matrix[i, j]) for i, row in enumerate(a) for j, column in enumerate(b)}
    recorder.record(CKA, other_name, seed, metrics, int(rows.sum()), "unbiased HSIC" if config.cka.unbiased else "")
    stem = local_folder(config.store) / "cka" / f"{recorder.encoder}_vs_{other_name}_seed{seed}_{recorder.run_id}"
    write_heatmap_png(matrix, stem.with_suffix(".png"))
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow([f"{recorder.encoder} \\ {other_name}", *b])
    writer.writerows([row, *(f"{v:.6f}" for v in matrix[i])] for i, row in enumerate(a))
    with atomic_path(stem.with_suffix(".csv")) as partial:
        partial.write_text(table.getvalue())
    print(f"cka: {len(a)} × {len(b)} map on {int(rows.sum())} videos → {stem}.png, {stem}.csv")
    return skipped
