"""Frame-accurate random access to video files and folders of frame images, decoded with PyAV.

How ``VideoReader`` finds frame ``i``:
  * At open, the video stream's packets are demuxed once (no decoding). Each packet's timestamp
    (pts, else dts) and keyframe flag are recorded; frame ``i`` is the packet with the ``i``-th
    smallest timestamp, and ``num_frames`` is the number of such packets (container metadata is
    often missing or wrong). A file cut mid-GOP (stream copy) starts at its first keyframe: the
    packets before it cannot be decoded (H.264 and VP9 decoders drop or reject them; MPEG-4
    part 2 outputs grey guesses, which are skipped). The index is cached per file (path, size,
    mtime), so reopening a video, as a loader does for every sample, demuxes it once per process.
  * ``read`` sorts the wanted frames and splits them into groups: a new group starts when the next
    wanted frame has a keyframe after the previous wanted frame, so far-apart clips each get their
    own seek instead of decoding everything in between. For each group it seeks to the keyframe at
    or before the group's first frame and decodes forward until the group's last frame.
  * A decoded frame is placed by its pts. A frame whose pts is missing or matches no packet is
    taken to be the frame after the previously decoded one (the first frame after a seek counts
    as the keyframe sought).
  * Streams where some packet has neither pts nor dts, or where timestamps repeat, cannot be
    seeked reliably; they are decoded from the start of the file for every group, placing frames
    by counting.
  * If a group's frames do not all come out (a seek that landed after the first wanted frame, or
    a decoder that dropped frames after the seek), the group is decoded once more from the start
    of the file; frames still missing then raise ``VideoReadError``.
  * Damage: a file that cannot be opened, or whose demuxer marks a packet incomplete (an mp4 or
    avi cut short), raises ``VideoReadError`` at open; decoder errors raise it at read. A cut-short
    mkv/webm, whose demuxer silently drops the cut block, reads as the frames before the cut,
    exactly as a sequential decode gives them.
"""

from __future__ import annotations

import bisect
import functools
import operator
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vssl.core.errors import VideoReadError

DEFAULT_FRAME_DIR_FPS = 30.0
FRAME_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FRAME_INDEX_CACHE_SIZE = 256  # files per process; an index costs 8 bytes per frame
FROM_START = None  # keyframe position meaning "reopen the file and decode from its first packet"


@dataclass(frozen=True)
class VideoInfo:
    """Frame count, frame rate and frame size of a video or frame folder."""

    num_frames: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps


class _FrameSource:
    """Properties and context-manager support shared by both readers; subclasses set these fields.

    ``frames_decoded_last_read`` counts the frames (or images) the last ``read`` decoded.
    """

    path: Path
    info: VideoInfo
    frames_decoded_last_read: int

    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    @property
    def duration(self) -> float:
        return self.info.duration

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the returned frames."""
        return self.info.height, self.info.width

    def close(self) -> None:
        """Release open files; the base class holds none."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _checked_indices(self, indices: Sequence[int]) -> list[int]:
        """Indices as ints; IndexError naming the file for any outside [0, num_frames)."""
        checked = [operator.index(index) for index in indices]
        for index in checked:
            if not 0 <= index < self.num_frames:
                raise IndexError(
                    f"frame index {index} out of range for '{self.path}' ({self.num_frames} frames)"
                )
        return checked

    def _empty_batch(self) -> np.ndarray:
        return np.empty((0, self.info.height, self.info.width, 3), dtype=np.uint8)


