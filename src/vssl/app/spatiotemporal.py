"""`vssl eval st_detection`: actions in given person boxes (Thoker 2023 Ch. 4 task shift: AVA v2.2, UCF101-24).

A clip centred on each annotated keyframe goes through the backbone; the RoI head (:mod:`vssl.evaluation.roi_head`)
turns each ground-truth box into class scores, trained on the training split's keyframes with the backbone frozen
(its box features read once) or fine-tuned (``st_detection.finetune``). Every test box scored for every class is a
detection; frame-mAP@0.5 (:mod:`vssl.evaluation.frame_map`) is stored in % as ``frame_map@0.5``, label ``action``.
The boxes being given, the score measures recognising each person's actions, not finding the persons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, Recorder
from vssl.core.errors import ConfigError, VideoReadError, VsslError
from vssl.core.optim import make_eval_optimizer, schedule_factor
from vssl.core.runtime import Placement
from vssl.data.formats.spatiotemporal import BoxAnnotations, Keyframe, read_ava, read_ucf24, video_key
from vssl.data.manifest import Sample
from vssl.data.transforms import Compose, Normalize, ShortSideResize, to_float_video
from vssl.data.video import open_video
from vssl.evaluation.frame_map import IOU_THRESHOLD, frame_map
from vssl.evaluation.protocols import ST_DETECTION
from vssl.evaluation.roi_head import RoIHead, StDetectionConfig, box_loss, box_scores, pool_boxes
from vssl.evaluation.taps import resolve_taps

LABEL = "action"  # the label name of the stored results
METRIC = f"frame_map@{IOU_THRESHOLD:g}"
DEFAULT_BOXES, DEFAULT_LABEL_MAP = "boxes.csv", "action_list.pbtxt"  # beside the manifest when not configured
STEP_GAMMA = 0.1  # PySlowFast AVA: SOLVER.LRS [1, 0.1, 0.01, ...], ×0.1 at each step


def load_annotations(section: StDetectionConfig, manifest: str) -> BoxAnnotations:
    """``st_detection.annotations`` (AVA CSVs with ``label_map``, or one UCF101-24 .json / .pkl), else the
    boxes.csv and action_list.pbtxt beside the manifest."""
    folder = Path(manifest).parent
    paths = [Path(p) for p in section.annotations] or [folder / DEFAULT_BOXES]
    if all(path.suffix == ".csv" for path in paths):
        return read_ava(paths, section.label_map or folder / DEFAULT_LABEL_MAP)
    if len(paths) == 1 and paths[0].suffix in (".json", ".pkl", ".pickle"):
        return read_ucf24(paths[0])
    raise ConfigError(f"st_detection.annotations: expected AVA .csv files or one UCF101-24 .json / .pkl, got "
                      f"{', '.join(map(str, paths))}")


@dataclass
class BoxedKeyframe:
    """A keyframe of a readable video: the frame it is at, its boxes [K, 4] and 0/1 class targets [K, classes]."""

    sample: Sample
    frame: int
    boxes: torch.Tensor
    targets: torch.Tensor


def keyframes_of(samples: list[Sample], annotations: BoxAnnotations, data: EvalData,
                 time_offset: float) -> list[BoxedKeyframe]:
    """The annotated keyframes of the readable ``samples`` (joined by :func:`video_key`), at frame
    round((time − offset) × fps) of AVA's timestamps or at UCF101-24's own frame index."""
    by_video: dict[str, list[Keyframe]] = {}
    for keyframe in annotations.keyframes:
        by_video.setdefault(video_key(keyframe.video), []).append(keyframe)
    items = []
    for sample in samples:
        if sample.path not in data.index:
            continue
        info = data.index[sample.path]
        for keyframe in by_video.get(video_key(sample.path), []):
            frame = keyframe.frame if keyframe.frame is not None else round((keyframe.time - time_offset) * info.fps)
            if not 0 <= frame < info.num_frames:
                where = f"frame {keyframe.frame}" if keyframe.frame is not None else f"{keyframe.time:g} s"
                raise VsslError(f"{sample.path}: the keyframe at {where} is frame {frame}, outside its "
                                f"{info.num_frames} frames (check st_detection.time_offset)")
            targets = torch.zeros(len(keyframe.boxes), len(annotations.classes))
            for row, box in enumerate(keyframe.boxes):
                targets[row, list(box.labels)] = 1.0
            items.append(BoxedKeyframe(sample, frame, torch.tensor([b.box for b in keyframe.boxes]), targets))
    return items


def clip_frames(frame: int, clip_len: int, stride: int, num_frames: int) -> list[int]:
    """``clip_len`` frames ``stride`` apart with the keyframe at position clip_len // 2, clamped to the video
    (PySlowFast ava_helper.get_sequence: range(centre − half, centre + half, stride), half = clip_len·stride/2)."""
    return [min(max(frame + (i - clip_len // 2) * stride, 0), num_frames - 1) for i in range(clip_len)]


class KeyframeClips(Dataset):
    """Each item: the clip around one keyframe (data.clip_len frames at data.stride), whole frames resized to
    data.short_side and normalised as the encoder expects; an unreadable video gives {"skipped": path}."""

    def __init__(self, items: list[BoxedKeyframe], data: EvalData):
        self.items, self.data = items, data
        self.transform = Compose([ShortSideResize(data.config.short_side), Normalize(**data.normalise)])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        item, c = self.items[i], self.data.config
        path = item.sample.path
        indices = clip_frames(item.frame, c.clip_len, c.stride, self.data.index[path].num_frames)
        try:
            if self.data.store is not None and path in self.data.store:
                frames = self.data.store.read(path, indices)
            else:
                with open_video(path) as reader:
                    frames = reader.read(indices)
        except VideoReadError:
            return {"skipped": path}
        return {"clip": self.transform(to_float_video(frames)), "index": i}


def collate_by_size(entries: list[dict]) -> dict:
    """Clips stacked per frame size (a dataset's videos may differ in aspect), with their item indices."""
    groups: dict[tuple, list[dict]] = {}
    for entry in entries:
        if "clip" in entry:
            groups.setdefault(tuple(entry["clip"].shape), []).append(entry)
    return {"groups": [(torch.stack([e["clip"] for e in group]), [e["index"] for e in group])
                       for group in groups.values()],
            "skipped": [entry["skipped"] for entry in entries if "skipped" in entry]}


def box_batches(items: list[BoxedKeyframe], data: EvalData, batch_size: int, skipped: set[str],
                order: list[int] | None = None):
    """(clips [B, C, T, H, W], boxes [K, 4], the clip of each box [K], item indices [B]) over ``items`` in
    ``order`` (default: as listed); paths of unreadable videos go to ``skipped``."""
    dataset = KeyframeClips(items, data)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order, collate_fn=collate_by_size,
                        num_workers=data.config.num_workers)
    for batch in loader:
        skipped.update(batch["skipped"])
        for clips, owners in batch["groups"]:
            boxes = torch.cat([items[i].boxes for i in owners])
            batch_index = torch.cat([torch.full((len(items[i].boxes),), j) for j, i in enumerate(owners)])
            yield clips, boxes, batch_index, owners


