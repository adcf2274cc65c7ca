"""Published SEVERE numbers as data, the SEVERE mean by hand and the documented rank rule."""

import pytest

from vssl.core.errors import ConfigError
from vssl.results.references import list_references, load_reference, mean_rank, severe_mean


def test_table_4_4_is_shipped_with_its_numbers():
    assert "severe_table_4_4" in list_references()
    table = load_reference("severe_table_4_4")
    assert len(table) == 11 and table["GDT"]["UCF(10^3)"] == 78.4 and table["None"]["UCF-RC"] == 0.217
    assert table["Supervised"]["Charades"] == 23.5
    with pytest.raises(ConfigError, match="unknown reference table 'nope'"):
        load_reference("nope")


def test_severe_mean_by_hand():
    """None: 57.1 + 89.8 + 38.3 + 22.7 + 46.6 + 82.3 + (1 − 0.217)·100 + 7.9 = 423.0 over 8 = 52.875."""
    assert severe_mean(load_reference("severe_table_4_4")["None"]) == pytest.approx(52.875)
    with pytest.raises(ConfigError, match="missing"):
        severe_mean({"SS-v2": 1.0})


def test_mean_rank_by_hand():
    """Two columns: a beats b on 'Gym-99' (rank 1, 2) and ties on 'SS-v2' (both 1); on UCF-RC lower wins."""
    table = {"a": {"Gym-99": 90.0, "SS-v2": 50.0, "UCF-RC": 0.2}, "b": {"Gym-99": 80.0, "SS-v2": 50.0, "UCF-RC": 0.1}}
    assert mean_rank(table, ("Gym-99", "SS-v2", "UCF-RC")) == {"a": (1 + 1 + 2) / 3, "b": (2 + 1 + 1) / 3}
