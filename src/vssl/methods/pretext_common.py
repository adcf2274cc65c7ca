"""What the pretext-task methods (pace, VCOP, RotNet3D, PRP) share: the task-complexity levels of Kumar et al. 2023 §4.3, the
one-clip-per-view loader hooks, and pretext accuracy logging."""

from __future__ import annotations

import dataclasses

import torch

from vssl.core.errors import ConfigError
from vssl.methods.base import Method

COMPLEXITY_LEVELS = ("C1", "C2", "C3")


def apply_complexity(config, knob: str, levels: dict[str, tuple]) -> None:
    """Set ``config.<knob>`` from ``config.complexity`` (C1/C2/C3, Kumar et al. 2023 §4.3); None leaves the knob as it is.

    The knob may keep its default or already equal the level's value; any other value contradicts the level.
    """
    if config.complexity is None:
        return
    if config.complexity not in levels:
        raise ConfigError(f"method.complexity: expected one of {', '.join(COMPLEXITY_LEVELS)} or null, "
                          f"got {config.complexity!r}")
    value = levels[config.complexity]
    default = next(field.default for field in dataclasses.fields(config) if field.name == knob)
    current = getattr(config, knob)
    if current != default and current != value:
        raise ConfigError(f"method.{knob}={current!r} contradicts method.complexity={config.complexity} "
                          f"({knob}={value!r}); set only one of them")
    setattr(config, knob, value)


def reject_fps_jitter(method_name: str, data) -> None:
    """The pretext samplers fix the frame rate themselves (it is, or shapes, their label)."""
    if data.fps_jitter:
        raise ConfigError(f"data.fps_jitter={data.fps_jitter!r} is not supported by {method_name}: its sampler "
                          f"sets the frame rate; use 0")


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose arg-max class is the label."""
    return (logits.argmax(dim=1) == labels).float().mean()


class PretextMethod(Method):
    """A method that classifies (or regresses) a label made from each clip; one augmented view per clip."""

    @classmethod
    def views_per_clip(cls, config) -> int:
        return 1

    def log_pretext(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        """Log the pretext-task accuracy and loss per step and per epoch."""
        self.log_pretext_accuracy(accuracy(logits.detach(), labels), loss, labels.shape[0])

    def log_pretext_accuracy(self, value: torch.Tensor, loss: torch.Tensor, batch_size: int) -> None:
        """Log an already computed pretext accuracy and the loss per step and per epoch."""
        self.log("train/pretext_acc", value, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch_size)
        self.log("train/pretext_loss", loss.detach(), on_step=True, on_epoch=True, batch_size=batch_size)
