"""Online kNN monitor: top-1 kNN accuracy of the encoder on a labelled split, logged during pre-training."""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch

from vssl.core.config import ranged
from vssl.core.runtime import Placement
from vssl.data.clip_store import ClipStore
from vssl.data.index import VideoIndex
from vssl.data.loader import VideoClipDataset
from vssl.data.manifest import Sample, class_names
from vssl.data.sampling import UniformClipSampler
from vssl.data.transforms import build_eval_transform
from vssl.evaluation.features import extract_clip_features, readable_rows
from vssl.evaluation.knn import WEIGHTED_VOTE_TEMPERATURE, knn_scores
from vssl.evaluation.metrics import topk_accuracy


@dataclass
class MonitorConfig:
    label: str = ""  # label set to monitor; "" = no monitor
    train_split: str = "train"
    test_split: str = "test"
    k: int = ranged(20, ge=1)
    temperature: float | None = ranged(WEIGHTED_VOTE_TEMPERATURE, gt=0)  # the kNN vote of `vssl eval` (knn.temperature)
    num_clips: int = ranged(1, ge=1)  # uniformly spaced clips per video (1 keeps the monitor cheap)
    every_n_epochs: int = ranged(1, ge=1)


class KnnMonitor(L.Callback):
    """Logs ``monitor/knn_top1`` every ``every_n_epochs`` epochs, from frozen features of the current encoder.

    Features and the kNN vote are computed on the LightningModule's own device (in fp32), then read on the CPU.
    """

    def __init__(self, config: MonitorConfig, train: list[Sample], test: list[Sample], index: VideoIndex,
                 clip_len: int, stride: int, crop_size: int, short_side: int, batch_size: int, num_workers: int,
                 store: ClipStore | None = None):
        classes = {config.label: class_names(train + test, config.label)}
        sampler = UniformClipSampler(clip_len, stride, config.num_clips)
        transform = build_eval_transform(crop_size, short_side)
        self.train_set = VideoClipDataset(train, index, sampler, transform, [config.label], classes, store=store)
        self.test_set = VideoClipDataset(test, index, sampler, transform, [config.label], classes, store=store)
        self.num_classes = len(classes[config.label])
        self.config = config
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.history: list[float] = []

    def on_train_epoch_end(self, trainer, pl_module):
        if (trainer.current_epoch + 1) % self.config.every_n_epochs:
            return
        encoder = pl_module.encoder
        placement = Placement(pl_module.device)
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the monitor must not change the training run's random stream
            train, _ = extract_clip_features(encoder, self.train_set, self.batch_size, self.num_workers, False,
                                             placement=placement)
            test, _ = extract_clip_features(encoder, self.test_set, self.batch_size, self.num_workers, False,
                                            placement=placement)
        encoder.train()
        train_ok, test_ok = readable_rows(train), readable_rows(test)
        label = self.config.label
        y_train = torch.as_tensor(self.train_set.labels(label))[train_ok]
        y_test = torch.as_tensor(self.test_set.labels(label))[test_ok]
        votes = placement.host(knn_scores(placement.tensor(train[train_ok].mean(dim=1)), placement.tensor(y_train),
                                          placement.tensor(test[test_ok].mean(dim=1)), self.num_classes,
                                          self.config.k, self.config.temperature))
        accuracy = topk_accuracy(votes, y_test)
        self.history.append(accuracy)
        pl_module.log("monitor/knn_top1", accuracy, on_step=False, on_epoch=True, prog_bar=True)
