"""DDP: two gloo processes, each holding half of a fixed global batch, reproduce the single-process step.

What makes the two runs exactly comparable: both build the same weights (same seed) and see the same clips; BN
layers of the trained encoder run on their running statistics (``eval()``), because per-process batch statistics
differ from the global batch's by design and SyncBN, which would equalise them, runs on GPUs only. ρMoCo's key
encoder stays in training mode: shuffling BN across the two processes normalises the same two random halves of
the global batch as the single-process emulation with ``shuffle_bn_groups=2`` and the same seed. Parameter
gradients are averaged over the processes, as DDP does, which must give the gradient of the global-batch loss.
"""

import json
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

from vssl.app.pretrain import PretrainConfig, TrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.core.errors import ConfigError
from vssl.core.optim import OptimConfig
from vssl.methods import distributed
from vssl.methods.losses import sinkhorn_knopp
from vssl.methods.rho_byol import RhoBYOL, RhoBYOLConfig
from vssl.methods.rho_moco import RhoMoCo, RhoMoCoConfig
from vssl.methods.rho_simclr import RhoSimCLR, RhoSimCLRConfig
from vssl.methods.rho_swav import RhoSwAV, RhoSwAVConfig
from vssl.models.registry import build_backbone

WORLD = 2
GLOBAL_VIDEOS = 4
SMALL_HEAD = {"proj_hidden": 16, "proj_dim": 8}
CASES = {
    "simclr_sum": (RhoSimCLR, RhoSimCLRConfig(rho=3, multi_positive="sum", **SMALL_HEAD)),
    "simclr_rows": (RhoSimCLR, RhoSimCLRConfig(rho=2, multi_positive="rows", **SMALL_HEAD)),
    "moco_rows": (RhoMoCo, RhoMoCoConfig(rho=3, queue_size=32, multi_positive="rows", shuffle_bn_groups=WORLD,
                                         **SMALL_HEAD)),
    "moco_sum": (RhoMoCo, RhoMoCoConfig(rho=2, queue_size=32, multi_positive="sum", shuffle_bn_groups=WORLD,
                                        **SMALL_HEAD)),
    "swav": (RhoSwAV, RhoSwAVConfig(rho=3, num_prototypes=10, freeze_prototypes_epochs=0, **SMALL_HEAD)),
    "byol": (RhoBYOL, RhoBYOLConfig(rho=2, pred_hidden=16, **SMALL_HEAD)),
}
SCORE_ROWS = (5, 7)  # Sinkhorn rows per process: unequal on purpose
pytestmark = pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")  # train_views outside a Trainer


def _method(name):
    method_class, config = CASES[name]
    torch.manual_seed(0)
    backbone = build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1))
    method = method_class(backbone, config, OptimConfig(lr=0.1))
    method.manual_backward = lambda loss: loss.backward()  # outside a Trainer
    method.eval()  # running BN statistics (see the module docstring)
    if isinstance(method, RhoMoCo):
        method.key_backbone.train()  # shuffling BN: batch statistics of the same two groups in both runs
    return method


def _global_views(name):
    torch.manual_seed(1)
    return torch.randn(GLOBAL_VIDEOS, CASES[name][1].rho, 3, 4, 32, 32)


def _step(method, views) -> dict:
    """Loss, parameter gradients and (ρMoCo) the queue after one training step on ``views``."""
    out = {"loss": method.train_views(views).detach()}
    out["grads"] = {name: p.grad.clone() for name, p in method.named_parameters() if p.grad is not None}
    if isinstance(method, RhoMoCo):
        method.after_step(views)
        out["queue"] = method.queue.clone()
        out["pointer"] = int(method.queue_pointer)
    return out


def _global_scores():
    torch.manual_seed(2)
    return 0.1 * torch.randn(sum(SCORE_ROWS), 6)


