"""NTU RGB+D 60: labels and cross-subject / cross-view splits from the video file names; label set ``label``.

Layout: ROOT/nturgb+d_rgb/S001C002P003R002A013_rgb.avi (or the videos directly in ROOT, or ``videos=``): setup S,
camera C, performer (subject) P, replication R, action A. There is no annotation file: every video file below the
folder must be named so. Files of actions A061-A120 (NTU RGB+D 120) are left out and counted.
Splits (Shahroudy et al., "NTU RGB+D", CVPR 2016, benchmark evaluations): ``protocol=cross_subject`` trains on
the 20 subjects below and tests on the other 20 (40,320 / 16,560 videos, as in Thoker 2023 App. B);
``protocol=cross_view`` trains on cameras 2 and 3 and tests on camera 1. Class names are the official action
names, in action number order.
"""

from __future__ import annotations

import re
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import VIDEOS_OPTION, Imported, Option, VideoResolver
from vssl.data.manifest import Sample

VIDEO_FOLDERS = ("nturgb+d_rgb",)
OPTIONS = {
    "protocol": Option("cross_subject", "official evaluation protocol", ("cross_subject", "cross_view")),
    "videos": VIDEOS_OPTION,
}
FILE_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})(?:_rgb)?")
CROSS_SUBJECT_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
CROSS_VIEW_TRAIN = frozenset({2, 3})  # camera 1 is the test view
ACTIONS = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw", "sitting down",
    "standing up (from sitting position)", "clapping", "reading", "writing", "tear up paper", "wear jacket",
    "take off jacket", "wear a shoe", "take off a shoe", "wear on glasses", "take off glasses", "put on a hat/cap",
    "take off a hat/cap", "cheer up", "hand waving", "kicking something", "reach into pocket",
    "hopping (one foot jumping)", "jump up", "make a phone call/answer phone", "playing with phone/tablet",
    "typing on a keyboard", "pointing to something with finger", "taking a selfie", "check time (from watch)",
    "rub two hands together", "nod head/bow", "shake head", "wipe face", "salute", "put the palms together",
    "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling", "touch head (headache)",
    "touch chest (stomachache/heart pain)", "touch back (backache)", "touch neck (neckache)",
    "nausea or vomiting condition", "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person", "kicking other person", "pushing other person",
    "pat on back of other person", "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
)


def split_of(camera: int, subject: int, protocol: str) -> str:
    if protocol == "cross_subject":
        return "train" if subject in CROSS_SUBJECT_TRAIN else "test"
    return "train" if camera in CROSS_VIEW_TRAIN else "test"


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    samples, other_actions = [], 0
    for path in videos.folder.all_videos():
        match = FILE_NAME.fullmatch(path.stem)
        if match is None:
            raise VsslError(f"{path}: expected an NTU file name like S001C002P003R002A013_rgb.avi")
        camera, subject, action = int(match.group(2)), int(match.group(3)), int(match.group(5))
        if not 1 <= action <= len(ACTIONS):
            other_actions += 1
            continue
        samples.append(Sample(str(path), split_of(camera, subject, options["protocol"]),
                              {"label": ACTIONS[action - 1]}))
    if other_actions:
        print(f"left out {other_actions} video(s) of actions beyond A060 (not in NTU RGB+D 60)")
    return Imported(samples, {"label": list(ACTIONS)}, train_split="train", test_split="test")
