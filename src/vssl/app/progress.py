"""What a long command tells its user while it runs: Lightning's progress bar on stderr, and a study's run count + ETA."""

from __future__ import annotations

import contextlib
import functools
import sys
import time

from lightning.pytorch.callbacks import TQDMProgressBar


def _on_stderr(init):
    """Build a Lightning bar with ``sys.stdout`` pointing at stderr (Lightning passes ``file=sys.stdout``)."""

    @functools.wraps(init)
    def build(self):
        with contextlib.redirect_stdout(sys.stderr):
            return init(self)

    return build


class StderrProgressBar(TQDMProgressBar):
    """Lightning's progress bar, drawn on stderr so that redirected stdout holds only results, and redrawn about ten
    times per training epoch (the trainer knows the epoch's batches once training starts)."""

    init_sanity_tqdm = _on_stderr(TQDMProgressBar.init_sanity_tqdm)
    init_train_tqdm = _on_stderr(TQDMProgressBar.init_train_tqdm)
    init_validation_tqdm = _on_stderr(TQDMProgressBar.init_validation_tqdm)
    init_predict_tqdm = _on_stderr(TQDMProgressBar.init_predict_tqdm)
    init_test_tqdm = _on_stderr(TQDMProgressBar.init_test_tqdm)

    def on_train_start(self, trainer, pl_module):
        self._refresh_rate = max(1, int(trainer.num_training_batches) // 10)
        super().on_train_start(trainer, pl_module)


def format_duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``2 h 05 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class RunClock:
    """Numbers the runs of a study (``run k/N: <name> seed S``) and estimates the time left from the mean duration
    of the runs that trained in this process (runs found finished take no time and are left out)."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.clock = total, clock
        self.count = 0
        self.durations: list[float] = []
        self.started: float | None = None

    def eta(self) -> str:
        if not self.durations:
            return "ETA after the first run"
        left = (self.total - self.count + 1) * sum(self.durations) / len(self.durations)
        return f"ETA {format_duration(left)} for {self.total - self.count + 1} run(s)"

    def start(self, name: str, seed: int, finished: bool = False) -> str:
        """Print (and return) the line announcing the next run; ``finished``: it was trained before."""
        self.count += 1
        line = f"run {self.count}/{self.total}: {name} seed {seed} " + ("(trained before)" if finished else
                                                                       f"({self.eta()})")
        self.started = None if finished else self.clock()
        print(line, flush=True)
        return line

    def stop(self) -> None:
        """The announced run is done: record its duration unless it was found finished."""
        if self.started is not None:
            self.durations.append(self.clock() - self.started)
            self.started = None
