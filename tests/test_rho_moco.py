"""ρMoCo: sequential per-query backward equals the gradient of the summed loss; queue and momentum updates."""

import torch
import torch.nn.functional as F

from vssl.core.optim import OptimConfig
from vssl.methods.losses import info_nce
from vssl.methods.rho_moco import RhoMoCo, RhoMoCoConfig
from vssl.models.registry import build_backbone


def _method(rho=3, queue_size=16, multi_positive="rows"):
    torch.manual_seed(0)
    backbone = build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1))
    config = RhoMoCoConfig(rho=rho, queue_size=queue_size, proj_hidden=32, proj_dim=8,
                           multi_positive=multi_positive)
    method = RhoMoCo(backbone, config, OptimConfig(lr=0.1))
    method.manual_backward = lambda loss: loss.backward()  # outside a Trainer
    return method


def test_sequential_backward_equals_joint_loss_gradient():
    method = _method(rho=3)
    method.eval()  # fixed BN statistics so the joint and sequential forwards see the same function
    views = torch.randn(2, 3, 3, 4, 32, 32)
    loss = method.train_views(views)
    sequential = [p.grad.clone() for p in method.backbone.parameters()]
    method.zero_grad()
    # joint: keys from the key encoder as train_views left it (its momentum update already applied)
    with torch.no_grad():
        keys = F.normalize(method.key_head(method.key_backbone(views.flatten(0, 1))), dim=1).view(2, 3, -1)
    total = 0
    for i in range(3):
        q = F.normalize(method.head(method.backbone(views[:, i])), dim=1)
        others = [j for j in range(3) if j != i]
        total = total + info_nce(q, keys[:, others], method.queue, 0.1, "rows") / 3
    total.backward()
    assert abs(total.item() - loss.item()) < 1e-5
    for a, p in zip(sequential, method.backbone.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-6)


def test_queue_receives_every_key_and_wraps():
    method = _method(rho=2, queue_size=6)
    views = torch.randn(2, 2, 3, 4, 32, 32)
    method.train_views(views)
    keys = method._pending_keys.clone()
    method.after_step(views)
    assert torch.allclose(method.queue[:4], keys)
    assert int(method.queue_pointer) == 4
    method.train_views(views)
    keys2 = method._pending_keys.clone()
    method.after_step(views)
    assert torch.allclose(method.queue[4:6], keys2[:2]) and torch.allclose(method.queue[:2], keys2[2:])
    assert int(method.queue_pointer) == 2


def test_momentum_update_moves_key_encoder_toward_online():
    method = _method()
    online = next(method.backbone.parameters())
    target = next(method.key_backbone.parameters())
    with torch.no_grad():
        online.add_(1.0)
    before = target.clone()
    method.momentum_update(method.backbone, method.key_backbone, 0.9)
    assert torch.allclose(target, 0.9 * before + 0.1 * online)
    assert not target.requires_grad


def test_shuffled_keys_keep_clip_order_and_use_separate_batch_statistics():
    method = _method(rho=2)
    clips = torch.randn(8, 3, 4, 32, 32)
    method.eval()  # running statistics: grouping must not change anything, so the un-shuffling is checked
    direct = F.normalize(method.key_head(method.key_backbone(clips)), dim=1)
    assert torch.allclose(method.shuffled_keys(clips), direct, atol=1e-6)
    method.train()  # batch statistics per group of 2 clips: differs from one batch of 8
    torch.manual_seed(1)
    grouped = method.shuffled_keys(clips)
    with torch.no_grad():
        one_batch = F.normalize(method.key_head(method.key_backbone(clips)), dim=1)
    assert not torch.allclose(grouped, one_batch, atol=1e-3)


def test_the_queue_overwrites_its_oldest_keys_and_wraps_by_hand():
    from vssl.methods.queue import push_to_queue

    queue, pointer = torch.zeros(5, 1), torch.tensor(3)
    push_to_queue(queue, pointer, torch.tensor([[1.0], [2.0], [3.0]]))  # slots 3, 4, then 0
    assert queue.flatten().tolist() == [3.0, 0.0, 0.0, 1.0, 2.0] and int(pointer) == 1
    push_to_queue(queue, pointer, torch.arange(10.0, 17.0).view(7, 1))  # 7 keys, 5 slots: the last 5 from slot 1
    assert queue.flatten().tolist() == [16.0, 12.0, 13.0, 14.0, 15.0] and int(pointer) == 1
