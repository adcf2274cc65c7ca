"""Encoder checkpoints: safe saving and loading (never full pickle) and import of other tools' weight layouts.

``load_pretrained(backbone, path)`` loads weights saved by other tools into one of our backbones: it finds the
state dict inside the usual wrappers, strips wrapper prefixes (``module.``, ``encoder_q.``, ...), renames
PySlowFast / pytorchvideo / mmaction / Efficient-3DCNNs keys with the regex tables below, and reports what was
missing, unexpected, ignored or of the wrong shape. Keys of torchvision's video ResNets and of VideoMAE's ViT
are already ours.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from vssl.core.errors import VsslError
from vssl.core.io import torch_save_atomic
from vssl.models.spec import EncoderSpec

ENCODER_FORMAT = "vssl-encoder-v2"  # {"format", "spec": EncoderSpec.to_dict(), "state_dict"}
ENCODER_FORMAT_V1 = "vssl-encoder-v1"  # {"format", "backbone", "backbone_kwargs", "state_dict"}: still read

# Top-level keys under which training scripts store the model's state dict, in order of preference: Lightning
# and MoCo "state_dict", VideoMAE "model" (DeepSpeed "module"), PySlowFast / pytorchvideo "model_state".
WRAPPER_KEYS = ("state_dict", "model", "module", "model_state", "model_state_dict")
# Key prefixes of the wrappers around an encoder: DataParallel / DeepSpeed, our Lightning module, VideoMAE's
# pre-training model, MoCo's query encoder, BYOL's online network, generic wrappers, torch.compile.
# Momentum / key / target encoders (``encoder_k.``, ``target_encoder.``) are deliberately absent.
STRIPPABLE_PREFIXES = ("module.", "backbone.", "encoder.", "encoder_q.", "online_encoder.", "model.", "net.",
                       "_orig_mod.")
# Classes a weights-only load may build besides tensors and containers. VideoMAE (utils.save_model) stores its
# argparse ``args`` in every checkpoint; a Namespace is a plain attribute bag, and its values are still
# unpickled by the weights-only rules.
SAFE_CHECKPOINT_GLOBALS = [argparse.Namespace]
# Stands for the backbone's classifier ("fc." for the ResNets, "head." for ViT and Swin) in a layout's rules.
HEAD = "<head>."

Rules = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class KeyLayout:
    """A checkpoint naming scheme: regex rewrites applied in order (``re.sub``) turn its keys into ours."""

    name: str
    rules: Rules

    def rename(self, key: str) -> str:
        for pattern, replacement in self.rules:
            key = re.sub(pattern, replacement, key)
        return key


# PySlowFast ResNet (slowfast/models/video_model_builder.py): s1 = stem, s2..s5 = res2..res5, pathway 0 only.
PYSLOWFAST_RULES: Rules = (
    (r"^s1\.pathway0_stem\.conv\.", "stem.0."),
    (r"^s1\.pathway0_stem\.bn\.", "stem.1."),
    (r"^s2\.pathway0_res(\d+)\.", r"layer1.\1."),
    (r"^s3\.pathway0_res(\d+)\.", r"layer2.\1."),
    (r"^s4\.pathway0_res(\d+)\.", r"layer3.\1."),
    (r"^s5\.pathway0_res(\d+)\.", r"layer4.\1."),
    (r"\.branch1\.", ".downsample.0."),
    (r"\.branch1_bn\.", ".downsample.1."),
    (r"\.branch2\.a\.", ".conv1."),
    (r"\.branch2\.a_bn\.", ".bn1."),
    (r"\.branch2\.b\.", ".conv2."),
    (r"\.branch2\.b_bn\.", ".bn2."),
    (r"\.branch2\.c\.", ".conv3."),
    (r"\.branch2\.c_bn\.", ".bn3."),
    (r"^head\.projection\.", HEAD),
)
# pytorchvideo ``create_resnet`` (the torch-hub slow_r50): blocks.0 = stem, blocks.1..4 = res2..res5, blocks.5 = head.
PYTORCHVIDEO_RULES: Rules = (
    (r"^blocks\.0\.conv\.", "stem.0."),
    (r"^blocks\.0\.norm\.", "stem.1."),
    (r"^blocks\.([1-4])\.res_blocks\.(\d+)\.", r"layer\1.\2."),
    (r"\.branch1_conv\.", ".downsample.0."),
    (r"\.branch1_norm\.", ".downsample.1."),
    (r"\.branch2\.conv_a\.", ".conv1."),
    (r"\.branch2\.norm_a\.", ".bn1."),
    (r"\.branch2\.conv_b\.", ".conv2."),
    (r"\.branch2\.norm_b\.", ".bn2."),
    (r"\.branch2\.conv_c\.", ".conv3."),
    (r"\.branch2\.norm_c\.", ".bn3."),
    (r"^blocks\.5\.proj\.", HEAD),
)
# mmaction recognisers (Video Swin's checkpoints): the backbone under "backbone.", the classifier "cls_head.fc_cls".
MMACTION_RULES: Rules = (
    (r"^backbone\.", ""),
    (r"^cls_head\.fc_cls\.", HEAD),
)
# Efficient-3DCNNs (okankop/Efficient-3DCNNs) names its feature Sequential "features"; ours is "blocks".
EFFICIENT_3DCNNS_RULES: Rules = ((r"^features\.", "blocks."),)

# Tried in this order; on equal matches the earlier wins. torchvision's video ResNets and VideoMAE's ViT
# (fine-tuned, or pre-trained once "encoder." is stripped) use our names, so they load as "vssl".
KEY_LAYOUTS = (
    KeyLayout("vssl", ()),
    KeyLayout("pyslowfast", PYSLOWFAST_RULES),
    KeyLayout("pytorchvideo", PYTORCHVIDEO_RULES),
    KeyLayout("mmaction", MMACTION_RULES),
    KeyLayout("efficient-3dcnns", EFFICIENT_3DCNNS_RULES),
)

# safetensors (github.com/huggingface/safetensors, "Format"): u64 little-endian header size N, N bytes of
# JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw
# little-endian tensor bytes, offsets counted from the end of the header.
SAFETENSORS_HEADER_SIZE_BYTES = 8
SAFETENSORS_MAX_HEADER_BYTES = 100_000_000  # the reference reader refuses larger headers
SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


@dataclass
class LoadReport:
    """What a load did: keys the model lacks in the file, file keys it could not use, shape mismatches.

    ``unexpected`` are file keys under the chosen prefix that the backbone has no place for (e.g. a
    classifier when the backbone is headless); ``ignored`` are file keys outside that prefix (momentum
    encoders, decoders, queues). ``source`` says where the weights came from; empty for ``load_encoder``.
    """

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    source: str = ""
    loaded: int = 0

    def summary(self) -> str:
        """One line: the source and tensor count when known, then each kind of problem with examples."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {', '.join(self.missing[:3])})")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} shape mismatches, not loaded (e.g. {', '.join(self.mismatched[:3])})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (e.g. {', '.join(self.unexpected[:3])})")
        body = "; ".join(parts) if parts else "all keys matched"
        if self.ignored:
            body += f"; {len(self.ignored)} ignored (e.g. {', '.join(self.ignored[:3])})"
        return f"{self.source}: loaded {self.loaded} tensors; {body}" if self.source else body


