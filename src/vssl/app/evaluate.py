"""`vssl eval`: load an encoder (checkpoint or random init), run protocols on a manifest, record results.

Protocols: ``finetune`` trains the encoder end to end, and ``robustness`` tests that fine-tuned model on noisy test
clips (one training serves both); the frozen ones (``knn``, ``linear``, ``retrieval``, ``svm``:
the registry of :mod:`vssl.evaluation.protocols`) read features, extracted once per (encoder, split, views, tap) and
kept in a feature cache (see :mod:`vssl.evaluation.feature_cache`); the checkpoint is read once per call. Test
videos are seen as ``data.num_clips`` uniformly spaced clips × ``data.crops`` spatial crops. ``data.train_subset``
evaluates on a saved class-balanced subset of the training split (see :mod:`vssl.evaluation.subsets`). Every
result is stored with its seed, the config's hash, the encoder's name and identity (``encoder_sha256``), the
number of test videos it was computed on and of skipped videos.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from vssl.app.eval_timing import EvalTiming
from vssl.core.config import config_hash, ranged
from vssl.core.cpu_bf16 import sound_cpu_bf16
from vssl.core.errors import ConfigError, VsslError
from vssl.core.runtime import Placement, share_cpu_with_workers
from vssl.data.clip_store import open_clip_store
from vssl.data.formats import check_test_classes, class_order, horizontal_flip_allowed, read_dataset_info
from vssl.data.index import build_index, index_path_for
from vssl.data.loader import VideoClipDataset
from vssl.data.manifest import Sample, read_manifest
from vssl.data.modality import ModalityFiles, check_modality, for_modality
from vssl.data.sampling import RandomClipSampler, UniformClipSampler
from vssl.data.transforms import build_multi_crop_eval_transform, build_train_transform
from vssl.evaluation.feature_cache import FeatureCache, cached_tap_features, file_sha256, state_dict_sha256
from vssl.evaluation.features import readable_rows
from vssl.evaluation.finetune import FinetuneConfig, predict, train_classifier
from vssl.evaluation.knn import KnnConfig
from vssl.evaluation.linear import LinearConfig
from vssl.evaluation.metrics import classification_metrics
from vssl.evaluation.cka import CkaConfig
from vssl.evaluation.localization import LocalizationConfig
from vssl.evaluation.protocols import (ARROW, ARROW_FINETUNE, ASLAN, CKA, COUNTING, FINETUNE, FROZEN, LOCALIZATION,
                                       MULTILABEL, ROBUSTNESS, SKELETON, ST_DETECTION, TRAINED, aslan,
                                       check_protocol_names)
from vssl.evaluation.retrieval import RetrievalConfig
from vssl.evaluation.roi_head import StDetectionConfig
from vssl.evaluation.robustness import Corruption, RobustnessConfig, robustness_metrics
from vssl.evaluation.subsets import load_or_draw_subset
from vssl.evaluation.svm import SvmConfig
from vssl.models.checkpoints import key_report_line, load_any_encoder
from vssl.models.spec import EncoderSpec
from vssl.results.store import Result, ResultStore, local_folder

NO_FEATURE_CACHE = "none"


@dataclass
class EvalDataConfig:
    manifest: str = ""
    name: str = ""  # dataset name in the results; default: the manifest's folder name
    train_split: str = ""  # "" = the imported dataset's own (its .dataset.json), else "train"
    test_split: str = ""  # "" = the imported dataset's reporting split (e.g. 'val' for SSv2), else "test"
    labels: tuple[str, ...] = ("label",)  # label sets to evaluate, each on its own
    clip_len: int = ranged(8, ge=1)  # Feichtenhofer et al. 2021: T×τ = 8×8
    stride: int = ranged(8, ge=1)
    num_clips: int = ranged(10, ge=1)  # Feichtenhofer et al. 2021 §5: 10 uniformly spaced clips per test video
    crops: int = ranged(1, ge=1)  # spatial crops per test clip: 1 = centre, 3 = both ends and centre (Feichtenhofer et al. 2021 §5: 3)
    crop_size: int = ranged(224, ge=1)
    test_crop_size: int | None = ranged(None, ge=1)  # None: crop_size; Feichtenhofer et al. 2021 §5 tests on 256² crops of a 256 short side
    short_side: int = ranged(256, ge=1)  # Feichtenhofer et al. 2021 §5: test short side 256
    train_subset: int = ranged(0, ge=0)  # 0 = every training video; N = a class-balanced subset of N (Thoker 2023 §B.2.2)
    subset_seed: int = ranged(0, ge=0)  # which subset: the same for every encoder and evaluation seed
    batch_size: int = ranged(8, ge=1)
    num_workers: int = ranged(2, ge=0)
    clip_store: bool = True  # read frames from `vssl data cache`'s store when a valid one exists, else decode files


@dataclass
class EncoderConfig:
    # an encoder.pt / last.ckpt of `vssl pretrain`, another tool's weights (loaded into `backbone`), or "random"
    checkpoint: str = "random"
    name: str = ""  # encoder name in the results; default "random" or the checkpoint's run folder
    backbone: str = "r3d_18"  # random init and foreign checkpoints; vssl's own files carry their own
    width: float = ranged(1.0, gt=0)
    depth: tuple[int, ...] | None = ranged(None, ge=1)  # None = the backbone's own default
    # per-channel input normalisation; None: a vssl file's own (its EncoderSpec), else PySlowFast's Kinetics
    # statistics. Set it for another tool's weights, e.g. torchvision's video models: mean [0.43216, 0.394666,
    # 0.37645], std [0.22803, 0.22145, 0.216989]; VideoMAE: ImageNet's [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    # input modality (vssl.data.modality) of a random init or another tool's weights: rgb | flow | depth; "" = rgb.
    # vssl's own files record theirs, and the test and training clips are built in it
    modality: str = ""

    def __post_init__(self):
        if self.modality:
            check_modality(self.modality, "encoder.modality")


@dataclass
class EvalConfig:
    data: EvalDataConfig = field(default_factory=EvalDataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    knn: KnnConfig = field(default_factory=KnnConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    svm: SvmConfig = field(default_factory=SvmConfig)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)
    cka: CkaConfig = field(default_factory=CkaConfig)
    st_detection: StDetectionConfig = field(default_factory=StDetectionConfig)
    localization: LocalizationConfig = field(default_factory=LocalizationConfig)
    seed: int = ranged(0, ge=0)
    seeds: int = ranged(1, ge=1)  # repeat each protocol with seeds seed, seed+1, ...
    device: str = "auto"  # auto (CUDA when available, else CPU) | cpu | cuda | cuda:N: features, probes, fine-tuning
    # autocast of features and fine-tuning: auto (CUDA: bf16, else fp16; CPU: off) | bf16 | fp16 | off (YAML: false)
    amp: str | bool = "auto"
    store: str = "runs/results.sqlite"
    feature_cache: str = ""  # folder of cached frozen features; "" = <store's folder>/feature_cache; "none" = off
    progress: bool = True


def with_dataset_splits(config: EvalDataConfig) -> EvalDataConfig:
    """Fill unset splits from the manifest's dataset sidecar (``vssl data import``), else train / test."""
    info = read_dataset_info(config.manifest)
    train = config.train_split or (info and info.train_split) or "train"
    test = config.test_split or (info and info.test_split) or "test"
    return replace(config, train_split=train, test_split=test)


