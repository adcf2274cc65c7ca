"""Two processes computing the same statistics label cache at once (two runs of a study on one dataset): one waits
for the other, and both then read a complete cache. Saved after every video, as a long computation does every 30 s,
partial files would otherwise replace the complete one."""

import fcntl
import subprocess
import sys

from vssl.methods.label_cache import default_labels_path, resolve_position_step

DRIVER = """
import sys
from vssl.methods import label_cache
from vssl.data.manifest import read_manifest
label_cache.SAVE_EVERY_S = 0.0  # save partial progress after every video
path = label_cache.compute_statistics_labels(sys.argv[1], "pretrain", clip_len=4, stride=2, progress=False)
settings, videos = label_cache._load(path)
wanted = {s.path for s in read_manifest(sys.argv[1], split="pretrain")}
missing = sorted(wanted - set(videos))
print("missing", len(missing))
sys.exit(1 if missing else 0)
"""


def test_concurrent_label_computations_leave_a_complete_cache(micro_manifest, tmp_path):
    """The test holds the cache's lock while both start, so both must wait; released, they compute in turn."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(micro_manifest.read_text().replace("videos/", f"{micro_manifest.parent}/videos/"))
    cache = default_labels_path(manifest, "pretrain", 4, 2, resolve_position_step(4, 2, None))
    with open(cache.with_name(cache.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs = [subprocess.Popen([sys.executable, "-c", DRIVER, str(manifest)], stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
        waited = [run.stdout.readline() for run in runs]  # each says it waits before the lock is released
        assert all("waiting for another process" in line for line in waited)
        assert not cache.exists()
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("missing 0" in out for out in outputs)


def test_a_cache_serves_the_same_videos_reached_through_a_linked_folder(micro_manifest, tmp_path):
    """Labels computed through the real folder are found through a symlink to it (a study's data linked into
    another study), without computing them again."""
    from vssl.data.manifest import read_manifest
    from vssl.methods.label_cache import LabelTable, compute_statistics_labels

    linked = tmp_path / "linked"
    linked.symlink_to(micro_manifest.parent, target_is_directory=True)
    first = compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, progress=False,
                                      out=tmp_path / "labels.npz")
    stamp = first.stat().st_mtime_ns
    again = compute_statistics_labels(linked / micro_manifest.name, "pretrain", clip_len=4, stride=2, progress=False,
                                      out=tmp_path / "labels.npz")
    assert again.stat().st_mtime_ns == stamp  # nothing recomputed, nothing rewritten
    table = LabelTable.load(again, "cmd")
    sample = read_manifest(linked / micro_manifest.name, split="pretrain")[0]
    assert str(linked) in sample.path
    motion, appearance = table.targets([sample.path], [0], [False])
    assert motion.shape == (1, 14) and appearance.shape == (1, 13)
