"""`vssl eval multilabel` and `multilabel_finetune`: multi-label classification (Charades; Thoker 2023 Ch. 4 task
shift) with sigmoid binary cross-entropy, by a linear probe on frozen pooled features of every view or by fine-tuning
the encoder on one random clip per video; a test video scores each class by its best view (max-pool over clips),
and the mAP (%) of every label set of ``data.labels`` is stored. Each such label set holds several classes a video
(:func:`vssl.data.manifest.label_list`), its class order that of the dataset's sidecar."""

from __future__ import annotations

import functools
from dataclasses import replace

import torch
from torch import nn

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, FeatureCache, Recorder, frozen_features
from vssl.core.errors import ConfigError, VsslError
from vssl.core.runtime import Placement
from vssl.data.formats.common import official_order
from vssl.data.manifest import Sample, label_list
from vssl.evaluation.features import readable_rows
from vssl.evaluation.finetune import predict, train_classifier
from vssl.evaluation.linear import train_linear_probe
from vssl.evaluation.multilabel import multilabel_metrics, sigmoid_max_over_views
from vssl.evaluation.protocols import ENCODER_TAP, MULTILABEL

LINEAR, FINETUNED = MULTILABEL


def multilabel_classes(manifest: str, samples: list[Sample], label_set: str) -> list[str]:
    """Class names of a multi-label set in index order: the dataset's official order from the sidecar when it lists
    the label set (e.g. Charades_v1_classes.txt), else the classes the samples name, sorted."""
    named = sorted({name for sample in samples for name in label_list(sample, label_set)})
    if not named:
        raise VsslError(f"{manifest}: no video has a class in label set '{label_set}'")
    return official_order(manifest, named, label_set)


def multi_hot(samples: list[Sample], label_set: str, classes: list[str]) -> torch.Tensor:
    """0/1 targets [videos, classes] of a multi-label set."""
    column = {name: i for i, name in enumerate(classes)}
    targets = torch.zeros(len(samples), len(classes))
    for row, sample in enumerate(samples):
        for name in label_list(sample, label_set):
            targets[row, column[name]] = 1.0
    return targets


def scored(label_set: str, scores: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """mAP of the video scores [M, C] against 0/1 targets [M, C]; refuses a test split without any positive."""
    if not targets.any():
        raise VsslError(f"label set '{label_set}': no test video has a class, so there is no mAP to compute")
    return multilabel_metrics(scores.numpy(), targets.numpy())


def run_multilabel(protocols: list[str], config: EvalConfig, data: EvalData, seed: int, cache: FeatureCache,
                   source: EncoderSource, recorder: Recorder, timing: EvalTiming) -> set[str]:
    """The requested variants for every label set of ``data.labels``, stored as ``multilabel`` (linear probe on
    frozen features, ``linear`` section) and ``multilabel_finetune`` (``finetune`` section). → skipped paths."""
    if config.data.train_subset:
        raise ConfigError("data.train_subset: class-balanced subsets need one class per video; the multi-label "
                          "protocols train on every training video")
    classes = {label: multilabel_classes(config.data.manifest, data.train + data.test, label)
               for label in config.data.labels}
    skipped: set[str] = set()
    if LINEAR in protocols:
        skipped |= run_linear(config, data, classes, seed, cache, source, recorder, timing)
    if FINETUNED in protocols:
        for label, names in classes.items():
            with timing.phase("protocols"):
                skipped |= run_finetuned(config, data, label, names, seed, source, recorder)
    return skipped


def run_linear(config: EvalConfig, data: EvalData, classes: dict[str, list[str]], seed: int, cache: FeatureCache,
               source: EncoderSource, recorder: Recorder, timing: EvalTiming) -> set[str]:
    """BCE linear probe on the pooled features of every view of every training video (the ``linear`` recipe)."""
    encoder = functools.cache(lambda: source.encoder(seed))  # built only when a feature is not in the cache
    views = replace(config, data=replace(config.data, labels=()))  # clips without class indices
    skipped: set[str] = set()
    splits = {}
    for split, samples in ((config.data.train_split, data.train), (config.data.test_split, data.test)):
        dataset, features = frozen_features(views, data, source, encoder, seed, cache, split, samples,
                                            [ENCODER_TAP], timing, skipped)
        readable = readable_rows(features[ENCODER_TAP])
        splits[split] = (features[ENCODER_TAP][readable],
                         [sample for sample, ok in zip(dataset.samples, readable.tolist()) if ok])
    (x_train, train), (x_test, test) = splits[config.data.train_split], splits[config.data.test_split]
    placement = Placement.for_eval(config.device, config.amp)
    for label, names in classes.items():
        with timing.phase("protocols"):
            scores = train_linear_probe(x_train, multi_hot(train, label, names), x_test, len(names), config.linear,
                                        seed, placement, nn.BCEWithLogitsLoss(), sigmoid_max_over_views)
            metrics = scored(label, scores, multi_hot(test, label, names))
        recorder.record(LINEAR, label, seed, metrics, len(test))
    return skipped


def run_finetuned(config: EvalConfig, data: EvalData, label: str, classes: list[str], seed: int,
                  source: EncoderSource, recorder: Recorder) -> set[str]:
    """Fine-tune encoder + dropout + linear head with BCE on one random clip per training video (the ``finetune``
    recipe), then score every test view."""
    torch.manual_seed(seed)
    c = config.data
    train_set = data.clips(data.train, [], training=True, seed=seed)
    train_targets = multi_hot(train_set.samples, label, classes)
    model, placement, skipped = train_classifier(
        source.encoder(seed), train_set, len(classes), config.finetune, c.num_workers, config.progress,
        Placement.for_eval(config.device, config.amp), nn.BCEWithLogitsLoss(),
        lambda batch: train_targets[batch["index"]])
    test_set = data.clips(data.test, [], seed=seed)
    scores, test_skipped = predict(model, test_set, len(classes), c.batch_size, c.num_workers, placement,
                                   sigmoid_max_over_views)
    readable = ~scores.isnan().any(dim=1)
    targets = multi_hot(test_set.samples, label, classes)[readable]
    recorder.record(FINETUNED, label, seed, scored(label, scores[readable], targets), len(targets))
    return {*skipped, *train_set.unreadable, *test_skipped, *test_set.unreadable}
