"""The CPU bf16 guard: a wrong conv3d weight gradient turns oneDNN off (with a warning), after which the same
gradient agrees with fp32; a sound one leaves oneDNN on."""

import torch

from vssl.core import cpu_bf16


def test_wrong_gradients_turn_onednn_off_and_the_gradient_is_then_right(monkeypatch, capsys):
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", torch.backends.mkldnn.enabled)  # restored afterwards
    cpu_bf16.ensure_sound_cpu_bf16.cache_clear()
    monkeypatch.setattr(cpu_bf16, "conv3d_weight_grad_error", lambda: 1.2)
    assert cpu_bf16.ensure_sound_cpu_bf16() is False
    assert torch.backends.mkldnn.enabled is False
    assert "oneDNN is off" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    assert cpu_bf16.conv3d_weight_grad_error() < cpu_bf16.TOLERANCE  # PyTorch's own kernels: bf16 rounding only
    cpu_bf16.ensure_sound_cpu_bf16.cache_clear()


def test_sound_gradients_leave_onednn_on(monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", True)
    cpu_bf16.ensure_sound_cpu_bf16.cache_clear()
    monkeypatch.setattr(cpu_bf16, "conv3d_weight_grad_error", lambda: 0.004)
    assert cpu_bf16.ensure_sound_cpu_bf16() is True and torch.backends.mkldnn.enabled is True
    cpu_bf16.ensure_sound_cpu_bf16.cache_clear()