def st_optimizer(params, section: StDetectionConfig, steps_per_epoch: int):
    """The section's optimiser: linear warm-up from warmup_start_lr, then ×0.1 at each milestone, per step."""
    factor = schedule_factor("step", steps_per_epoch, section.epochs * steps_per_epoch, section.warmup_epochs,
                             min(section.warmup_start_lr / section.lr, 1.0), section.milestones, STEP_GAMMA)
    return make_eval_optimizer(section.optimizer, params, section.lr, section.weight_decay, "st_detection.optimizer",
                               factor)


def feature_map(encoder, clips: torch.Tensor, tap: str, placement: Placement) -> torch.Tensor:
    with placement.autocast():
        return encoder.features(placement.tensor(clips), (tap,))[tap].float()


def frozen_box_features(encoder, items: list[BoxedKeyframe], data: EvalData, section: StDetectionConfig, tap: str,
                        placement: Placement, skipped: set[str]) -> tuple[torch.Tensor, list[int]]:
    """Pooled box vectors [K, C] of every readable item (in item order) and the item of each box."""
    features, owners = [], []
    with torch.no_grad():
        for clips, boxes, batch_index, items_in in box_batches(items, data, data.config.batch_size, skipped):
            maps = feature_map(encoder, clips, tap, placement)
            features.append(placement.host(pool_boxes(maps, placement.tensor(boxes), placement.tensor(batch_index),
                                                      section.resolution, section.spatial_pool)))
            owners.extend(items_in[j] for j in batch_index.tolist())
    order = sorted(range(len(owners)), key=owners.__getitem__)  # stable: boxes of an item keep their order
    return (torch.cat(features)[order] if features else torch.zeros(0, 0)), [owners[i] for i in order]


def train_head_on_features(head: RoIHead, features: torch.Tensor, targets: torch.Tensor, owners: list[int],
                           section: StDetectionConfig, seed: int, placement: Placement) -> None:
    """Dropout + linear on frozen box vectors, ``batch_size`` keyframes (all their boxes) a step."""
    keyframes = sorted(set(owners))
    rows = {k: [] for k in keyframes}
    for row, owner in enumerate(owners):
        rows[owner].append(row)
    steps = math.ceil(len(keyframes) / section.batch_size)
    optimizer = st_optimizer(head.parameters(), section, steps)
    generator = torch.Generator().manual_seed(seed)
    features, targets = placement.tensor(features), placement.tensor(targets)
    head.train()
    for _ in range(section.epochs):
        order = torch.randperm(len(keyframes), generator=generator).tolist()
        for start in range(0, len(order), section.batch_size):
            chosen = [r for i in order[start:start + section.batch_size] for r in rows[keyframes[i]]]
            optimizer.zero_grad()
            box_loss(head.classify(features[chosen]), targets[chosen], section.multi_label).backward()
            optimizer.step()
            optimizer.next_lr()
    head.eval()


