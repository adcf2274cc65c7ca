"""`vssl eval`: load an encoder (checkpoint or random init), run protocols on a manifest, record results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vssl.benchmark.store import Result, ResultStore
from vssl.config import config_hash
from vssl.data.index import build_index, index_path_for
from vssl.data.loader import VideoClipDataset
from vssl.data.manifest import class_names, read_manifest
from vssl.data.sampling import RandomClipSampler, UniformClipSampler
from vssl.data.transforms import build_eval_transform, build_train_transform
from vssl.errors import ConfigError, VsslError
from vssl.evaluation.features import extract_clip_features, readable_rows
from vssl.evaluation.finetune import FinetuneConfig, finetune
from vssl.evaluation.knn import knn_scores
from vssl.evaluation.linear import LinearConfig, train_linear_probe
from vssl.evaluation.metrics import classification_metrics
from vssl.models.checkpoints import load_encoder
from vssl.models.registry import build_backbone
from vssl.runtime import share_cpu_with_workers

PROTOCOLS = ("knn", "linear", "finetune")


@dataclass
class EvalDataConfig:
    manifest: str = ""
    name: str = ""  # dataset name in the results; default: the manifest's folder name
    train_split: str = "train"
    test_split: str = "test"
    labels: tuple[str, ...] = ("label",)  # label sets to evaluate, each on its own
    clip_len: int = 8  # seed 001: T×τ = 8×8
    stride: int = 8
    num_clips: int = 10  # seed 001 §5: 10 uniformly spaced clips per test video
    crop_size: int = 224
    short_side: int = 256  # seed 001 §5: test short side 256
    batch_size: int = 8
    num_workers: int = 2


@dataclass
class EncoderConfig:
    checkpoint: str = "random"  # an encoder.pt / last.ckpt of `vssl pretrain`, or "random" for random init
    name: str = ""  # encoder name in the results; default "random" or the checkpoint's run folder
    backbone: str = "r3d_18"  # used for random init only; checkpoints carry their own
    width: float = 1.0
    depth: tuple[int, ...] | None = None  # None = the backbone's own default


@dataclass
class KnnConfig:
    k: int = 20
    temperature: float | None = None  # None: majority vote; else exp(sim/T)-weighted vote


@dataclass
class EvalConfig:
    data: EvalDataConfig = field(default_factory=EvalDataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    knn: KnnConfig = field(default_factory=KnnConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    seed: int = 0
    seeds: int = 1  # repeat each protocol with seeds seed, seed+1, ...
    store: str = "runs/results.sqlite"
    progress: bool = True


def encoder_name(config: EncoderConfig) -> str:
    if config.name:
        return config.name
    if config.checkpoint == "random":
        return "random"
    path = Path(config.checkpoint)
    return path.parent.parent.name if path.parent.name == "checkpoints" else path.parent.name


def build_encoder(config: EncoderConfig, seed: int):
    """The encoder to evaluate: loaded weights, or a random init drawn from ``seed``."""
    if config.checkpoint == "random":
        torch.manual_seed(seed)
        depth = {} if config.depth is None else {"depth": tuple(config.depth)}
        return build_backbone(config.backbone, width=config.width, **depth)
    encoder, _, _, report = load_encoder(config.checkpoint)
    if report.missing or report.unexpected:
        print(f"{config.checkpoint}: {report.summary()}")
    return encoder


class EvalData:
    """Train/test samples of the manifest, their class names, and datasets built on demand."""

    def __init__(self, config: EvalDataConfig, progress: bool):
        self.config = config
        self.train = read_manifest(config.manifest, split=config.train_split)
        self.test = read_manifest(config.manifest, split=config.test_split)
        for split, samples in ((config.train_split, self.train), (config.test_split, self.test)):
            if not samples:
                raise VsslError(f"{config.manifest}: no samples in split '{split}'")
        self.classes = {name: class_names(self.train + self.test, name) for name in config.labels}
        self.index = build_index(self.train + self.test, cache=index_path_for(config.manifest), progress=progress)

    def clips(self, split: str, labels: list[str], training: bool = False, seed: int = 0) -> VideoClipDataset:
        c = self.config
        if training:  # fine-tuning: one random clip, random crop + flip, no colour augmentation
            sampler = RandomClipSampler(c.clip_len, c.stride)
            transform = build_train_transform(c.crop_size, c.short_side, strength=0.0, blur=False, grayscale_p=0.0)
        else:
            sampler = UniformClipSampler(c.clip_len, c.stride, c.num_clips)
            transform = build_eval_transform(c.crop_size, c.short_side)
        samples = self.train if split == "train" else self.test
        return VideoClipDataset(samples, self.index, sampler, transform, labels, self.classes, seed=seed)


def run_eval(protocols: list[str], config: EvalConfig) -> list[Result]:
    """Run each protocol for each label set and seed; record and return the results."""
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ConfigError(f"unknown protocol '{unknown[0]}' (available: {', '.join(PROTOCOLS)})")
    if not config.data.manifest:
        raise ConfigError("missing config key 'data.manifest'")
    share_cpu_with_workers(config.data.num_workers)
    data = EvalData(config.data, config.progress)
    name = encoder_name(config.encoder)
    dataset_name = config.data.name or Path(config.data.manifest).resolve().parent.name
    run_id = uuid.uuid4().hex[:12]
    digest = config_hash(config)
    results: list[Result] = []
    skipped: set[str] = set()

    def record(protocol: str, label: str, seed: int, metrics: dict[str, float]):
        for metric, value in metrics.items():
            results.append(Result(run_id, name, protocol, dataset_name, config.data.test_split, label, metric,
                                  value, seed, digest))

    frozen = [p for p in protocols if p in ("knn", "linear")]
    labels = list(config.data.labels)
    features = None
    for seed in range(config.seed, config.seed + config.seeds):
        if frozen and (features is None or config.encoder.checkpoint == "random"):
            encoder = build_encoder(config.encoder, seed)
            frozen_train, frozen_test = data.clips("train", labels), data.clips("test", labels)
            train_features, s1 = extract_clip_features(encoder, frozen_train, config.data.batch_size,
                                                       config.data.num_workers, config.progress, "train features")
            test_features, s2 = extract_clip_features(encoder, frozen_test, config.data.batch_size,
                                                      config.data.num_workers, config.progress, "test features")
            skipped.update(s1, s2, frozen_train.unreadable, frozen_test.unreadable)
            train_ok, test_ok = readable_rows(train_features), readable_rows(test_features)
            features = (train_features[train_ok], test_features[test_ok])
        for label in labels:
            num_classes = len(data.classes[label])
            if frozen:
                y_train = torch.as_tensor(frozen_train.labels(label))[train_ok]
                y_test = torch.as_tensor(frozen_test.labels(label))[test_ok]
                if "knn" in frozen:
                    scores = knn_scores(features[0].mean(dim=1), y_train, features[1].mean(dim=1), num_classes,
                                        config.knn.k, config.knn.temperature)
                    record("knn", label, seed, classification_metrics(scores, y_test))
                if "linear" in frozen:
                    scores = train_linear_probe(features[0], y_train, features[1], num_classes, config.linear, seed)
                    record("linear", label, seed, classification_metrics(scores, y_test))
            if "finetune" in protocols:
                torch.manual_seed(seed)
                encoder = build_encoder(config.encoder, seed)
                train_set = data.clips("train", [label], training=True, seed=seed)
                test_set = data.clips("test", [label])
                scores, s = finetune(encoder, train_set, test_set, num_classes, config.finetune,
                                     config.data.num_workers, config.progress)
                skipped.update(s, train_set.unreadable, test_set.unreadable)
                ok = ~scores.isnan().any(dim=1)
                record("finetune", label, seed,
                       classification_metrics(scores[ok], torch.as_tensor(test_set.labels(label))[ok]))
    if skipped:
        print(f"skipped {len(skipped)} unreadable video(s): {', '.join(sorted(skipped)[:5])}")
    ResultStore(config.store).add(results)
    return results
