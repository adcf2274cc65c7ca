"""The benchmark scripts' interleaved timing runs settings in turn and reports median [min–max]."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from timing import interleaved_seconds, ratio_spread, spread  # noqa: E402


def test_settings_run_in_turn_after_one_warm_up_each():
    calls = []
    times = interleaved_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3)
    assert calls == ["a", "b"] + ["a", "b"] * 3 and [len(v) for v in times.values()] == [3, 3]
    with pytest.raises(ValueError, match="at least 3"):
        interleaved_seconds({"a": lambda: None}, rounds=2)


def test_median_and_range_of_values_and_of_paired_ratios():
    assert spread([3.0, 1.0, 2.0]) == "2.00 [1.00–3.00]"
    assert ratio_spread([2.0, 6.0, 4.0], [1.0, 2.0, 4.0], digits=1) == "2.0 [1.0–3.0]"


def test_a_loader_turn_skips_the_batches_prefetched_meanwhile_and_rates_only_its_timed_steps():
    import torch

    from clip_store import Turn

    inputs, seen = iter(torch.full((2, 1), float(i)) for i in range(100)), []
    turn = Turn(lambda x: seen.append(int(x[0, 0])), inputs, steps=3, prefetched=2, device=torch.device("cpu"))
    turn.warm_up(1)
    interleaved_seconds({"turn": turn}, rounds=3, warmup=False)
    assert seen == [0, 3, 4, 5, 8, 9, 10, 13, 14, 15] and len(turn.rates) == 3 and all(r > 0 for r in turn.rates)