def train_end_to_end(encoder, head: RoIHead, items: list[BoxedKeyframe], data: EvalData, section: StDetectionConfig,
                     tap: str, seed: int, placement: Placement, skipped: set[str]) -> None:
    """Backbone and head trained together on the keyframe clips, ``batch_size`` clips a step (fp16 autocast with a
    gradient scaler, as fine-tuning)."""
    steps = math.ceil(len(items) / section.batch_size)
    optimizer = st_optimizer([*encoder.parameters(), *head.parameters()], section, steps)
    scaler = torch.amp.GradScaler(placement.device.type, enabled=placement.amp == torch.float16)
    generator = torch.Generator().manual_seed(seed)
    encoder.train()
    head.train()
    for _ in range(section.epochs):
        order = torch.randperm(len(items), generator=generator).tolist()
        for clips, boxes, batch_index, owners in box_batches(items, data, section.batch_size, skipped, order):
            optimizer.zero_grad()
            logits = head(feature_map(encoder, clips, tap, placement), placement.tensor(boxes),
                          placement.tensor(batch_index))
            targets = torch.cat([items[i].targets for i in owners])
            scaler.scale(box_loss(logits, placement.tensor(targets), section.multi_label)).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.next_lr()
    encoder.eval()
    head.eval()


def score_test_boxes(encoder, head: RoIHead, items: list[BoxedKeyframe], data: EvalData, section: StDetectionConfig,
                     tap: str, placement: Placement, skipped: set[str]) -> dict[int, torch.Tensor]:
    """Class scores [K, classes] of the boxes of every readable test keyframe."""
    scores = {}
    with torch.no_grad():
        for clips, boxes, batch_index, owners in box_batches(items, data, data.config.batch_size, skipped):
            logits = head(feature_map(encoder, clips, tap, placement), placement.tensor(boxes),
                          placement.tensor(batch_index))
            per_box = placement.host(box_scores(logits, section.multi_label))
            for j, i in enumerate(owners):
                scores[i] = per_box[batch_index == j]
    return scores


def detection_map(items: list[BoxedKeyframe], scores: dict[int, torch.Tensor], num_classes: int) -> float:
    """frame-mAP (%) of the scored keyframes: each box × class a detection, each box × label a ground truth."""
    truth, detections = [], []
    for i, per_box in scores.items():
        for box, targets, row in zip(items[i].boxes.tolist(), items[i].targets, per_box.tolist()):
            truth.extend((i, int(c), box) for c in torch.nonzero(targets).flatten())
            detections.extend((i, c, box, score) for c, score in enumerate(row))
    mean, _ = frame_map(truth, detections, num_classes)
    return 100.0 * mean


def run_st_detection(config: EvalConfig, data: EvalData, seed: int, source: EncoderSource, recorder: Recorder,
                     timing: EvalTiming) -> set[str]:
    """Train the RoI head (and with ``finetune`` the backbone) on the training keyframes, score the test boxes,
    record frame-mAP@0.5. → skipped paths."""
    section = config.st_detection
    annotations = load_annotations(section, config.data.manifest)
    splits = {}
    for split, samples in ((config.data.train_split, data.train), (config.data.test_split, data.test)):
        splits[split] = keyframes_of(samples, annotations, data, section.time_offset)
        if not splits[split]:
            raise VsslError(f"st_detection: no video of split '{split}' of {config.data.manifest} has annotated "
                            f"keyframes (videos are joined to annotations by file name without extension)")
    train, test = splits[config.data.train_split], splits[config.data.test_split]
    skipped = {s.path for s in data.train + data.test if s.path not in data.index}
    placement = Placement.for_eval(config.device, config.amp)
    torch.manual_seed(seed)
    encoder = source.encoder(seed)
    placement = placement.for_model(encoder)
    encoder = placement.module(encoder).eval()
    tap = resolve_taps(section.tap, encoder.tap_names, "st_detection.tap")
    if len(tap) != 1:
        raise ConfigError(f"st_detection.tap: one tap expected, got '{section.tap}'")
    tap = tap[0]
    c = config.data
    with torch.no_grad():  # the tap's channels, from a blank clip
        channels = feature_map(encoder, torch.zeros(1, 3, c.clip_len, c.short_side, c.short_side), tap,
                               placement).shape[1]
    head = placement.module(RoIHead(channels, len(annotations.classes), section.resolution, section.spatial_pool,
                                    section.dropout))
    if section.finetune:
        with timing.phase("protocols"):
            train_end_to_end(encoder, head, train, data, section, tap, seed, placement, skipped)
    else:
        with timing.phase("features"):
            features, owners = frozen_box_features(encoder, train, data, section, tap, placement, skipped)
        if not owners:
            raise VsslError(f"st_detection: no training keyframe of {config.data.manifest} could be read")
        targets = torch.cat([train[i].targets for i in sorted(set(owners))])
        with timing.phase("protocols"):
            train_head_on_features(head, features, targets, owners, section, seed, placement)
    with timing.phase("protocols"):
        scores = score_test_boxes(encoder, head, test, data, section, tap, placement, skipped)
    videos = len({test[i].sample.path for i in scores})
    recorder.record(ST_DETECTION, LABEL, seed, {METRIC: detection_map(test, scores, len(annotations.classes))},
                    videos)
    return skipped