def _reason(error: Exception) -> str:
    """The short cause of an av/OS error, without the file name that our message already gives."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


@dataclass(frozen=True)
class _FrameIndex:
    """Where each frame of a video stream sits, from one demux pass over its packets."""

    num_frames: int
    timestamps: np.ndarray  # int64 timestamp of each display position; empty when placed by counting
    keyframes: tuple[int, ...]  # display positions of keyframes, ascending

    def position_of(self, timestamp: int | None) -> int | None:
        """The display position whose packet has ``timestamp``; None if there is none."""
        if timestamp is None:
            return None
        position = int(np.searchsorted(self.timestamps, timestamp))
        found = position < len(self.timestamps) and self.timestamps[position] == timestamp
        return position if found else None

    def displays_before_first_frame(self, timestamp: int | None) -> bool:
        """Whether a decoded frame precedes the index (a leftover from before the first keyframe)."""
        return timestamp is not None and len(self.timestamps) > 0 and timestamp < self.timestamps[0]

    def keyframe_at_or_before(self, position: int) -> int | None:
        """The keyframe to start decoding from for ``position``; FROM_START if there is none."""
        slot = bisect.bisect_right(self.keyframes, position) - 1
        return self.keyframes[slot] if slot >= 0 else FROM_START


def _packet_timestamp(packet: av.Packet) -> int | None:
    return packet.pts if packet.pts is not None else packet.dts


def _index_timestamps(timestamps: list[int | None], keyframe_flags: list[bool]) -> _FrameIndex:
    """Order packets by timestamp into display positions; fall back to counting if untimed.

    Packets before the first keyframe (in decode order, or displayed before it) cannot be decoded
    in a file that starts mid-GOP, and decoders drop them, so they are not frames of the video.
    """
    if True not in keyframe_flags:
        return _FrameIndex(len(timestamps), np.empty(0, dtype=np.int64), ())
    first_key = keyframe_flags.index(True)
    timestamps, keyframe_flags = timestamps[first_key:], keyframe_flags[first_key:]
    if None not in timestamps:
        kept = [ts >= timestamps[0] for ts in timestamps]
        timestamps = [ts for ts, keep in zip(timestamps, kept) if keep]
        keyframe_flags = [is_key for is_key, keep in zip(keyframe_flags, kept) if keep]
    if None in timestamps or len(set(timestamps)) != len(timestamps):
        return _FrameIndex(len(timestamps), np.empty(0, dtype=np.int64), ())
    in_display_order = np.sort(np.array(timestamps, dtype=np.int64))
    keyframe_timestamps = sorted(ts for ts, is_key in zip(timestamps, keyframe_flags) if is_key)
    keyframes = np.searchsorted(in_display_order, keyframe_timestamps)
    return _FrameIndex(len(timestamps), in_display_order, tuple(int(position) for position in keyframes))


@functools.lru_cache(maxsize=FRAME_INDEX_CACHE_SIZE)
def _cached_frame_index(path: str, size: int, mtime_ns: int) -> _FrameIndex:
    """Demux the first video stream of ``path`` once; size and mtime key the cache to its content."""
    timestamps: list[int | None] = []
    keyframe_flags: list[bool] = []
    try:
        with av.open(path) as container:
            for packet in container.demux(container.streams.video[0]):
                if not packet.size or packet.is_discard:  # end-of-stream marker / not displayed
                    continue
                if packet.is_corrupt:
                    raise VideoReadError(
                        f"video '{path}' is truncated or damaged: the packet at timestamp "
                        f"{_packet_timestamp(packet)} is incomplete"
                    )
                timestamps.append(_packet_timestamp(packet))
                keyframe_flags.append(packet.is_keyframe)
    except (av.FFmpegError, OSError) as error:
        raise VideoReadError(f"cannot read packets of video '{path}': {_reason(error)}") from error
    if not timestamps:
        raise VideoReadError(f"video '{path}' contains no video frames")
    return _index_timestamps(timestamps, keyframe_flags)


def _frame_index(path: Path) -> _FrameIndex:
    stat = path.stat()
    return _cached_frame_index(str(path.absolute()), stat.st_size, stat.st_mtime_ns)


def _stream_fps(stream: av.video.stream.VideoStream, num_frames: int) -> float | None:
    """average_rate, else guessed_rate, else frames per second of the stream's duration."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            return float(rate)
    if stream.duration and stream.time_base:
        return num_frames / float(stream.duration * Fraction(stream.time_base))
    return None


