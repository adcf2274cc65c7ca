"""The CPU bf16 guard: where this CPU's oneDNN gives wrong conv3d weight gradients, bf16 blocks run with oneDNN off
(then the gradient agrees with fp32) and the setting comes back afterwards; where it is sound nothing changes."""

import torch

from vssl.core import cpu_bf16


def test_wrong_gradients_turn_onednn_off_inside_the_block_only(monkeypatch, capsys):
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", True)
    cpu_bf16.onednn_bf16_is_wrong.cache_clear()
    probe = cpu_bf16.conv3d_weight_grad_error
    monkeypatch.setattr(cpu_bf16, "conv3d_weight_grad_error", lambda: 1.2)
    with cpu_bf16.sound_cpu_bf16():
        assert torch.backends.mkldnn.enabled is False
        assert probe() < cpu_bf16.TOLERANCE  # the real probe with oneDNN off: PyTorch's kernels, bf16 rounding only
    assert torch.backends.mkldnn.enabled is True
    assert "bf16 runs turn oneDNN off" in capsys.readouterr().err
    cpu_bf16.onednn_bf16_is_wrong.cache_clear()


def test_sound_gradients_leave_onednn_on(monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", True)
    cpu_bf16.onednn_bf16_is_wrong.cache_clear()
    monkeypatch.setattr(cpu_bf16, "conv3d_weight_grad_error", lambda: 0.004)
    with cpu_bf16.sound_cpu_bf16():
        assert torch.backends.mkldnn.enabled is True
    cpu_bf16.onednn_bf16_is_wrong.cache_clear()
