"""Wall time of `vssl eval`'s phases and its feature cache hits, printed as one ``time:`` line."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

PHASES = ("setup", "features", "protocols", "total")
LINE = re.compile(r"^time: setup (?P<setup>[\d.]+) s, features (?P<features>[\d.]+) s \(cache: (?P<hits>\d+) hits?, "
                  r"(?P<misses>\d+) miss(?:es)?\), protocols (?P<protocols>[\d.]+) s, total (?P<total>[\d.]+) s$")


class EvalTiming:
    """Seconds per phase of one `run_eval` call: ``setup`` (encoder, manifest, index), ``features`` (extracted or
    read from the feature cache), ``protocols`` (kNN, linear, ..., fine-tuning) and ``total`` (the whole call,
    storing the results included); ``hits``/``misses``: feature cache entries (one per split and tap) found or not."""

    def __init__(self):
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.hits = self.misses = 0

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def line(self) -> str:
        """``time: setup 0.412 s, features 8.106 s (cache: 0 hits, 4 misses), protocols 1.203 s, total 9.904 s``."""
        s = self.seconds
        hits = f"{self.hits} hit{'' if self.hits == 1 else 's'}"
        misses = f"{self.misses} miss{'' if self.misses == 1 else 'es'}"
        return (f"time: setup {s['setup']:.3f} s, features {s['features']:.3f} s (cache: {hits}, {misses}), "
                f"protocols {s['protocols']:.3f} s, total {s['total']:.3f} s")


def parse_line(text: str) -> dict[str, float]:
    """The phases' seconds and the cache's hits and misses of the last ``time:`` line in ``text``."""
    matches = [m for m in map(LINE.match, text.splitlines()) if m]
    if not matches:
        raise ValueError("no 'time:' line of vssl eval in the text")
    return {k: float(v) for k, v in matches[-1].groupdict().items()}
