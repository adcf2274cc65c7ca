"""`vssl eval skeleton_linear,skeleton_knn`: the linear probe and kNN of `vssl eval` on frozen features of a skeleton
encoder (:mod:`vssl.models.skeleton`) over a skeleton manifest (Thoker 2023 §3.4.3, App. A.1).

Each sequence is seen once, as the centre crop of ``data.clip_len`` frames (:func:`vssl.data.skeleton.centre_crop`)
on both splits; the probe's settings are the ``linear`` / ``knn`` sections (``skeleton_linear_ntu60`` holds the
thesis's). Features are extracted once per call (per seed for a random init) and not cached. Results are stored
under the protocol's own name, with the usual encoder, dataset, seed and config hash.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from vssl.app.eval_timing import EvalTiming
from vssl.app.evaluate import EncoderSource, EvalConfig, Recorder, with_dataset_splits
from vssl.core.errors import VsslError
from vssl.core.runtime import Placement
from vssl.data.formats import check_test_classes, class_order
from vssl.data.loader import make_loader
from vssl.data.manifest import read_manifest
from vssl.data.skeleton import SkeletonDataset
from vssl.evaluation.features import readable_rows
from vssl.evaluation.protocols import FROZEN, SKELETON
from vssl.evaluation.subsets import load_or_draw_subset
from vssl.results.store import Result, ResultStore


@torch.no_grad()
def skeleton_features(encoder: nn.Module, dataset: SkeletonDataset, batch_size: int, num_workers: int,
                      placement: Placement) -> tuple[torch.Tensor, set[str]]:
    """Pooled features [N, 1, D] of every sequence of ``dataset`` (NaN rows for those that failed to parse), and
    the paths of those."""
    placement = placement.for_model(encoder)
    encoder = placement.module(encoder).eval()
    features = torch.full((len(dataset), 1, encoder.feature_dim), float("nan"))
    skipped: set[str] = set()
    for batch in make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers):
        skipped.update(batch["skipped"])
        if len(batch["index"]) == 0:
            continue
        with placement.autocast():
            pooled = encoder(placement.tensor(batch["clips"].flatten(0, 1)))
        features[batch["index"]] = placement.host(pooled.float()).view(len(batch["index"]), 1, -1)
    return features, skipped


def run_skeleton_eval(protocols: list[str], config: EvalConfig, encoder: nn.Module | None = None,
                      timing: EvalTiming | None = None) -> list[Result]:
    """Each skeleton protocol (:data:`vssl.evaluation.protocols.SKELETON`) for each label set and seed; records and
    returns the results (called by :func:`vssl.app.evaluate.run_eval`, which has checked the config)."""
    timing = timing or EvalTiming()
    with timing.phase("setup"):
        source = EncoderSource(config.encoder, encoder)
        if encoder is not None and not config.encoder.name:
            name = f"{type(encoder).__name__}-{source.identity['state_dict_sha256'][:8]}"
            config = replace(config, encoder=replace(config.encoder, name=name))
        data = with_dataset_splits(config.data)
        config = replace(config, data=data)
        train = read_manifest(data.manifest, split=data.train_split)
        test = read_manifest(data.manifest, split=data.test_split)
        for split, samples in ((data.train_split, train), (data.test_split, test)):
            if not samples:
                raise VsslError(f"{data.manifest}: no samples in split '{split}'")
        classes = {name: class_order(data.manifest, train + test, name) for name in data.labels}
        for name, names in classes.items():
            check_test_classes(train, test, name, names, data.train_split, data.test_split)
        train_set = SkeletonDataset(train, data.clip_len, label_sets=list(data.labels), class_names=classes)
        test_set = SkeletonDataset(test, data.clip_len, label_sets=list(data.labels), class_names=classes)
    recorder = Recorder(config, source.identity)
    placement = Placement.for_eval(config.device, config.amp)
    skipped = {*train_set.unreadable, *test_set.unreadable}
    for seed in range(config.seed, config.seed + config.seeds):
        if seed == config.seed or source.identity is None:  # a random init differs per seed, a checkpoint does not
            with timing.phase("features"):
                model = source.encoder(seed)
                x_train, train_skipped = skeleton_features(model, train_set, data.batch_size, data.num_workers,
                                                           placement)
                x_test, test_skipped = skeleton_features(model, test_set, data.batch_size, data.num_workers,
                                                         placement)
            skipped |= train_skipped | test_skipped
        test_rows = readable_rows(x_test)
        for label in data.labels:
            subset = train if data.train_subset == 0 else load_or_draw_subset(
                data.manifest, train, data.train_split, label, data.train_subset, data.subset_seed)
            chosen = {s.path for s in subset}
            train_rows = readable_rows(x_train) & torch.tensor([s.path in chosen for s in train_set.samples])
            y_train = torch.as_tensor(train_set.labels(label))[train_rows]
            y_test = torch.as_tensor(test_set.labels(label))[test_rows]
            for name in protocols:
                protocol, section = FROZEN[SKELETON[name]], getattr(config, SKELETON[name])
                with timing.phase("protocols"):
                    metrics = protocol.run(x_train[train_rows], y_train, x_test[test_rows], y_test,
                                           len(classes[label]), section, seed, placement)
                recorder.record(name, label, seed, metrics, int(test_rows.sum()), protocol.rule(section))
    if skipped:
        print(f"skipped {len(skipped)} unreadable sequence(s): {', '.join(sorted(skipped)[:5])}")
    results = recorder.finish(skipped)
    ResultStore(config.store).add(results)
    return results