class VideoReader(_FrameSource):
    """Frame-accurate reader for one video file (see the module docstring for how it seeks)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.frames_decoded_last_read = 0
        self._reformatter = VideoReformatter()  # shared: setting one up per frame costs ~1 ms
        self._container = self._open_container()
        try:
            self._stream = self._first_video_stream()
            self._index = _frame_index(self.path)
            self.info = self._probe_info()
        except BaseException:
            self._container.close()
            raise

    def _open_container(self) -> av.container.InputContainer:
        try:
            return av.open(str(self.path))
        except (av.FFmpegError, OSError) as error:
            raise VideoReadError(f"cannot open video '{self.path}': {_reason(error)}") from error

    def _first_video_stream(self) -> av.video.stream.VideoStream:
        if not self._container.streams.video:
            raise VideoReadError(f"'{self.path}' has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        return stream

    def _probe_info(self) -> VideoInfo:
        fps = _stream_fps(self._stream, self._index.num_frames)
        if not fps:
            raise VideoReadError(f"cannot determine the frame rate of '{self.path}'")
        width, height = self._stream.codec_context.width, self._stream.codec_context.height
        if not width or not height:
            raise VideoReadError(f"cannot determine the frame size of '{self.path}'")
        return VideoInfo(num_frames=self._index.num_frames, fps=fps, width=width, height=height)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 RGB [len(indices), H, W, 3]."""
        wanted = self._checked_indices(indices)
        self.frames_decoded_last_read = 0
        decoded: dict[int, np.ndarray] = {}
        for group in self._seek_groups(sorted(set(wanted))):
            decoded.update(self._decode_group(group))
        if not wanted:
            return self._empty_batch()
        return np.stack([decoded[index] for index in wanted])

    def _seek_groups(self, positions: list[int]) -> list[list[int]]:
        """Split sorted positions where reaching the next one is cheaper by seeking than decoding."""
        groups: list[list[int]] = []
        for position in positions:
            if groups and self._decoding_through(groups[-1][-1], position):
                groups[-1].append(position)
            else:
                groups.append([position])
        return groups

    def _decoding_through(self, previous: int, position: int) -> bool:
        """Whether decoding on from ``previous`` reaches ``position`` without passing a keyframe."""
        keyframe = self._index.keyframe_at_or_before(position)
        return keyframe is FROM_START or keyframe <= previous

    def _decode_group(self, group: list[int]) -> dict[int, np.ndarray]:
        keyframe = self._index.keyframe_at_or_before(group[0])
        decoded = self._decode_from(keyframe, group)
        if len(decoded) < len(group) and keyframe is not FROM_START:
            decoded = self._decode_from(FROM_START, group)
        missing = [position for position in group if position not in decoded]
        if missing:
            raise VideoReadError(
                f"frame {missing[0]} of '{self.path}' could not be decoded (damaged or truncated file?)"
            )
        return decoded

    def _decode_from(self, keyframe: int | None, group: list[int]) -> dict[int, np.ndarray]:
        """Decode from ``keyframe`` until the last position of ``group``; return the group's frames."""
        wanted, last = set(group), group[-1]
        decoded: dict[int, np.ndarray] = {}
        previous = (0 if keyframe is FROM_START else keyframe) - 1
        try:
            for frame in self._frames_after_rewind(keyframe):
                self.frames_decoded_last_read += 1
                if self._index.displays_before_first_frame(frame.pts):
                    continue
                position = self._index.position_of(frame.pts)
                position = previous + 1 if position is None else position
                previous = position
                if position in wanted:
                    decoded[position] = self._to_rgb(frame)
                if position >= last:
                    break
        except av.FFmpegError as error:
            raise VideoReadError(f"cannot decode video '{self.path}': {_reason(error)}") from error
        return decoded

    def _frames_after_rewind(self, keyframe: int | None) -> Iterator[av.VideoFrame]:
        """Decoded frames in display order, starting at ``keyframe`` (or the file's start)."""
        if keyframe is FROM_START:
            self._reopen()
        else:
            self._container.seek(int(self._index.timestamps[keyframe]), stream=self._stream, backward=True)
        for packet in self._container.demux(self._stream):
            yield from packet.decode()

    def _reopen(self) -> None:
        self._container.close()
        self._container = self._open_container()
        self._stream = self._first_video_stream()

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB array at the stream's nominal size (streams may change resolution mid-way)."""
        width, height = self.info.width, self.info.height
        return self._reformatter.reformat(frame, width, height, format="rgb24").to_ndarray()

    def close(self) -> None:
        self._container.close()


