"""bf16 autocast: the losses run in fp32 (bf16 rounds a near-converged loss to 0 or to several times its value),
and a `train.precision=bf16-mixed` pre-training run of each ρ-method ends finite with fp32 weights."""

import json

import pytest
import torch
import torch.nn.functional as F

from vssl.app.pretrain import PretrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.methods.base import Method
from vssl.methods.losses import byol_loss, info_nce, normalize, sinkhorn_knopp, swav_loss
from vssl.models.checkpoints import load_encoder, read_checkpoint


def _bf16_autocast_works() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.bfloat16
    except RuntimeError:
        return False


pytestmark = pytest.mark.skipif(not _bf16_autocast_works(), reason="this torch build has no bf16 CPU autocast")

GEN = torch.Generator().manual_seed(0)
TARGETS = torch.randn(32, 1, 128, generator=GEN)
PREDICTION = TARGETS[:, 0] + 0.01 * torch.randn(32, 128, generator=GEN)  # near convergence: 2 − 2·cos ≈ 1e-4
QUERY = F.normalize(torch.randn(32, 128, generator=GEN), dim=1)
POSITIVES = F.normalize(QUERY[:, None] + 0.02 * torch.randn(32, 1, 128, generator=GEN), dim=-1)
NEGATIVES = F.normalize(torch.randn(256, 128, generator=GEN), dim=1)  # InfoNCE ≈ 256·e^(−1/α) ≈ 1e-2
SCORES = F.normalize(torch.randn(32, 3, 128, generator=GEN), dim=-1) @ F.normalize(
    torch.randn(100, 128, generator=GEN), dim=1).t()

CASES = {  # loss, inputs, keyword settings, the error of the loss computed in bf16 (relative to its fp32 value)
    "byol": (byol_loss, (PREDICTION, TARGETS), {}, 0.5),
    "info_nce_rows": (info_nce, (QUERY, POSITIVES, NEGATIVES), {"temperature": 0.1, "multi_positive": "rows"}, 0.5),
    "info_nce_sum": (info_nce, (QUERY, POSITIVES, NEGATIVES), {"temperature": 0.1, "multi_positive": "sum"}, 0.5),
    "sinkhorn": (sinkhorn_knopp, (SCORES[:, 0] * 5,), {}, 0.01),
    "swav": (swav_loss, (SCORES,), {"temperature": 0.1}, 1e-5),
    "normalize": (normalize, (PREDICTION,), {}, 1e-3),
}


def _relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return ((value.float() - reference).abs().max() / reference.abs().max()).item()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("inputs_dtype", [torch.float32, torch.bfloat16])
def test_losses_are_fp32_under_bf16_autocast(name, inputs_dtype):
    loss, inputs, settings, bf16_error = CASES[name]
    inputs = [x.to(inputs_dtype) for x in inputs]  # bf16: as a bf16 projection head hands them over
    reference = loss(*[x.float() for x in inputs], **settings)  # no autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        unguarded = loss.__wrapped__(*inputs, **settings)  # the same math with autocast's dtypes
        guarded = loss(*inputs, **settings)
    if inputs_dtype == torch.bfloat16 or name in ("byol", "info_nce_rows", "info_nce_sum"):  # einsum/matmul cast
        assert _relative_error(unguarded, reference) > bf16_error  # what went wrong without the fp32 guard
    assert guarded.dtype == torch.float32 and torch.isfinite(guarded).all()
    assert torch.equal(guarded, reference)


def test_gradients_reach_bf16_inputs_in_their_dtype():
    prediction = PREDICTION.bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = byol_loss(prediction, TARGETS.bfloat16())
    loss.backward()
    assert prediction.grad.dtype == torch.bfloat16 and torch.isfinite(prediction.grad).all()
    assert prediction.grad.abs().max() > 0  # bf16 math rounds this loss to 0 and its gradient with it


SMALL = ["train.batch_size=4", "train.progress=false", "train.precision=bf16-mixed", "model.width=0.125",
         "model.depth=[1,1,1,1]", "data.clip_len=4", "data.stride=2", "data.crop_size=24", "data.short_side=[26,30]",
         "data.num_workers=0"]


@pytest.mark.parametrize("method, extra", [
    ("rho_byol", ["method.proj_hidden=32", "method.pred_hidden=32"]),
    ("rho_moco", ["method.proj_hidden=32", "method.queue_size=32"]),
    ("rho_simclr", ["method.proj_hidden=32"]),
    ("rho_swav", ["method.proj_hidden=32", "method.num_prototypes=16", "train.epochs=2"]),  # epoch 2: prototypes train
])
def test_bf16_mixed_pretraining_stays_finite(micro_manifest, tmp_path, monkeypatch, method, extra):
    autocast_seen = []
    train_batch = Method.train_batch

    def recording_train_batch(self, batch):
        autocast_seen.append(torch.is_autocast_enabled("cpu"))
        return train_batch(self, batch)

    monkeypatch.setattr(Method, "train_batch", recording_train_batch)
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path}", "train.epochs=1",
                 f"method.name={method}", *SMALL, *extra]
    run = run_pretrain(load_config(PretrainConfig, None, "pretrain", overrides))
    assert autocast_seen and all(autocast_seen)  # Lightning's bf16-mixed did engage CPU autocast
    summary = json.loads((run / "summary.json").read_text())
    assert torch.isfinite(torch.tensor(summary["final_loss"]))
    state = read_checkpoint(run / "checkpoints" / "last.ckpt")["state_dict"]  # incl. momentum encoders, queue
    for name, tensor in state.items():
        if tensor.is_floating_point():
            assert tensor.dtype == torch.float32 and torch.isfinite(tensor).all(), name
    assert load_encoder(run / "encoder.pt")[2].summary() == "all keys matched"
