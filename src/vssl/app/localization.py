"""`vssl eval localization`: temporal action proposals and detection on frozen snippet features of untrimmed
videos (Resnick et al. 2019, Tables 3–4; BSN): features from the feature cache, TEM and PEM trained on the
training split, scored on the test split; results go to the store, and the proposals (ActivityNet results JSON),
the recall-vs-tIoU curve (PNG) and the per-class recall (CSV) to a folder beside it."""

from __future__ import annotations

import csv
import functools
import io
import re
from pathlib import Path

import numpy as np
import torch

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, FeatureCache, Recorder, frozen_features
from vssl.core.errors import ConfigError, VsslError
from vssl.core.io import write_json_atomic, write_text_atomic
from vssl.data.formats.temporal_annotations import (THUMOS_SPLITS, TemporalAnnotation, read_activitynet_json,
                                                    read_thumos14)
from vssl.data.manifest import Sample
from vssl.data.sampling import SnippetSampler
from vssl.evaluation import localization as loc
from vssl.evaluation.features import readable_rows
from vssl.evaluation.protocols import ENCODER_TAP, LOCALIZATION
from vssl.results.line_chart import write_line_chart_png
from vssl.results.store import local_folder

OUTPUT_FOLDER = "localization"  # beside the results store


DEFAULT_ANNOTATIONS = "annotations.json"  # beside the manifest, when localization.annotations is unset


def annotations_path(config: EvalConfig) -> Path:
    """``localization.annotations``, else the annotations.json beside the manifest."""
    if config.localization.annotations:
        return Path(config.localization.annotations)
    beside = Path(config.data.manifest).parent / DEFAULT_ANNOTATIONS
    if not beside.is_file():
        raise ConfigError(f"missing config key 'localization.annotations' (ActivityNet JSON or THUMOS14 folder); "
                          f"no {beside} either")
    return beside


def read_annotations(path: Path) -> dict[str, TemporalAnnotation]:
    """An ActivityNet-style JSON file, or a THUMOS14 folder (its val and test files together)."""
    if path.is_dir():
        videos: dict[str, TemporalAnnotation] = {}
        for split in THUMOS_SPLITS:
            if any(path.glob(f"*_{split}.txt")):
                videos.update(read_thumos14(path, split))
        if not videos:
            raise VsslError(f"{path}: no THUMOS14 annotation files '<Class>_val.txt' or '<Class>_test.txt'")
        return videos
    return read_activitynet_json(path)


def video_name(sample: Sample) -> str:
    """A video's key in the annotations: its file name without extension."""
    return Path(sample.path).stem


class SplitFeatures:
    """One split's readable annotated videos: names, durations (s), snippet features [N, scale, D] and their
    (start, end, label) ground truth in seconds."""

    def __init__(self, samples: list[Sample], features: torch.Tensor, data: EvalData,
                 annotations: dict[str, TemporalAnnotation]):
        keep = readable_rows(features).tolist()
        self.names, self.durations, self.truth, rows = [], [], [], []
        for row, (sample, ok) in enumerate(zip(samples, keep)):
            entry = annotations.get(video_name(sample))
            if not ok or entry is None:
                continue
            self.names.append(video_name(sample))
            self.durations.append(entry.duration or data.index[sample.path].duration)
            self.truth.append(sorted(entry.segments))
            rows.append(row)
        self.features = features[rows]

    def fractions(self) -> list[np.ndarray]:
        """Each video's segments [G, 2] as fractions of its duration."""
        return [np.array([(s / d, e / d) for s, e, _ in truth]).reshape(-1, 2).clip(0, 1)
                for truth, d in zip(self.truth, self.durations)]


def snippet_features(config: EvalConfig, data: EvalData, source: EncoderSource, seed: int, cache: FeatureCache,
                     timing: EvalTiming, skipped: set[str]) -> dict[str, torch.Tensor]:
    """{split: [N, scale, D]} pooled features of every manifest video's snippets (one centre crop each)."""
    c, lc = config.data, config.localization
    if c.crops != 1:
        raise ConfigError(f"data.crops={c.crops}: localization reads one centre crop per snippet; set data.crops=1")
    sampler = SnippetSampler(c.clip_len, c.stride, lc.snippet_stride, lc.scale)
    encoder = functools.cache(lambda: source.encoder(seed))
    out = {}
    for split, samples in ((c.train_split, data.train), (c.test_split, data.test)):
        _, features = frozen_features(config, data, source, encoder, seed, cache, split, samples, [ENCODER_TAP],
                                      timing, skipped, sampler=sampler, sampler_key=sampler.key())
        out[split] = features[ENCODER_TAP]
    return out


