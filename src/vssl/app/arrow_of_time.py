"""`vssl eval arrow`: the arrow-of-time task shift (:mod:`vssl.evaluation.arrow_of_time`) by a linear probe on frozen
features of forward and reversed clips of every training and test video."""

from __future__ import annotations

import functools

import torch

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, FeatureCache, Recorder, frozen_features
from vssl.core.runtime import Placement
from vssl.evaluation.arrow_of_time import LinearFramesSampler
from vssl.evaluation.features import readable_rows
from vssl.evaluation.protocols import ARROW, ENCODER_TAP, FROZEN


def run_arrow_of_time(config: EvalConfig, data: EvalData, seed: int, cache: FeatureCache, source: EncoderSource,
                      recorder: Recorder, timing: EvalTiming) -> set[str]:
    """Linear probe on pooled features: forward clips labelled 0 and the same clips reversed labelled 1, trained on
    the training split, scored on the test split (stored as ``arrow``, label ``direction``). → skipped paths."""
    skipped: set[str] = set()
    encoder = functools.cache(lambda: source.encoder(seed))
    split_features = {}
    for split, samples in ((config.data.train_split, data.train), (config.data.test_split, data.test)):
        rows = []
        for backward in (False, True):
            sampler = LinearFramesSampler(backward=backward)
            _, features = frozen_features(config, data, source, encoder, seed, cache, split, samples, [ENCODER_TAP],
                                          timing, skipped, sampler=sampler, sampler_key=sampler.key())
            rows.append(features[ENCODER_TAP])
        both = torch.cat(rows)
        labels = torch.cat([torch.zeros(len(rows[0]), dtype=torch.long), torch.ones(len(rows[1]), dtype=torch.long)])
        readable = readable_rows(both)
        split_features[split] = (both[readable], labels[readable])
    (x_train, y_train), (x_test, y_test) = split_features[config.data.train_split], split_features[config.data.test_split]
    with timing.phase("protocols"):
        metrics = FROZEN["linear"].run(x_train, y_train, x_test, y_test, 2, config.linear, seed,
                                       Placement.for_eval(config.device, config.amp))
    recorder.record(ARROW, "direction", seed, metrics, len(y_test))
    return skipped
