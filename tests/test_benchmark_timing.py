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
