"""`vssl eval arrow` / `arrow_finetune`: the arrow-of-time task shift (:mod:`vssl.evaluation.arrow_of_time`) by a
linear probe on frozen features of forward and reversed clips of every training and test video, or by fine-tuning
the encoder with a binary head on them (Thoker 2023, Table C.4: frozen and fine-tuned)."""

from __future__ import annotations

import functools

import torch
from torch.utils.data import Dataset

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, FeatureCache, Recorder, frozen_features
from vssl.core.runtime import Placement
from vssl.data.loader import VideoClipDataset
from vssl.evaluation.arrow_of_time import LinearFramesSampler
from vssl.evaluation.features import readable_rows
from vssl.evaluation.finetune import predict, train_classifier
from vssl.evaluation.metrics import classification_metrics
from vssl.evaluation.protocols import ARROW, ARROW_FINETUNE, ENCODER_TAP, FROZEN


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


class BothDirections(Dataset):
    """Every video twice: item i < N is video i forwards (label 0), item N + i the same video reversed (label 1);
    keys and ``seed`` as :class:`VideoClipDataset`, so fine-tuning's loader and loop take it unchanged."""

    def __init__(self, forward: VideoClipDataset, backward: VideoClipDataset):
        self.directions, self.seed = (forward, backward), forward.seed
        self.samples = forward.samples + backward.samples
        self.unreadable = forward.unreadable

    def __len__(self) -> int:
        return 2 * len(self.directions[0])

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, i = key if isinstance(key, tuple) else (0, key)
        count = len(self.directions[0])
        item = dict(self.directions[i >= count][(epoch, i % count)])
        item.update(index=i, labels=torch.tensor([int(i >= count)]))
        return item


def direction_clips(data: EvalData, samples, training: bool, seed: int) -> BothDirections:
    """Forward and reversed linearly spread clips of ``samples``, with fine-tuning's augmentation when training."""
    forward, backward = (data.clips(samples, [], training=training, seed=seed,
                                    sampler=LinearFramesSampler(backward=b)) for b in (False, True))
    return BothDirections(forward, backward)


def run_arrow_finetune(config: EvalConfig, data: EvalData, seed: int, source: EncoderSource, recorder: Recorder,
                       timing: EvalTiming) -> set[str]:
    """Fine-tune encoder + a 2-way head on forward/reversed training clips (``finetune``'s recipe); binary top-1
    on the test split's forward and reversed clips (stored as ``arrow_finetune``, label ``direction``)."""
    torch.manual_seed(seed)
    c = config.data
    train_set = direction_clips(data, data.train, training=True, seed=seed)
    with timing.phase("protocols"):
        model, placement, skipped = train_classifier(source.encoder(seed), train_set, 2, config.finetune,
                                                     c.num_workers, config.progress,
                                                     Placement.for_eval(config.device, config.amp))
        test_set = direction_clips(data, data.test, training=False, seed=seed)
        scores, test_skipped = predict(model, test_set, 2, c.batch_size, c.num_workers, placement)
    readable = ~scores.isnan().any(dim=1)
    targets = (torch.arange(len(test_set)) >= len(test_set) // 2).long()
    recorder.record(ARROW_FINETUNE, "direction", seed, classification_metrics(scores[readable], targets[readable]),
                    int(readable.sum()))
    return {*skipped, *test_skipped, *train_set.unreadable}
