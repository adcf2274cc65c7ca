"""Evaluation is device-aware: the device resolver, and modules moving together with every batch (on the meta device,
which holds shapes but no data, so the paths run on a CPU-only machine) in features, kNN, the linear probe,
fine-tuning and the pre-training kNN monitor."""

import contextlib
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import vssl.core.runtime
import vssl.evaluation.monitor
from vssl.app.evaluate import EvalConfig, EvalData, run_eval
from vssl.core.config import load_config
from vssl.core.errors import ConfigError
from vssl.core.runtime import Placement, dense_conv3d, resolve_amp, resolve_device
from vssl.data.index import build_index
from vssl.data.manifest import read_manifest
from vssl.evaluation.features import extract_clip_features, extract_tap_features
from vssl.evaluation.finetune import FinetuneConfig, finetune
from vssl.evaluation.knn import knn_scores
from vssl.evaluation.linear import LinearConfig, train_linear_probe
from vssl.evaluation.monitor import KnnMonitor, MonitorConfig
from vssl.models.registry import build_backbone

META = torch.device("meta")


class MetaPlacement(Placement):
    """The meta device stands in for an accelerator: tensors there have shapes but no data, so results come back
    to the CPU as zeros of the right shape and dtype."""

    def host(self, x: torch.Tensor) -> torch.Tensor:
        assert x.device == META, f"a result to bring back lives on {x.device}, not on the placement's device"
        return torch.zeros(x.shape, dtype=x.dtype)


@contextlib.contextmanager
def device_record():
    """Every module call while active: (devices of the module's own parameters and buffers, devices of its tensor
    inputs), including modules built inside the code under test (the classifier head, the linear probe)."""
    calls: list[tuple[set, set]] = []

    def hook(module, inputs):
        own = {t.device for t in [*module.parameters(recurse=False), *module.buffers(recurse=False)]}
        calls.append((own, {x.device for x in inputs if isinstance(x, torch.Tensor)}))

    handle = nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()


def devices_seen(calls) -> set:
    return set().union(*(own | inputs for own, inputs in calls))


def tiny_encoder(seed: int = 0):
    torch.manual_seed(seed)
    return build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1))