def _natural_sort_key(path: Path) -> tuple:
    """Sort key that orders '2.png' before '10.png': digit runs compare as numbers."""
    parts = re.split(r"(\d+)", path.name)  # digit runs land at the odd positions
    return tuple(int(part) if position % 2 else part for position, part in enumerate(parts))


def _decode_image(path: Path, reformatter: VideoReformatter) -> np.ndarray:
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return reformatter.reformat(frame, format="rgb24").to_ndarray()
    except (av.FFmpegError, OSError, StopIteration, IndexError) as error:
        raise VideoReadError(f"cannot decode frame image '{path}': {_reason(error)}") from error


@dataclass(frozen=True)
class _FrameDirListing:
    """A frame folder's image files in frame order and the size of its first frame."""

    files: tuple[Path, ...]
    height: int
    width: int


@functools.lru_cache(maxsize=FRAME_INDEX_CACHE_SIZE)
def _cached_frame_dir_listing(path: Path, mtime_ns: int) -> _FrameDirListing:
    """List and measure a frame folder once; its mtime (changed by adding/removing files) keys the cache."""
    files = sorted(
        (
            file
            for file in path.iterdir()
            if file.suffix.lower() in FRAME_IMAGE_SUFFIXES and not file.name.startswith(".")
        ),
        key=_natural_sort_key,
    )
    if not files:
        raise VideoReadError(f"no {'/'.join(FRAME_IMAGE_SUFFIXES)} frame images in '{path}'")
    height, width = _decode_image(files[0], VideoReformatter()).shape[:2]
    return _FrameDirListing(tuple(files), height, width)


class FrameDirReader(_FrameSource):
    """Reader for a folder of JPEG/PNG frames in natural file-name order (img_2 before img_10)."""

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FRAME_DIR_FPS):
        self.path = Path(path)
        self.frames_decoded_last_read = 0
        self._reformatter = VideoReformatter()
        if not self.path.is_dir():
            raise VideoReadError(f"frame folder '{self.path}' does not exist")
        if not fps > 0:
            raise VideoReadError(f"frame rate for '{self.path}' must be positive, got {fps}")
        listing = _cached_frame_dir_listing(self.path.absolute(), self.path.stat().st_mtime_ns)
        self._files = listing.files
        self.info = VideoInfo(len(listing.files), float(fps), listing.width, listing.height)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 RGB [len(indices), H, W, 3]."""
        wanted = self._checked_indices(indices)
        unique = sorted(set(wanted))
        self.frames_decoded_last_read = len(unique)
        decoded = {index: self._read_frame(index) for index in unique}
        if not wanted:
            return self._empty_batch()
        return np.stack([decoded[index] for index in wanted])

    def _read_frame(self, index: int) -> np.ndarray:
        image = _decode_image(self._files[index], self._reformatter)
        if image.shape[:2] != self.size:
            raise VideoReadError(
                f"frame image '{self._files[index]}' is {image.shape[1]}x{image.shape[0]}, "
                f"the folder's first frame is {self.info.width}x{self.info.height}"
            )
        return image


def open_video(path: str | os.PathLike, fps: float | None = None) -> VideoReader | FrameDirReader:
    """A FrameDirReader for a folder, else a VideoReader. ``fps`` is only used for folders
    (default 30); video files report their own frame rate."""
    if Path(path).is_dir():
        return FrameDirReader(path, DEFAULT_FRAME_DIR_FPS if fps is None else fps)
    return VideoReader(path)


def probe(path: str | os.PathLike, fps: float | None = None) -> VideoInfo:
    """Frame count, rate and size of a video file or frame folder."""
    with open_video(path, fps) as reader:
        return reader.info
