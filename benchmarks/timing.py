"""Interleaved timing for the benchmark scripts: settings run A B A B ..., each round after one untimed warm-up, and
are reported as median [min–max], so that a machine shared with other work biases every setting alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_seconds(settings: dict[str, Callable[[], object]], rounds: int = 3,
                        warmup: bool = True) -> dict[str, list[float]]:
    """Wall times of each setting's call, ``rounds`` times in turn (A B C A B C ...), after one untimed call each."""
    if rounds < 3:
        raise ValueError(f"rounds must be at least 3 to report a spread, got {rounds}")
    if warmup:
        for run in settings.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(rounds):
        for name, run in settings.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def spread(values: list[float], digits: int = 2) -> str:
    """``median [min–max]`` of ``values``."""
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def ratio_spread(numerator: list[float], denominator: list[float], digits: int = 2) -> str:
    """Median [min–max] of the per-round ratios numerator / denominator (rounds paired in the order they ran)."""
    return spread([n / d for n, d in zip(numerator, denominator, strict=True)], digits)