@pytest.fixture(scope="module")
def data(micro_manifest, tmp_path_factory):
    config = load_config(EvalConfig, None, "eval", [
        f"data.manifest={micro_manifest}", "data.labels=[motion]", "data.clip_len=4", "data.stride=2",
        "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0"])
    return EvalData(config.data, progress=False)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def two_gpus(monkeypatch):
    """Pretend to have two CUDA devices (resolution only: nothing is allocated on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_auto_is_cpu_without_cuda_and_cuda_with_it(no_cuda, monkeypatch):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    assert resolve_amp("auto", torch.device("cpu")) is None  # fp32 on the CPU unless asked for bf16
    assert resolve_amp("bf16", torch.device("cpu")) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_auto_on_this_machine():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("spec, message", [
    ("cuda", "device='cuda': CUDA is not available on this machine (use auto or cpu)"),
    ("cuda:0", "device='cuda:0': CUDA is not available on this machine"),
    ("gpu", "device='gpu': unknown device (valid: auto, cpu, cuda, cuda:N)"),
    ("cuda:x", "device='cuda:x': unknown device"),
])
def test_unusable_device_is_a_one_line_config_error(no_cuda, spec, message):
    with pytest.raises(ConfigError) as error:
        resolve_device(spec)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_cuda_index_this_machine_lacks(two_gpus):
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ConfigError, match=r"^device='cuda:7': no such CUDA device \(this machine has 2: "
                                          r"cuda:0\.\.cuda:1\)$"):
        resolve_device("cuda:7")


def test_amp_resolution(two_gpus, monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(vssl.core.runtime, "bf16_supported", lambda device: True)
    assert resolve_amp("auto", cuda) == torch.bfloat16 and resolve_amp("fp16", cuda) == torch.float16
    assert resolve_amp("off", cuda) is None
    assert load_config(EvalConfig, None, "eval", ["amp=off"]).amp is False  # YAML 1.1 reads a bare off as false
    assert resolve_amp(False, cuda) is None
    placement = Placement.for_eval("cuda:1", "auto")
    assert placement == Placement(torch.device("cuda:1"), torch.bfloat16, channels_last=True)
    assert placement.pin_memory and not Placement().pin_memory
    monkeypatch.setattr(vssl.core.runtime, "bf16_supported", lambda device: False)  # e.g. a V100
    assert resolve_amp("auto", cuda) == torch.float16
    with pytest.raises(ConfigError, match=r"^amp='bf16': cuda has no native bf16 \(use fp16 or off\)$"):
        resolve_amp("bf16", cuda)
    with pytest.raises(ConfigError, match=r"^amp='fp16': fp16 autocast needs a CUDA device \(device is cpu; "):
        resolve_amp("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match=r"^amp='half': unknown mixed precision \(valid: auto, bf16, fp16, off\)$"):
        resolve_amp("half", cuda)


def test_run_eval_on_cuda_without_cuda_fails_before_reading_videos(no_cuda, micro_manifest, tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("EvalData was built before the device was checked")

    monkeypatch.setattr(vssl.app.evaluate, "EvalData", no_data)
    config = load_config(EvalConfig, None, "eval", [f"data.manifest={micro_manifest}", "device=cuda",
                                                    f"store={tmp_path / 'results.sqlite'}", "progress=false"])
    with pytest.raises(ConfigError) as error:
        run_eval(["knn"], config)
    assert str(error.value) == "device='cuda': CUDA is not available on this machine (use auto or cpu)"


def test_channels_last_only_for_dense_3d_cnns():
    assert dense_conv3d(tiny_encoder())
    grouped = nn.Sequential(nn.Conv3d(8, 8, 3, groups=8), nn.Conv3d(8, 8, 1))
    assert not dense_conv3d(grouped)  # depthwise: channels_last_3d measured slower
    patch_embedding = nn.Sequential(nn.Conv3d(3, 8, 2), nn.Linear(8, 4096))
    assert not dense_conv3d(patch_embedding)  # a transformer: the 3D conv is a small share of the weights
    assert not MetaPlacement(META, channels_last=True).for_model(grouped).channels_last


def test_features_run_where_the_encoder_and_every_batch_are(data):
    encoder = tiny_encoder()
    dataset = data.clips(data.test, ["motion"])
    with device_record() as calls:
        features, skipped = extract_tap_features(encoder, dataset, ["layer2", "pool"], 16, 0, progress=False,
                                                 placement=MetaPlacement(META, channels_last=True))
    assert calls and devices_seen(calls) == {META}  # every module and every input, on the placement's device
    assert all(p.device == META for p in encoder.parameters())
    stem_conv = next(m for m in encoder.modules() if isinstance(m, nn.Conv3d))
    assert stem_conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    widths = {"layer2": 128 // 8, "pool": 512 // 8}  # r3d_18's channels at width 0.125
    assert {tap: f.shape for tap, f in features.items()} == {tap: (16, 2, w) for tap, w in widths.items()}
    assert all(f.device.type == "cpu" for f in features.values()) and skipped == []


def test_features_default_to_the_encoders_device_and_match_bf16_autocast(data):
    encoder = tiny_encoder()
    dataset = data.clips(data.test[:4], ["motion"])
    with device_record() as calls:
        fp32, _ = extract_clip_features(encoder, dataset, 4, 0, progress=False)
    assert devices_seen(calls) == {torch.device("cpu")}
    bf16, _ = extract_clip_features(encoder, dataset, 4, 0, progress=False,
                                    placement=Placement(torch.device("cpu"), torch.bfloat16))
    assert bf16.dtype == torch.float32 and torch.allclose(bf16, fp32, rtol=0.05, atol=0.02)
    assert not torch.equal(bf16, fp32)  # autocast really ran in bf16


def test_finetune_moves_model_head_and_batches_together(data):
    encoder = tiny_encoder()
    train_set = data.clips(data.train[:8], ["motion"], training=True)
    test_set = data.clips(data.test[:4], ["motion"])
    config = FinetuneConfig(epochs=1, lr=0.01, milestones=(), batch_size=4, dropout=0.0)
    with device_record() as calls:
        scores, skipped = finetune(encoder, train_set, test_set, 2, config, 0, progress=False,
                                   placement=MetaPlacement(META, channels_last=True))
    assert devices_seen(calls) == {META}
    head_calls = [own for own, _ in calls if any(d == META for d in own)]
    assert head_calls  # the classifier head (built inside finetune) ran on the device too
    assert scores.shape == (4, 2) and scores.device.type == "cpu" and skipped == []


def test_finetune_fp16_scales_the_loss(data, monkeypatch):
    """fp16 autocast goes with a GradScaler (run here on the CPU, where both exist): the scaler steps the optimiser."""
    steps = []
    original = torch.amp.GradScaler.step
    monkeypatch.setattr(torch.amp.GradScaler, "step",
                        lambda self, optimizer: (steps.append(self.is_enabled()), original(self, optimizer))[1])
    train_set = data.clips(data.train[:8], ["motion"], training=True)
    test_set = data.clips(data.test[:2], ["motion"])
    scores, _ = finetune(tiny_encoder(), train_set, test_set, 2, FinetuneConfig(epochs=1, lr=0.01, milestones=(),
                                                                                 batch_size=4, dropout=0.0),
                         0, progress=False, placement=Placement(torch.device("cpu"), torch.float16))
    assert steps == [True, True] and torch.allclose(scores.sum(dim=1), torch.ones(2))


def test_linear_probe_and_knn_on_the_device():
    generator = torch.Generator().manual_seed(0)
    train, test = torch.randn(12, 2, 5, generator=generator), torch.randn(4, 2, 5, generator=generator)
    labels = torch.arange(3).repeat(4)
    with device_record() as calls:
        scores = train_linear_probe(train, labels, test, 3, LinearConfig(epochs=2, batch_size=8), 0,
                                    MetaPlacement(META))
    assert calls and devices_seen(calls) == {META} and scores.shape == (4, 3) and scores.device.type == "cpu"
    votes = knn_scores(train.mean(dim=1).to(META), labels.to(META), test.mean(dim=1).to(META), 3, k=3)
    assert votes.device == META and votes.shape == (4, 3)
    cpu_votes = knn_scores(train.mean(dim=1), labels, test.mean(dim=1), 3, k=3, temperature=None)
    assert cpu_votes.sum(dim=1).tolist() == [3.0] * 4  # each test video gets k votes in a majority vote


class RecordingEncoder(nn.Module):
    """A stand-in encoder that records the device of each clip batch it sees and of its own weights."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))
        self.seen: list[tuple[torch.device, torch.device]] = []

    def forward(self, x):
        self.seen.append((x.device, self.weight.device))
        return x.mean(dim=(2, 3, 4)) * self.weight


def test_monitor_moves_its_clips_to_the_modules_device(micro_manifest, monkeypatch):
    train, test = read_manifest(micro_manifest, split="train"), read_manifest(micro_manifest, split="test")
    monitor = KnnMonitor(MonitorConfig(label="motion", k=3), train, test, build_index(train + test, progress=False),
                         clip_len=4, stride=2, crop_size=24, short_side=24, batch_size=8, num_workers=0)
    monkeypatch.setattr(vssl.evaluation.monitor, "Placement", MetaPlacement)
    encoder = RecordingEncoder().to(META)
    logged = []
    module = SimpleNamespace(encoder=encoder, device=META, log=lambda name, value, **kw: logged.append(name))
    monitor.on_train_epoch_end(SimpleNamespace(current_epoch=0), module)
    assert len(encoder.seen) == 4 and set(encoder.seen) == {(META, META)}  # 2 + 2 batches of 8 videos
    assert logged == ["monitor/knn_top1"] and encoder.training