def _helper_results(rank) -> dict:
    """The collectives on uneven shares: rank 0 holds rows [0, 1], rank 1 rows [2, 3, 4]."""
    rows = torch.arange(5.0)[[slice(0, 2), slice(2, 5)][rank]].unsqueeze(1)
    gathered = distributed.concat_all_gather(rows)
    leaf = rows.clone().requires_grad_(True)
    weights = torch.arange(1.0, 6.0).unsqueeze(1)
    ((rank + 1) * weights * distributed.gather_with_grad(leaf)).sum().backward()
    shuffled, order = distributed.shuffle_across_ranks(rows, torch.Generator().manual_seed(rank))
    restored = distributed.unshuffle_across_ranks(10 * shuffled, order, rows.shape[0])
    scores = _global_scores().split(SCORE_ROWS)[rank]
    return {"gathered": gathered, "grad": leaf.grad, "offset": distributed.rank_offset(rows.shape[0]),
            "shuffled": shuffled, "order": order, "restored": restored, "rows": rows,
            "codes": sinkhorn_knopp(scores), "world": distributed.world_size(), "rank": distributed.rank()}


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        results = {"helpers": _helper_results(rank)}
        for name in CASES:
            out = _step(_method(name), _global_views(name).chunk(WORLD)[rank])
            for tensor in [out["loss"], *out["grads"].values()]:  # DDP's reduction: the mean over processes
                dist.all_reduce(tensor)
                tensor /= WORLD
            results[name] = out
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Both processes' results of one 2-process gloo run."""
    folder = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(str(folder / "init"), str(folder)), nprocs=WORLD, start_method="spawn")
    return [torch.load(folder / f"rank{rank}.pt", weights_only=False) for rank in range(WORLD)]


def test_helpers_are_identities_in_one_process():
    rows = torch.arange(6.0).view(3, 2)
    assert (distributed.world_size(), distributed.rank(), distributed.rank_offset(3)) == (1, 0, 0)
    assert distributed.gather_with_grad(rows) is rows
    assert torch.equal(distributed.concat_all_gather(rows), rows)
    shuffled, order = distributed.shuffle_across_ranks(rows, torch.Generator().manual_seed(0))
    assert torch.equal(shuffled, rows[order])
    assert torch.equal(distributed.unshuffle_across_ranks(shuffled, order, 3), rows)


def test_gathers_and_shuffles_across_uneven_ranks(ranks):
    zero, one = ranks[0]["helpers"], ranks[1]["helpers"]
    assert [(r["world"], r["rank"], r["offset"]) for r in (zero, one)] == [(2, 0, 0), (2, 1, 2)]
    for r in (zero, one):
        assert r["gathered"].flatten().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    # rank r's loss weighs global row j by (r + 1)·(j + 1): each row's gradient is summed over ranks, 3·(j + 1)
    assert zero["grad"].flatten().tolist() == [3.0, 6.0]
    assert one["grad"].flatten().tolist() == [9.0, 12.0, 15.0]
    assert torch.equal(zero["order"], one["order"])  # rank 0's permutation although the seeds differ
    assert [len(zero["shuffled"]), len(one["shuffled"])] == [3, 2]
    assert torch.equal(torch.cat([zero["shuffled"], one["shuffled"]]).flatten(), zero["order"].float())
    for r in (zero, one):
        assert torch.equal(r["restored"], 10 * r["rows"])


def test_sinkhorn_normalises_over_the_global_batch(ranks):
    codes = torch.cat([ranks[0]["helpers"]["codes"], ranks[1]["helpers"]["codes"]])
    assert torch.allclose(codes, sinkhorn_knopp(_global_scores()), atol=1e-6)
    local_only = torch.cat([sinkhorn_knopp(s) for s in _global_scores().split(SCORE_ROWS)])
    assert not torch.allclose(codes, local_only, atol=1e-3)  # the reduction matters for these scores


@pytest.mark.parametrize("name", list(CASES))
def test_two_processes_match_one_process_on_the_global_batch(ranks, name):
    single = _step(_method(name), _global_views(name))
    for rank in ranks:
        assert abs(rank[name]["loss"].item() - single["loss"].item()) < 1e-5
        assert rank[name]["grads"].keys() == single["grads"].keys()
        for key, grad in single["grads"].items():
            assert torch.allclose(rank[name]["grads"][key], grad, rtol=1e-4, atol=1e-6), key


