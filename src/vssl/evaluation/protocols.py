"""The frozen-feature protocols of `vssl eval`, each registered once: taps it reads, its scores, its stored names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vssl.core.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from vssl.core.runtime import Placement
    from vssl.data.loader import VideoClipDataset

# The torch-side helpers are imported inside the functions below, so the CLI lists the names without loading torch.

ENCODER_TAP = "pool"  # kNN and the linear probe read the encoder's own pooled output
FINETUNE = "finetune"  # trains the encoder end to end (its own path in `vssl eval`), listed with the frozen ones
ROBUSTNESS = "robustness"  # fine-tunes as FINETUNE, then tests on noisy clips (vssl.evaluation.robustness)
TRAINED = (FINETUNE, ROBUSTNESS)  # the protocols that fine-tune: one trained model serves both
CKA = "cka"  # layer × layer CKA maps between two encoders (vssl.app.cka), not a score of one encoder
ARROW = "arrow"  # arrow of time: forward vs reversed clips, linear probe (vssl.app.arrow_of_time)
ARROW_FINETUNE = "arrow_finetune"  # the same task, fine-tuning the encoder with a 2-way head
COUNTING = "counting"  # repetition counting: a count regression head fine-tuned end to end (vssl.app.counting)
LOCALIZATION = "localization"  # BSN proposals and detection on snippet features of untrimmed videos (vssl.app.localization)
ST_DETECTION = "st_detection"  # actions in given boxes, frame-mAP@0.5 (vssl.app.spatiotemporal); named apart from
#                                 the temporal detection mAP of vssl.evaluation.detection
# multi-label classification (Charades): BCE linear probe on frozen features, or BCE fine-tuning (vssl.app.multilabel);
# their label sets hold several classes a video, so they run apart from the single-label protocols
MULTILABEL = ("multilabel", "multilabel_finetune")
# frozen protocols on skeleton manifests (.npy keypoints, NTU .skeleton files) and skeleton encoders
# (vssl.app.skeleton_eval): name → the frozen protocol it runs on the sequences' features (Thoker 2023 §3.4.3)
SKELETON = {"skeleton_linear": "linear", "skeleton_knn": "knn"}
# protocols with views or encoders of their own, each run by its own module
SPECIAL = (CKA, ARROW, ARROW_FINETUNE, COUNTING, LOCALIZATION, ST_DETECTION, *MULTILABEL, *SKELETON)
ASLAN = "aslan"  # svm.protocol=aslan: same/not-same pairs of the test split, stored as svm@aslan, label "same"


@dataclass(frozen=True)
class Protocol:
    """A frozen-feature protocol.

    ``taps(config, tap_names)``: the backbone taps it reads, given the eval config and the backbone's tap names.
    ``run(x_train, y_train, x_test, y_test, num_classes, section, seed, placement)``: {metric: value} from one tap's
    per-view features [N, V, D] / [M, V, D] (on the CPU) and class indices; ``section`` is the eval config's
    section named after the protocol (None where there is none). ``stored(tap)``: its name in the results store.
    ``rule(section)``: the settings that decide its values, stored with them ("" where the config hash suffices).
    """

    name: str
    run: Callable[..., dict[str, float]]
    taps: Callable[[Any, tuple[str, ...]], list[str]]
    stored: Callable[[str], str]
    rule: Callable[[Any], str]


FROZEN: dict[str, Protocol] = {}  # name → protocol, in registration order (the order results are recorded in)


def register(name: str, run: Callable[..., dict[str, float]], taps: Callable | None = None,
             stored: Callable[[str], str] | None = None, rule: Callable[[Any], str] | None = None) -> Protocol:
    """Add a frozen protocol; ``taps`` defaults to the encoder's pooled output, ``stored`` to ``name``, ``rule``
    to none."""
    if name in FROZEN or name in TRAINED or name in SPECIAL:
        raise ValueError(f"protocol '{name}' is already registered")
    FROZEN[name] = Protocol(name, run, taps or (lambda config, tap_names: [ENCODER_TAP]), stored or (lambda _: name),
                            rule or (lambda section: ""))
    return FROZEN[name]


def unregister(name: str) -> None:
    del FROZEN[name]


def protocol_names() -> tuple[str, ...]:
    """Every protocol `vssl eval` runs: the frozen ones in registration order, the fine-tuned ones, then the special
    ones."""
    return (*FROZEN, *TRAINED, *SPECIAL)


def check_protocol_names(names: list[str]) -> None:
    unknown = [name for name in names if name not in protocol_names()]
    if unknown:
        raise ConfigError(f"unknown protocol '{unknown[0]}' (available: {', '.join(protocol_names())})")
    others = [name for name in names if name not in MULTILABEL]
    if others and len(others) < len(names):
        raise ConfigError(f"protocol '{others[0]}' cannot run with {' or '.join(MULTILABEL)}: they read data.labels "
                          "as multi-label sets (several classes a video); run them apart")
    videos = [name for name in names if name not in SKELETON]
    if videos and len(videos) < len(names):
        raise ConfigError(f"protocol '{videos[0]}' cannot run with {', '.join(SKELETON)}: they read skeleton "
                          "manifests, not videos; run them apart")


def knn(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, num_classes: int,
        section, seed: int, placement: Placement) -> dict[str, float]:
    """Cosine kNN of video features (views averaged) on the device."""
    from vssl.evaluation.knn import knn_scores
    from vssl.evaluation.metrics import classification_metrics

    on = placement.tensor
    scores = knn_scores(on(x_train.mean(dim=1)), on(y_train), on(x_test.mean(dim=1)), num_classes, section.k,
                        section.temperature)
    return classification_metrics(placement.host(scores), y_test)


def knn_rule(section) -> str:
    from vssl.evaluation.knn import knn_rule as rule

    return rule(section.k, section.temperature)


def linear(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
           num_classes: int, section, seed: int, placement: Placement) -> dict[str, float]:
    """Linear probe on every view's features, trained on the device."""
    from vssl.evaluation.linear import train_linear_probe
    from vssl.evaluation.metrics import classification_metrics

    return classification_metrics(train_linear_probe(x_train, y_train, x_test, num_classes, section, seed, placement),
                                  y_test)