def write_outputs(folder: Path, proposals: dict[str, np.ndarray], per_class: dict[str, float],
                  curve: np.ndarray, config: EvalConfig) -> None:
    """proposals.json (the ActivityNet challenge's results format), recall_tiou.png and per_class_recall.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    results = {video: [{"segment": [round(s, 3), round(e, 3)], "score": round(p, 6)} for s, e, p in found.tolist()]
               for video, found in proposals.items()}
    write_json_atomic(folder / "proposals.json", {"version": "vssl localization", "results": results,
                                                  "external_data": {}})
    tiou, _ = loc.TIOU_SETS[config.localization.tiou]
    write_line_chart_png(folder / "recall_tiou.png", tiou, {f"AN={loc.RECALL_BUDGET}": curve}, "tIoU", "recall %",
                         f"{config.data.name or 'test'}: recall vs tIoU", y_range=(0.0, 100.0))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["class", f"recall % at tIoU {loc.CLASS_RECALL_TIOU}"])
    writer.writerows([name, f"{value:.2f}"] for name, value in per_class.items())
    write_text_atomic(folder / "per_class_recall.csv", text.getvalue())


def run_localization(config: EvalConfig, data: EvalData, seed: int, cache: FeatureCache, source: EncoderSource,
                     recorder: Recorder, timing: EvalTiming) -> set[str]:
    """BSN on frozen snippet features; records AR@AN (label ``proposals``), per-class recall at tIoU 0.5 (label
    ``per_class``, one metric per class) and detection mAP (label ``detection``). → skipped paths."""
    lc = config.localization
    lc.check()
    where = annotations_path(config)
    annotations = read_annotations(where)
    skipped: set[str] = set()
    features = snippet_features(config, data, source, seed, cache, timing, skipped)
    train = SplitFeatures(data.train, features[config.data.train_split], data, annotations)
    test = SplitFeatures(data.test, features[config.data.test_split], data, annotations)
    for split, part in ((config.data.train_split, train), (config.data.test_split, test)):
        if not any(part.truth):
            raise VsslError(f"{where}: no annotated action in any readable video of split '{split}' "
                            "(videos are matched by file name without extension)")
    classes = sorted({label for truth in train.truth for _, _, label in truth})
    generator = torch.Generator().manual_seed(seed)
    with timing.phase("protocols"):
        tem = loc.train_tem(train.features, train.fractions(), lc, generator)
        pem = loc.train_pem(loc.tem_curves(tem, train.features), train.fractions(), lc, generator)
        test_curves = loc.tem_curves(tem, test.features)
        proposals = {name: loc.to_seconds(loc.video_proposals(curves, pem, lc), duration)
                     for name, curves, duration in zip(test.names, test_curves, test.durations)}
        labels = [{classes.index(label) for _, _, label in truth if label in classes} for truth in train.truth]
        classifier = loc.train_video_classifier(train.features, labels, len(classes), generator)
        scores = dict(zip(test.names, loc.video_class_scores(classifier, test.features)))
        found = loc.detections(proposals, scores, classes, lc.classes_per_video)
        truth = {name: items for name, items in zip(test.names, test.truth)}
        recall, per_class, mean_ap, curve = loc.localization_metrics(truth, proposals, found, lc)
    n_test = sum(1 for items in test.truth if items)
    rule = f"{lc.front_end} tiou={lc.tiou}"
    recorder.record(LOCALIZATION, "proposals", seed, recall, n_test, rule)
    recorder.record(LOCALIZATION, "per_class", seed, per_class, n_test, rule)
    recorder.record(LOCALIZATION, "detection", seed, mean_ap, n_test, rule)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", recorder.encoder)
    folder = local_folder(config.store) / OUTPUT_FOLDER / f"{safe}-{recorder.run_id}-seed{seed}"
    write_outputs(folder, proposals, per_class, curve, config)
    print(f"localization outputs: {folder}")
    return skipped
