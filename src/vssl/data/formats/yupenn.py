"""YUPENN dynamic scenes: one folder of videos per scene class (14 × 30); label set ``label``, split ``all``.

Layout: ROOT/<class>/<video>.<suffix> (or ``videos=FOLDER`` holding the class folders). The dataset has no
train/test split: it is evaluated leave-one-video-out (Wang 2020, Sec. 2.6), so every video gets split ``all``.
Class order is the class folder names sorted.
"""

from __future__ import annotations

from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import VIDEOS_OPTION, Imported, VideoResolver
from vssl.data.manifest import Sample

VIDEO_FOLDERS = ()
OPTIONS = {"videos": VIDEOS_OPTION}


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    samples = []
    for path in videos.folder.all_videos():
        relative = path.relative_to(videos.root)
        if len(relative.parts) < 2:
            raise VsslError(f"{path}: a YUPENN video must lie in its class folder ({videos.root}/<class>/)")
        samples.append(Sample(str(path), "all", {"label": relative.parts[0]}))
    classes = sorted({s.labels["label"] for s in samples})
    return Imported(samples, {"label": classes}, train_split=None, test_split=None)
