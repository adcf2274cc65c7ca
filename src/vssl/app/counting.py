"""`vssl eval counting`: fine-tune the encoder with a count regression head (:mod:`vssl.evaluation.counting`)."""

from __future__ import annotations

import torch

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, Recorder
from vssl.core.runtime import Placement
from vssl.data.formats.repetition import COUNT_LABEL
from vssl.evaluation.arrow_of_time import LinearFramesSampler
from vssl.evaluation.counting import counting_metrics, predict_counts, sample_counts, train_counter
from vssl.evaluation.protocols import COUNTING


def run_counting(config: EvalConfig, data: EvalData, seed: int, source: EncoderSource, recorder: Recorder,
                 timing: EvalTiming) -> set[str]:
    """Train on one clip of ``data.clip_len`` frames spread evenly over each training video's repeating segment
    (the whole count in view; augmented by crop and flip) with the ``finetune`` settings, then predict the count of
    each test video from the same clip (``data.crops`` crops averaged); stored as ``counting``, label ``count``.
    The counts are read from the samples' ``count`` label, not from ``data.labels`` (a count seen only at test time
    is no unknown class). → skipped paths."""
    torch.manual_seed(seed)
    sampler = LinearFramesSampler(frames=config.data.clip_len)
    c = config.data
    with timing.phase("protocols"):
        train_set = data.clips(data.train_samples(COUNT_LABEL), [], training=True, seed=seed, sampler=sampler)
        test_set = data.clips(data.test, [], seed=seed, sampler=sampler)
        targets = sample_counts(test_set.samples)  # a bad label fails before any training
        model, placement, skipped = train_counter(source.encoder(seed), train_set, config.finetune, c.num_workers,
                                                  config.progress, Placement.for_eval(config.device, config.amp))
        predicted, scored, test_skipped = predict_counts(model, test_set, c.batch_size, c.num_workers, placement)
        metrics = counting_metrics(predicted[scored], targets[scored])
    recorder.record(COUNTING, COUNT_LABEL, seed, metrics, int(scored.sum()))
    return {*skipped, *train_set.unreadable, *test_skipped, *test_set.unreadable}
