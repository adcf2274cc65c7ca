"""`vssl demo`: world32 synthetic benchmark → supervised ceiling, VCOP and random init → kNN and linear probe table."""

from __future__ import annotations

from pathlib import Path

from vssl.app.study import load_study, run_study
from vssl.data.synthetic import SynthConfig


def run_demo(out: str | Path = "demo_out", epochs: int | None = None, seeds: int = 1, progress: bool = True,
             synthetic: str | SynthConfig | None = None, pretrain_overrides: list[str] = (),
             eval_overrides: list[str] = (), overrides: list[str] = ()) -> str:
    """Run the ``demo`` study (configs/study/demo.yaml); returns the printed table, which has a column of each
    self-supervised method minus random init. Outputs go under ``out``.

    ``overrides`` are the study's ``key=value`` settings (as for ``vssl study demo``); ``synthetic`` and the
    override lists exist so tests can run the same path at a smaller size.
    """
    config = load_study("demo", [f"seeds={seeds}", *overrides])
    config.pretrain_overrides = (*config.pretrain_overrides, *pretrain_overrides,
                                 *([] if epochs is None else [f"train.epochs={epochs}"]))
    config.eval_overrides = (*config.eval_overrides, *eval_overrides)
    return run_study(config, out, progress=progress, synthetic=synthetic, versus="random")