@pytest.mark.parametrize("name", ["moco_rows", "moco_sum"])
def test_moco_queue_holds_the_global_batch_on_every_rank(ranks, name):
    single = _step(_method(name), _global_views(name))
    keys = GLOBAL_VIDEOS * CASES[name][1].rho
    for rank in ranks:
        assert rank[name]["pointer"] == keys
        assert torch.allclose(rank[name]["queue"], single["queue"], atol=1e-6)
    assert torch.equal(ranks[0][name]["queue"], ranks[1][name]["queue"])


def test_train_config_rejects_unknown_strategy_and_counts():
    with pytest.raises(ConfigError, match="train.strategy.*'dp'"):
        TrainConfig(strategy="dp")
    with pytest.raises(ConfigError, match="train.devices.*0"):
        TrainConfig(devices=0)


SMALL_RUN = ["train.epochs=1", "train.batch_size=4", "train.progress=false", "train.accelerator=cpu",
             "train.devices=2", "model.width=0.125", "model.depth=[1,1,1,1]", "method.proj_hidden=16",
             "data.clip_len=4", "data.stride=2", "data.crop_size=24", "data.short_side=[26,30]",
             "data.num_workers=0"]


def _run(manifest, out, *overrides):
    config = load_config(PretrainConfig, None, "pretrain", [f"data.manifest={manifest}", f"train.out_dir={out}",
                                                            *SMALL_RUN, *overrides])
    return run_pretrain(config)


@pytest.mark.slow
def test_pretrain_with_ddp_spawn_on_two_cpu_processes(micro_manifest, tmp_path):
    run = _run(micro_manifest, tmp_path / "run", "train.strategy=ddp_spawn", "method.name=rho_moco",
               "method.queue_size=48")
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 2  # 16 videos / (2 processes × 4 videos)
    assert int(checkpoint["state_dict"]["queue_pointer"]) == 2 * 8 * 2  # 2 steps × 8 global videos × ρ = 2
    assert (run / "encoder.pt").is_file()
    assert json.loads((run / "summary.json").read_text())["final_loss"] > 0


class SaveStatePerRank(L.Callback):
    def __init__(self, folder):
        self.folder = folder

    def on_train_end(self, trainer, pl_module):
        torch.save(pl_module.state_dict(), Path(self.folder) / f"rank{trainer.global_rank}.pt")


def _random_clips(count, rho):
    return [{"clips": torch.randn(count, rho, 3, 4, 24, 24, generator=torch.Generator().manual_seed(i)),
             "skipped": []} for i in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["moco_rows", "byol"])
def test_lightning_ddp_keeps_ranks_identical_with_sequential_backward(tmp_path, name):
    """ρMoCo and ρBYOL call backward once per clip position: DDP must still average every one of them, so
    after training on different data both processes hold the same weights (and queue); BN running statistics
    are per process."""
    method = _method(name)
    del method.manual_backward  # back to Lightning's, inside the Trainer
    method.train()  # Lightning keeps the modes it is given
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=WORLD, strategy="ddp_spawn", logger=False,
                        callbacks=[SaveStatePerRank(tmp_path)], enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    batches = _random_clips(GLOBAL_VIDEOS // WORLD, CASES[name][1].rho)  # the same list on both ranks...
    trainer.fit(method, DataLoader(batches, batch_size=None))  # ...but each rank draws a different batch
    zero, one = (torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD))
    differing = [key for key in zero if not torch.equal(zero[key], one[key])]
    assert differing and all("running_" in key for key in differing)


def test_sync_batchnorm_on_cpu_processes_is_refused(micro_manifest, tmp_path):
    with pytest.raises(ConfigError, match="train.sync_batchnorm"):
        _run(micro_manifest, tmp_path / "run", "train.strategy=ddp_spawn", "train.sync_batchnorm=true",
             "method.name=rho_byol")
