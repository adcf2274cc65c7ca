"""Compute threads follow the cores a process may use (its affinity), not the machine's core count."""

import os
import subprocess
import sys

import pytest

PROBE = ("import os, torch; os.sched_setaffinity(0, {0}); from vssl.core.runtime import share_cpu_with_workers; "
         "share_cpu_with_workers({1}); print(torch.get_num_threads())")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_a_process_pinned_to_one_core_computes_with_one_thread():
    cores = sorted(os.sched_getaffinity(0))
    for allowed, workers, expected in (({cores[0]}, 0, 1), (set(cores), 0, len(cores)),
                                       (set(cores), 1, max(1, len(cores) - 1))):
        done = subprocess.run([sys.executable, "-c", PROBE.format(allowed, workers)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-1000:]
        assert int(done.stdout.split()[-1]) == expected