def encoder_name(config: EncoderConfig) -> str:
    """``encoder.name``, else "random", else the checkpoint's run folder: the folder holding it (above a
    ``checkpoints`` folder), with the folder above when that is a seed folder: ``rho_moco_r1/seed0``."""
    if config.name:
        return config.name
    if config.checkpoint == "random":
        return "random" if config.modality in ("", "rgb") else f"random-{config.modality}"
    folder = Path(os.path.abspath(config.checkpoint)).parent
    if folder.name == "checkpoints":
        folder = folder.parent
    return f"{folder.parent.name}/{folder.name}" if re.fullmatch(r"seed\d+", folder.name) else folder.name


def encoder_sha256(encoder_id: dict | None, config: EncoderConfig, seed: int) -> str:
    """The encoder's identity in the results store: the checkpoint file's SHA-256 (that of an in-memory module's
    state dict), or for a random init the SHA-256 of its spec and seed. Two different checkpoints never share it."""
    for key in ("checkpoint_sha256", "state_dict_sha256"):
        if encoder_id is not None and key in encoder_id:
            return encoder_id[key]
    spec = json.dumps(encoder_key(config, seed, None), sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()


def stored_encoder_sha256(config: EncoderConfig, seed: int) -> str:
    """``encoder_sha256`` of a checkpoint file or random init, computed without loading it (what a resumed study
    looks up)."""
    if config.checkpoint == "random":
        return encoder_sha256(None, config, seed)
    return file_sha256(config.checkpoint)


def config_spec(config: EncoderConfig) -> EncoderSpec:
    """The spec of ``encoder.backbone``/``width``/``depth``/``mean``/``std``: a random init's, or what a foreign
    checkpoint is loaded into."""
    return with_normalisation(EncoderSpec(config.backbone, {"width": config.width, "depth": config.depth}), config)


def with_normalisation(spec: EncoderSpec, config: EncoderConfig) -> EncoderSpec:
    """``spec`` with ``encoder.mean`` / ``encoder.std`` / ``encoder.modality`` where they are set."""
    return replace(spec, mean=spec.mean if config.mean is None else config.mean,
                   std=spec.std if config.std is None else config.std, modality=config.modality or spec.modality)


class EncoderSource:
    """The encoder of one `run_eval`, read once: a checkpoint (ours, or foreign weights loaded into
    ``encoder.backbone``; its key report printed, a refused file failing before any video is read), an in-memory
    module, or a random init. ``identity`` names it in the feature cache key and the results: the in-memory module's
    state-dict hash, the checkpoint file's hash (plus the backbone a foreign file was loaded into), None at random."""

    def __init__(self, config: EncoderConfig, module: nn.Module | None = None):
        self.config, self.module, self.missing = config, module, set()
        self.spec, self.loaded = config_spec(config), False  # loaded: rebuilt from ``spec`` with a checkpoint's tensors
        if module is not None:
            self.identity = {"state_dict_sha256": state_dict_sha256(module)}
        elif config.checkpoint == "random":
            self.identity = None
        else:
            self.module, report, foreign, spec = load_any_encoder(config.checkpoint, self.spec)
            if not foreign and config.modality and config.modality != spec.modality:
                raise ConfigError(f"encoder.modality={config.modality}: {config.checkpoint} records its own input, "
                                  f"{spec.modality} clips; leave encoder.modality unset for vssl files")
            self.spec, self.loaded = with_normalisation(spec, config), True
            if foreign:  # always one line for a foreign file, only on a problem for ours
                print(key_report_line(config.backbone, self.module, report))
            elif report.missing or report.unexpected:
                print(f"{config.checkpoint}: {report.summary()}")
            self.missing = set(report.missing)
            modality = {"modality": self.spec.modality} if self.spec.modality != "rgb" else {}
            into = {"loaded_into": {"backbone": config.backbone, **self.spec.kwargs, **modality}} if foreign else {}
            self.identity = {"checkpoint_sha256": file_sha256(config.checkpoint), **into}

    def tap_names(self, build: Callable[[], nn.Module]) -> tuple[str, ...]:
        """The encoder's tap names; a random init's from ``build()``, the encoder to evaluate (which a cold feature
        cache builds anyway): building it on the meta device would import ``torch._dynamo``, about 1.5 s, more than
        drawing the weights of any backbone measured (ViT-B/16: 1.4 s, R3D-18: 0.4 s)."""
        return (build() if self.module is None else self.module).tap_names

    def encoder(self, seed: int) -> nn.Module:
        """A new encoder to evaluate, which the caller may move and train: a random init drawn from ``seed``, a copy
        of the in-memory module, or the checkpoint's backbone built again with its tensors. Building it again draws
        from torch's global RNG what loading the file drew, so what draws next (a fine-tuned head, dropout) and the
        tensors the file lacks come out as when every seed loaded the file."""
        if self.module is None:
            torch.manual_seed(seed)
            return self.spec.build()
        if not self.loaded:
            return copy.deepcopy(self.module)
        encoder = self.spec.build()
        state = self.module.state_dict()
        encoder.load_state_dict({k: v for k, v in state.items() if k not in self.missing}, strict=False)
        return encoder


def sample_key(sample: Sample) -> tuple[str, float | None, float | None]:
    return sample.path, sample.start, sample.end


class EvalData:
    """Train/test samples of the manifest, their class names, and datasets built on demand."""

    def __init__(self, config: EvalDataConfig, progress: bool, spec: EncoderSpec | None = None):
        self.config = config = with_dataset_splits(config)
        # the encoder's input statistics where they are not the transforms' Kinetics default
        custom = spec is not None and not spec.normalisation_is_default()
        self.normalise = {"mean": spec.mean, "std": spec.std} if custom else {}
        if config.crops not in (1, 3):
            raise ConfigError(f"data.crops={config.crops} must be 1 (centre) or 3 (both ends and centre)")
        self.train = read_manifest(config.manifest, split=config.train_split)
        self.test = read_manifest(config.manifest, split=config.test_split)
        for split, samples in ((config.train_split, self.train), (config.test_split, self.test)):
            if not samples:
                raise VsslError(f"{config.manifest}: no samples in split '{split}'")
        # class indices follow the dataset's official order (its sidecar) when imported, else sorted names
        self.classes = {name: class_order(config.manifest, self.train + self.test, name) for name in config.labels}
        for name, classes in self.classes.items():  # a class seen only at test time cannot be learnt
            check_test_classes(self.train, self.test, name, classes, config.train_split, config.test_split)
        self.flip = horizontal_flip_allowed(config.manifest)  # off where a mirror changes the label (SSv2)
        self.index = build_index(self.train + self.test, cache=index_path_for(config.manifest), progress=progress)
        # the store holds the very frames decoding gives, so the feature cache key does not depend on it
        self.store = open_clip_store(config.manifest) if config.clip_store else None
        # the encoder's input modality: clips from its files (a depth video) and in its encoding (optical flow)
        self.modality = "rgb" if spec is None else spec.modality
        self.files = None if self.modality == "rgb" else ModalityFiles(config.manifest, (self.modality,))
        if self.files is not None:
            self.files.check(self.train + self.test)

    def train_samples(self, label: str) -> list[Sample]:
        """Every training sample, or the class-balanced subset of ``data.train_subset`` balanced on ``label``."""
        c = self.config
        if c.train_subset == 0:
            return self.train
        return load_or_draw_subset(c.manifest, self.train, c.train_split, label, c.train_subset, c.subset_seed)

    def clips(self, samples: list[Sample], labels: list[str], training: bool = False, seed: int = 0,
              frame_filter: Corruption | None = None, sampler=None) -> VideoClipDataset:
        """Test views (data.num_clips uniform clips × crops), or with ``training`` one random clip per item with
        fine-tuning's augmentation; ``sampler`` replaces the clips' frame indices in either."""
        c = self.config
        if training:  # fine-tuning: one random clip, random crop + flip, no colour augmentation
            sampler = sampler or RandomClipSampler(c.clip_len, c.stride)
            transform = build_train_transform(c.crop_size, c.short_side, strength=0.0, blur=False, grayscale_p=0.0,
                                              flip=self.flip, **self.normalise)
        else:
            sampler = sampler or UniformClipSampler(c.clip_len, c.stride, c.num_clips)
            transform = build_multi_crop_eval_transform(c.test_crop_size or c.crop_size, c.short_side, c.crops,
                                                        **self.normalise)
        return VideoClipDataset(samples, self.index, sampler, for_modality(transform, self.modality), labels,
                                self.classes, seed=seed, store=self.store, frame_filter=frame_filter, files=self.files)

    def views_key(self) -> dict:
        """What determines a video's frozen test views (part of the feature cache key); the normalisation only
        where it is not the Kinetics default, so that the keys of earlier caches stay valid."""
        c = self.config
        key = {"clip_len": c.clip_len, "stride": c.stride, "num_clips": c.num_clips, "crops": c.crops,
               "crop_size": c.test_crop_size or c.crop_size, "short_side": c.short_side}
        if self.normalise:
            key["normalise"] = {k: list(v) for k, v in self.normalise.items()}
        if self.modality != "rgb":  # likewise
            key["modality"] = self.modality
        return key


def encoder_key(config: EncoderConfig, seed: int, encoder_id: dict | None) -> dict:
    """The encoder's part of the feature cache key: ``encoder_id`` (``EncoderSource.identity``), or the random init's
    spec and seed."""
    if encoder_id is not None:
        return encoder_id
    depth = None if config.depth is None else list(config.depth)
    modality = {"modality": config.modality} if config.modality not in ("", "rgb") else {}  # RGB keys as before
    return {"random": {"backbone": config.backbone, "width": config.width, "depth": depth, "seed": seed, **modality}}


def feature_cache_for(config: EvalConfig) -> FeatureCache:
    if config.feature_cache == NO_FEATURE_CACHE:
        return FeatureCache(None)
    return FeatureCache(config.feature_cache or local_folder(config.store) / "feature_cache")


class Recorder:
    """Collects results of one `run_eval` call, each with the run id, encoder, dataset, seed and config hash."""

    def __init__(self, config: EvalConfig, encoder_id: dict | None = None):
        self.run_id = uuid.uuid4().hex[:12]
        self.config = config
        self.encoder = encoder_name(config.encoder)
        self.encoder_id = encoder_id
        self.dataset = config.data.name or Path(config.data.manifest).resolve().parent.name
        self.split = config.data.test_split
        self.digest = config_hash(config)
        self.results: list[Result] = []

    def record(self, protocol: str, label: str, seed: int, metrics: dict[str, float], n_videos: int,
               rule: str = "") -> None:
        """Results of one protocol computed on ``n_videos`` test videos under ``rule`` (``Protocol.rule``)."""
        sha256 = encoder_sha256(self.encoder_id, self.config.encoder, seed)
        for metric, value in metrics.items():
            self.results.append(Result(self.run_id, self.encoder, protocol, self.dataset, self.split, label, metric,
                                       value, seed, self.digest, encoder_sha256=sha256, n_videos=int(n_videos),
                                       rule=rule))

    def finish(self, skipped: set[str]) -> list[Result]:
        """Every result, each with the number of videos the evaluation skipped as unreadable."""
        return [replace(r, n_skipped=len(skipped)) for r in self.results]


def frozen_features(config: EvalConfig, data: EvalData, source: EncoderSource, encoder: Callable[[], nn.Module],
                    seed: int, cache: FeatureCache, split: str, samples: list[Sample], taps: list[str],
                    timing: EvalTiming, skipped: set[str], sampler=None,
                    sampler_key: dict | None = None) -> tuple[VideoClipDataset, dict[str, torch.Tensor]]:
    """The test views of ``samples`` (``sampler``'s clips, described by ``sampler_key`` in the cache key, when
    given) and their pooled features {tap: [N, V, D]}, from the feature cache where it holds them (keyed by encoder
    identity, views, precision, manifest and split); adds unreadable videos to ``skipped``."""
    views = data.views_key() if sampler is None else {**data.views_key(), "sampler": sampler_key}
    key = {"encoder": encoder_key(config.encoder, seed, source.identity), "views": views}
    placement = Placement.for_eval(config.device, config.amp)
    if placement.amp is not None:  # mixed-precision features are cached apart from fp32 ones
        key["amp"] = str(placement.amp)
    key["data"] = {"manifest_sha256": file_sha256(config.data.manifest), "split": split}
    dataset = data.clips(samples, list(config.data.labels), sampler=sampler)
    with timing.phase("features"):
        features, decode_failures = cached_tap_features(
            cache, key, encoder, dataset, taps, config.data.batch_size, config.data.num_workers, config.progress,
            f"{split} features", placement)
    skipped.update(decode_failures, dataset.unreadable)
    return dataset, features


def run_frozen_protocols(protocols: list[str], config: EvalConfig, data: EvalData, seed: int, cache: FeatureCache,
                         source: EncoderSource, recorder: Recorder, timing: EvalTiming) -> set[str]:
    """The registered frozen protocols for every label set on (cached) frozen features; → skipped video paths."""
    encoder = functools.cache(lambda: source.encoder(seed))  # built only when a feature is not in the cache
    with timing.phase("setup"):
        tap_names = source.tap_names(encoder)
    taps = {name: protocol.taps(config, tap_names) for name, protocol in FROZEN.items() if name in protocols}
    needed = list(dict.fromkeys(tap for names in taps.values() for tap in names))
    labels = list(config.data.labels)
    placement = Placement.for_eval(config.device, config.amp)
    skipped: set[str] = set()

    def extract(split: str, samples: list[Sample]) -> tuple[VideoClipDataset, dict[str, torch.Tensor]]:
        return frozen_features(config, data, source, encoder, seed, cache, split, samples, needed, timing, skipped)

    test_set, test = extract(config.data.test_split, data.test)
    if config.svm.protocol == ASLAN and "svm" in taps:  # same/not-same pairs of test videos: no training split
        with timing.phase("protocols"):
            metrics = aslan(config.data.manifest, test_set, [test[tap] for tap in taps.pop("svm")], config.svm, seed)
        recorder.record(FROZEN["svm"].stored(ASLAN), "same", seed, metrics, int(readable_rows(test[needed[0]]).sum()))
        if not taps:
            return skipped
    train_set, train = extract(config.data.train_split, data.train)
    test_rows = readable_rows(test[needed[0]])
    n_test = int(test_rows.sum())
    for label in labels:
        subset = {sample_key(s) for s in data.train_samples(label)}
        in_subset = torch.tensor([sample_key(s) in subset for s in train_set.samples])
        train_rows = readable_rows(train[needed[0]]) & in_subset
        y_train = torch.as_tensor(train_set.labels(label))[train_rows]
        y_test = torch.as_tensor(test_set.labels(label))[test_rows]
        num_classes = len(data.classes[label])
        for name, names in taps.items():
            protocol, section = FROZEN[name], getattr(config, name, None)
            for tap in names:
                with timing.phase("protocols"):
                    metrics = protocol.run(train[tap][train_rows], y_train, test[tap][test_rows], y_test,
                                           num_classes, section, seed, placement)
                recorder.record(protocol.stored(tap), label, seed, metrics, n_test, protocol.rule(section))
    return skipped


def run_trained(protocols: list[str], config: EvalConfig, data: EvalData, label: str, seed: int, recorder: Recorder,
                source: EncoderSource) -> set[str]:
    """Fine-tune once; record ``finetune``'s test metrics and/or ``robustness``'s accuracy on the test clips under
    every configured noise and severity (the same noise for every encoder: seeded by the evaluation seed and the
    video). → skipped video paths."""
    torch.manual_seed(seed)
    c = config.data
    train_set = data.clips(data.train_samples(label), [label], training=True, seed=seed)
    num_classes = len(data.classes[label])
    model, placement, skipped = train_classifier(source.encoder(seed), train_set, num_classes, config.finetune,
                                                 c.num_workers, config.progress,
                                                 Placement.for_eval(config.device, config.amp))
    skipped = {*skipped, *train_set.unreadable}

    def test(corruption: Corruption | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        test_set = data.clips(data.test, [label], seed=seed, frame_filter=corruption)
        scores, test_skipped = predict(model, test_set, num_classes, c.batch_size, c.num_workers, placement)
        skipped.update(test_skipped, test_set.unreadable)
        ok = ~scores.isnan().any(dim=1)
        return scores[ok], torch.as_tensor(test_set.labels(label))[ok]

    scores, targets = test()
    clean = classification_metrics(scores, targets)
    if FINETUNE in protocols:
        recorder.record(FINETUNE, label, seed, clean, len(targets))
    if ROBUSTNESS in protocols:
        r = config.robustness
        corrupted = {}
        for noise, severity in tqdm([(n, s) for n in r.noises for s in r.severities], desc="noisy test sets",
                                    unit="set", disable=not config.progress, leave=False):
            corrupted[noise, severity] = classification_metrics(*test(Corruption(noise, severity)))["top1"]
        recorder.record(ROBUSTNESS, label, seed, robustness_metrics(clean["top1"], corrupted), len(targets))
    return skipped


def run_eval(protocols: list[str], config: EvalConfig, encoder: nn.Module | None = None,
             timing: EvalTiming | None = None) -> list[Result]:
    """Run each protocol for each label set and seed; record and return the results.

    ``encoder``: an in-memory vssl backbone to evaluate instead of ``encoder.checkpoint`` (left as "random"); it is
    copied, never changed, and named in the results by ``encoder.name`` or its class and state-dict hash.
    ``timing``: where to add the seconds of the setup, features and protocols phases and the feature cache's hits.
    """
    timing = timing or EvalTiming()
    check_protocol_names(protocols)
    if not config.data.manifest:
        raise ConfigError("missing config key 'data.manifest'")
    random_init = config.encoder.checkpoint == "random"
    if encoder is not None and not random_init:
        raise ConfigError(f"encoder.checkpoint={config.encoder.checkpoint} given with an in-memory encoder: "
                          "pass one of the two")
    if encoder is not None and not callable(getattr(encoder, "features", None)):
        raise VsslError(f"encoder: expected a vssl backbone (with features() and tap_names), got "
                        f"{type(encoder).__name__}")
    if not random_init and not Path(config.encoder.checkpoint).is_file():
        raise VsslError(f"encoder.checkpoint: file not found: {config.encoder.checkpoint}")
    placement = Placement.for_eval(config.device, config.amp)  # a device or precision this machine lacks fails first
    ResultStore.check_writable(config.store)  # an unwritable or foreign store fails before any work too
    if any(p in SKELETON for p in protocols):  # skeleton sequences, not videos: their own data and features
        from vssl.app.skeleton_eval import run_skeleton_eval  # it builds on this module
        return run_skeleton_eval(protocols, config, encoder, timing)
    with timing.phase("setup"):
        source = EncoderSource(config.encoder, encoder)
        if encoder is not None and not config.encoder.name:
            name = f"{type(encoder).__name__}-{source.identity['state_dict_sha256'][:8]}"
            config = replace(config, encoder=replace(config.encoder, name=name))
        share_cpu_with_workers(config.data.num_workers)
        multilabel = any(p in MULTILABEL for p in protocols)  # label sets of several classes: vssl.app.multilabel
        data = EvalData(replace(config.data, labels=()) if multilabel else config.data, config.progress, source.spec)
        # the splits EvalData resolved from the dataset sidecar
        config = replace(config, data=replace(data.config, labels=config.data.labels))
    recorder = Recorder(config, source.identity)
    cache = feature_cache_for(config)
    frozen = [p for p in protocols if p in FROZEN]
    skipped: set[str] = set()
    cpu_bf16 = placement.amp == torch.bfloat16 and placement.device.type == "cpu"
    with sound_cpu_bf16() if cpu_bf16 else contextlib.nullcontext():  # vssl.core.cpu_bf16
        for seed in range(config.seed, config.seed + config.seeds):
            if frozen:
                skipped |= run_frozen_protocols(frozen, config, data, seed, cache, source, recorder, timing)
            if CKA in protocols:
                from vssl.app.cka import run_cka  # it builds on this module
                skipped |= run_cka(config, data, seed, cache, source, recorder, timing)
            if ARROW in protocols:
                from vssl.app.arrow_of_time import run_arrow_of_time  # it builds on this module
                skipped |= run_arrow_of_time(config, data, seed, cache, source, recorder, timing)
            if ARROW_FINETUNE in protocols:
                from vssl.app.arrow_of_time import run_arrow_finetune  # it builds on this module
                skipped |= run_arrow_finetune(config, data, seed, source, recorder, timing)
            if COUNTING in protocols:
                from vssl.app.counting import run_counting  # it builds on this module
                skipped |= run_counting(config, data, seed, source, recorder, timing)
            if LOCALIZATION in protocols:
                from vssl.app.localization import run_localization  # it builds on this module
                skipped |= run_localization(config, data, seed, cache, source, recorder, timing)
            if multilabel:
                from vssl.app.multilabel import run_multilabel  # it builds on this module
                skipped |= run_multilabel(protocols, config, data, seed, cache, source, recorder, timing)
            if ST_DETECTION in protocols:
                from vssl.app.spatiotemporal import run_st_detection  # it builds on this module
                skipped |= run_st_detection(config, data, seed, source, recorder, timing)
            if any(p in TRAINED for p in protocols):
                for label in config.data.labels:
                    with timing.phase("protocols"):
                        skipped |= run_trained(protocols, config, data, label, seed, recorder, source)
    timing.hits, timing.misses = timing.hits + cache.hits, timing.misses + cache.misses
    if skipped:
        print(f"skipped {len(skipped)} unreadable video(s): {', '.join(sorted(skipped)[:5])}")
    results = recorder.finish(skipped)
    ResultStore(config.store).add(results)
    return results