def save_encoder(path: str | Path, backbone: nn.Module, spec: EncoderSpec) -> None:
    """Write the encoder's weights and its spec (how to rebuild and feed it); atomic (temp file + rename)."""
    payload = {"format": ENCODER_FORMAT, "spec": spec.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in backbone.state_dict().items()}}
    torch_save_atomic(payload, path)


def read_checkpoint(path: str | Path) -> dict:
    """The file's contents: ``.safetensors`` by its header, anything else by a weights-only ``torch.load``."""
    path = Path(path)
    if not path.is_file():
        raise VsslError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    try:
        with torch.serialization.safe_globals(SAFE_CHECKPOINT_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" in str(e):
            raise VsslError(_refusal_message(path)) from None
        raise VsslError(f"{path}: cannot be read as a weights-only checkpoint ({str(e).splitlines()[0]})") from None
    except Exception as e:  # torch raises several types for corrupt files
        raise VsslError(f"{path}: cannot be read as a weights-only checkpoint ({str(e).splitlines()[0]})") from None


def _refusal_message(path: Path) -> str:
    """Why a weights-only load was refused, naming the classes or functions the file would run."""
    try:
        culprits = ", ".join(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # older (non-zip) files cannot be scanned; the refusal stands without the names
        culprits = ""
    needs = f" ({culprits})" if culprits else ""
    return (f"{path}: refused to unpickle: it needs full pickle{needs}, which can run arbitrary code; "
            "re-save only its state dict (torch.save(model.state_dict(), ...)) or use safetensors")


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file, read without the safetensors package (the format is tiny)."""
    path = Path(path)
    if not path.is_file():
        raise VsslError(f"checkpoint not found: {path}")
    data = path.read_bytes()
    header_size = int.from_bytes(data[:SAFETENSORS_HEADER_SIZE_BYTES], "little")
    body_start = SAFETENSORS_HEADER_SIZE_BYTES + header_size
    too_short = len(data) < SAFETENSORS_HEADER_SIZE_BYTES or body_start > len(data)
    if too_short or header_size > SAFETENSORS_MAX_HEADER_BYTES:
        raise VsslError(f"{path}: not a safetensors file (header size {header_size} for a {len(data)}-byte file)")
    try:
        header = json.loads(data[SAFETENSORS_HEADER_SIZE_BYTES:body_start])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VsslError(f"{path}: safetensors header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise VsslError(f"{path}: safetensors header is not a JSON object")
    body = memoryview(data)[body_start:]
    return {name: _safetensors_tensor(path, name, entry, body)
            for name, entry in header.items() if name != "__metadata__"}


def _safetensors_tensor(path: Path, name: str, entry: object, body: memoryview) -> torch.Tensor:
    """One tensor of a safetensors body, after checking its header entry against the bytes it claims."""
    try:
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        shape = [int(size) for size in entry["shape"]]
        begin, end = (int(offset) for offset in entry["data_offsets"])
    except (TypeError, KeyError, ValueError) as e:
        raise VsslError(f"{path}: safetensors entry {name!r} is malformed or of an unsupported dtype ({e!r})") from None
    expected_bytes = math.prod(shape) * dtype.itemsize
    if min(shape, default=0) < 0 or not 0 <= begin <= end <= len(body) or end - begin != expected_bytes:
        raise VsslError(f"{path}: safetensors entry {name!r} (shape {shape}, {entry['dtype']}) has data offsets "
                        f"[{begin}, {end}] that do not fit its size or the {len(body)}-byte body")
    if expected_bytes == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(body[begin:end]), dtype=dtype).reshape(shape)


def _vssl_encoder_spec(payload: object, path: Path) -> tuple[EncoderSpec, dict] | None:
    """(spec, backbone state dict) from our encoder file or our Lightning checkpoint (of any vssl version), else
    None."""
    if not isinstance(payload, dict):
        return None
    if payload.get("format") == ENCODER_FORMAT:
        return EncoderSpec.from_dict(payload["spec"], str(path)), payload["state_dict"]
    if payload.get("format") == ENCODER_FORMAT_V1:
        return EncoderSpec.from_dict(payload, str(path)), payload["state_dict"]
    if "vssl" in payload and "state_dict" in payload:  # a `vssl pretrain` Lightning checkpoint
        prefix = "backbone."
        state = {k[len(prefix):]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}
        return EncoderSpec.from_dict(payload["vssl"], str(path)), state
    return None


def load_encoder(path: str | Path) -> tuple[nn.Module, EncoderSpec, LoadReport]:
    """Rebuild the backbone stored in ``path`` → (module, its spec, key report)."""
    path = Path(path)
    payload = read_checkpoint(path)
    stored = _vssl_encoder_spec(payload, path)
    if stored is None:
        keys = ", ".join(map(str, list(payload)[:5])) if isinstance(payload, dict) else type(payload).__name__
        raise VsslError(f"{path}: not a vssl encoder or pre-training checkpoint (keys: {keys})")
    return _rebuild_encoder(*stored)


def _rebuild_encoder(spec: EncoderSpec, state: dict) -> tuple[nn.Module, EncoderSpec, LoadReport]:
    """``load_encoder`` on the spec and state dict of a vssl file."""
    backbone = spec.build()
    result = backbone.load_state_dict(state, strict=False)
    return backbone, spec, LoadReport(list(result.missing_keys), list(result.unexpected_keys))


def find_state_dict(payload: object, path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of the state dict inside ``payload`` and where they were ("state_dict/model" or "")."""
    if not isinstance(payload, Mapping):
        raise VsslError(f"{path}: holds a {type(payload).__name__}, not a state dict or a checkpoint dict")
    node, trail = payload, []
    while (wrapper := next((key for key in WRAPPER_KEYS if isinstance(node.get(key), Mapping)), None)) is not None:
        node, trail = node[wrapper], [*trail, wrapper]
    tensors = {key: value for key, value in node.items() if isinstance(key, str) and isinstance(value, torch.Tensor)}
    if not tensors:
        where = f" under {'/'.join(trail)}" if trail else ""
        raise VsslError(f"{path}: no tensors found{where} (keys: {', '.join(map(str, list(node)[:5]))})")
    return tensors, "/".join(trail)


def prefix_chains(keys: list[str]) -> list[str]:
    """Every run of wrapper prefixes that starts some key ("", "module.", "module.encoder_q.", ...), shortest first."""
    chains = {""}
    for key in keys:
        chain = ""
        while (prefix := next((p for p in STRIPPABLE_PREFIXES if key.startswith(chain + p)), None)) is not None:
            chain += prefix
            chains.add(chain)
    return sorted(chains, key=lambda chain: (len(chain), chain))


def classifier_prefix(backbone: nn.Module) -> str | None:
    """Name prefix of the backbone's linear classifier ("fc." or "head."), None when it has none."""
    for name in ("fc", "head"):
        if isinstance(getattr(backbone, name, None), nn.Linear):
            return f"{name}."
    return None


@dataclass
class KeyMatch:
    """How the file's keys meet the backbone under one (prefix, layout) choice."""

    prefix: str
    layout: KeyLayout
    loadable: dict[str, torch.Tensor]  # our key -> tensor of the right shape
    report: LoadReport

    def score(self) -> tuple[int, int, int]:
        """Tensors loaded, then fewer shape mismatches, then fewer unexpected keys: higher is better."""
        return len(self.loadable), -len(self.report.mismatched), -len(self.report.unexpected)


def match_keys(tensors: dict[str, torch.Tensor], target: dict[str, torch.Tensor], prefix: str, layout: KeyLayout,
               head: str | None) -> KeyMatch:
    """Rename the keys under ``prefix`` with ``layout`` and sort them into loadable / mismatched / unexpected."""
    report = LoadReport()
    loadable: dict[str, torch.Tensor] = {}
    wrong_shape: set[str] = set()
    for key, tensor in tensors.items():
        if not key.startswith(prefix):
            report.ignored.append(key)
            continue
        ours = layout.rename(key[len(prefix):])
        if ours.startswith(HEAD):
            ours = None if head is None else head + ours[len(HEAD):]
        if ours not in target or ours in loadable:
            report.unexpected.append(key)
        elif tensor.shape != target[ours].shape:
            report.mismatched.append(f"{key} {tuple(tensor.shape)} vs {ours} {tuple(target[ours].shape)}")
            wrong_shape.add(ours)
        else:
            loadable[ours] = tensor
    # BN's num_batches_tracked only counts steps; files made before torch 0.4.1 or by Caffe2 lack it.
    report.missing = [key for key in target if key not in loadable and key not in wrong_shape
                      and not key.endswith("num_batches_tracked")]
    return KeyMatch(prefix, layout, loadable, report)


def best_key_match(tensors: dict[str, torch.Tensor], backbone: nn.Module) -> KeyMatch:
    """The (prefix, layout) pair that loads the most tensors (see ``KeyMatch.score``).

    Remaining ties go to the shorter prefix, then the earlier layout.
    """
    target = backbone.state_dict()
    head = classifier_prefix(backbone)
    candidates = [match_keys(tensors, target, prefix, layout, head)
                  for prefix in prefix_chains(list(tensors)) for layout in KEY_LAYOUTS]
    return max(candidates, key=KeyMatch.score)  # max keeps the first of equal scores


def load_pretrained(backbone: nn.Module, path: str | Path, strict: bool = False) -> LoadReport:
    """Load the encoder weights in ``path`` (ours or a foreign tool's) into ``backbone``; report what matched.

    Tensors of the wrong shape are skipped. ``strict`` raises VsslError, before anything is loaded, when a
    backbone key is missing from the file or has the wrong shape there. Raises VsslError when no tensor fits.
    """
    path = Path(path)
    return _load_payload(backbone, read_checkpoint(path), path, strict)


def _load_payload(backbone: nn.Module, payload: object, path: Path, strict: bool) -> LoadReport:
    """``load_pretrained`` on a file's already read contents."""
    stored = _vssl_encoder_spec(payload, path)
    if stored is not None:
        tensors = stored[1]
        where = f"of a vssl {stored[0].backbone} encoder"
    else:
        tensors, trail = find_state_dict(payload, path)
        where = f"in '{trail}'" if trail else "at top level"
    match = best_key_match(tensors, backbone)
    if not match.loadable:
        raise VsslError(
            f"{path}: none of its {len(tensors)} tensors fits {type(backbone).__name__} under any known key layout "
            f"({', '.join(layout.name for layout in KEY_LAYOUTS)}); its keys start like {', '.join(list(tensors)[:3])}"
        )
    report = match.report
    prefix = f" under '{match.prefix}'" if match.prefix else ""
    report.source = f"{path.name} ({match.layout.name} keys {where}{prefix})"
    report.loaded = len(match.loadable)
    if strict and (report.missing or report.mismatched):
        raise VsslError(f"strict load refused: {report.summary()}")
    backbone.load_state_dict(match.loadable, strict=False)
    return report


# A foreign checkpoint is refused when fewer than this fraction of the backbone's tensors (BN step counters aside)
# found a tensor of the right name and shape in it: a wrong backbone, width or depth, not a partial import.
MIN_MATCHED_FRACTION = 0.5


def backbone_tensor_count(backbone: nn.Module) -> int:
    """Tensors of the backbone's state dict, BN step counters aside (files often lack them)."""
    return sum(1 for key in backbone.state_dict() if not key.endswith("num_batches_tracked"))


def matched_tensor_count(backbone: nn.Module, report: LoadReport) -> int:
    """Backbone tensors (BN step counters aside) that ``report``'s load filled from the file."""
    return backbone_tensor_count(backbone) - len(report.missing) - len(report.mismatched)


def key_report_line(backbone_name: str, backbone: nn.Module, report: LoadReport) -> str:
    """One line: the file and layout found, then matched / missing / unexpected / ignored counts (BN step counters
    aside, unlike ``LoadReport.loaded``)."""
    line = (f"{report.source} -> {backbone_name}: matched {matched_tensor_count(backbone, report)} of "
            f"{backbone_tensor_count(backbone)} tensors, {len(report.missing)} missing, "
            f"{len(report.mismatched)} wrong shape, {len(report.unexpected)} unexpected, {len(report.ignored)} ignored")
    examples = [f"{kind} e.g. {', '.join(keys[:2])}" for kind, keys in
                (("missing", report.missing), ("unexpected", report.unexpected)) if keys]
    return line + (f" ({'; '.join(examples)})" if examples else "")


def load_any_encoder(path: str | Path, spec: EncoderSpec,
                     min_matched: float = MIN_MATCHED_FRACTION) -> tuple[nn.Module, LoadReport, bool, EncoderSpec]:
    """Any checkpoint's encoder → (module, key report, foreign, the spec it was built from: building that again
    draws from torch's global RNG what this load drew).

    vssl's ``encoder.pt`` / ``last.ckpt`` rebuild the backbone of the spec they hold (``foreign`` False). Any other
    file (torchvision, PySlowFast, pytorchvideo, VideoMAE, mmaction, SEVERE-repo wrappers; see ``load_pretrained``)
    is loaded into ``spec.build()``, and refused with a one-line VsslError naming the file when fewer than
    ``min_matched`` of the backbone's tensors matched.
    """
    path = Path(path)
    payload = read_checkpoint(path)
    stored = _vssl_encoder_spec(payload, path)
    if stored is not None:
        encoder, own_spec, report = _rebuild_encoder(*stored)
        return encoder, report, False, own_spec
    backbone = spec.build()
    options = ", ".join(f"{key}={value}" for key, value in spec.kwargs.items())
    tried = f"{spec.backbone} ({options})" if options else spec.backbone
    try:
        report = _load_payload(backbone, payload, path, strict=False)
    except VsslError as e:  # no tensor fits: say which backbone was tried
        raise VsslError(f"{e} (tried {tried})") from None
    matched, total = matched_tensor_count(backbone, report), backbone_tensor_count(backbone)
    if matched < min_matched * total:
        raise VsslError(f"{path}: only {matched} of the {total} tensors of {tried} matched "
                        f"({report.source}, {len(report.unexpected)} unexpected, {len(report.mismatched)} wrong "
                        f"shape); refused: check encoder.backbone, encoder.width and encoder.depth")
    return backbone, report, True, spec