def retrieval(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
              num_classes: int, section, seed: int, placement: Placement) -> dict[str, float]:
    """Test → train video retrieval (views averaged) on the device: top-k hit rates."""
    from vssl.evaluation.retrieval import retrieval_topk

    on = placement.tensor
    hits = retrieval_topk(on(x_train.mean(dim=1)), on(y_train), on(x_test.mean(dim=1)), on(y_test), section.top_k)
    return {f"top{k}": value for k, value in hits.items()}


def svm(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, num_classes: int,
        section, seed: int, placement: Placement) -> dict[str, float]:
    """Linear SVMs on the CPU: trained on the train split, or leave-one-out within the test split (YUPENN)."""
    from vssl.evaluation.metrics import classification_metrics
    from vssl.evaluation.svm import leave_one_out_scores, svm_scores, video_features

    if section.protocol == "leave_one_out":
        scores = leave_one_out_scores(video_features(x_test), y_test, num_classes, section.c, seed)
    elif section.protocol == "split":
        scores = svm_scores(video_features(x_train), y_train, video_features(x_test), num_classes, section.c, seed)
    else:
        raise ConfigError(f"svm.protocol: unknown protocol '{section.protocol}' (valid: split, leave_one_out, "
                          f"{ASLAN})")
    return classification_metrics(scores, y_test)


def retrieval_taps(config, tap_names: tuple[str, ...]) -> list[str]:
    from vssl.evaluation.taps import resolve_taps

    return resolve_taps(config.retrieval.taps, tap_names, "retrieval.taps")


def svm_taps(config, tap_names: tuple[str, ...]) -> list[str]:
    """``svm.tap`` (exactly one), or for ASLAN every tap of ``svm.aslan_taps``."""
    from vssl.evaluation.taps import resolve_taps

    if config.svm.protocol == ASLAN:
        return resolve_taps(config.svm.aslan_taps, tap_names, "svm.aslan_taps")
    taps = resolve_taps(config.svm.tap, tap_names, "svm.tap")
    if len(taps) != 1:
        raise ConfigError(f"svm.tap: one tap expected, got '{config.svm.tap}'")
    return taps


def retrieval_name(tap: str) -> str:
    from vssl.evaluation.retrieval import protocol_name

    return protocol_name(tap)


def aslan(manifest: str, videos: VideoClipDataset, features: list[torch.Tensor], section,
          seed: int) -> dict[str, float]:
    """ASLAN (Wang 2020 §3.6): mean same/not-same accuracy over the folds of the manifest's ``.pairs.csv`` on the
    test split's video features of each tap; pairs with an unreadable video are left out (and counted)."""
    from vssl.core.errors import VsslError
    from vssl.data.formats.aslan import pair_indices, pairs_path, read_pairs
    from vssl.evaluation.features import readable_rows
    from vssl.evaluation.svm import aslan_accuracy, video_features

    pairs_file = pairs_path(manifest)
    if not pairs_file.is_file():
        raise VsslError(f"svm.protocol=aslan needs the pair file {pairs_file} (written by `vssl data import aslan`)")
    readable = readable_rows(features[0])
    every_pair = read_pairs(pairs_file)
    unreadable = set(videos.unreadable)
    indexed = pair_indices([p for p in every_pair if p.a not in unreadable and p.b not in unreadable], videos.samples)
    pairs = [p for p in indexed if readable[p[1]] and readable[p[2]]]
    dropped = len(every_pair) - len(pairs)
    if dropped:
        print(f"ASLAN: left out {dropped} pair(s) with an unreadable video")
    folds = aslan_accuracy([video_features(f) for f in features], pairs, section.c, seed)
    return {"accuracy": sum(folds) / len(folds)}


register("knn", knn, rule=knn_rule)
register("linear", linear)
register("retrieval", retrieval, retrieval_taps, retrieval_name)
register("svm", svm, svm_taps, lambda tap: f"svm@{tap}")
