"""Video reading: random-access reads equal a full sequential decode, seeks stay local, bad files fail clearly."""

import re
from fractions import Fraction

import av
import numpy as np
import pytest

from vssl.core.errors import VideoReadError
from vssl.data.video import FrameDirReader, VideoInfo, VideoReader, open_video, probe

WIDTH, HEIGHT, NUM_FRAMES = 64, 48, 90

# (file name, encoder, encoder options, frame rate). libx264: 3 B-frames and a 60-frame GOP with
# scene-cut keyframes off, so frame 59 is 59 frames past the only earlier keyframe.
ENCODINGS = [
    ("h264.mp4", "libx264", {"g": "60", "bf": "3", "sc_threshold": "0"}, Fraction(30000, 1001)),
    ("h264.mkv", "libx264", {"g": "60", "bf": "3", "sc_threshold": "0"}, Fraction(30)),
    ("mpeg4.avi", "mpeg4", {"g": "30", "bf": "2"}, Fraction(25)),
    ("vp9.webm", "libvpx-vp9", {"g": "30", "deadline": "realtime", "cpu-used": "8"}, Fraction(30)),
]


def frame_pattern(index: int) -> np.ndarray:
    """A frame unlike its neighbours: index-dependent gradients and colour plus a moving white square."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[..., 0] = (cols * 4 + index * 7) % 256
    image[..., 1] = (rows * 5 + index * 13) % 256
    image[..., 2] = (index * 37) % 256
    top, left = (index * 2) % (HEIGHT - 12), (index * 3) % (WIDTH - 12)
    image[top : top + 12, left : left + 12] = 255
    return image


def write_video(path, codec, options, fps=Fraction(30), num_frames=NUM_FRAMES, container_options=None):
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(frame_pattern(index), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def sequential_decode(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def write_image(path, image: np.ndarray, codec: str, pix_fmt: str) -> None:
    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height, encoder.pix_fmt = image.shape[1], image.shape[0], pix_fmt
    encoder.time_base = Fraction(1, 30)
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
    packets = encoder.encode(frame) + encoder.encode()
    path.write_bytes(bytes(packets[0]))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {
        name: (write_video(folder / name, codec, options, fps), fps)
        for name, codec, options, fps in ENCODINGS
    }


@pytest.mark.parametrize("name", [encoding[0] for encoding in ENCODINGS])
def test_random_reads_equal_sequential_decode(videos, name):
    path, fps = videos[name]
    expected = sequential_decode(path)
    assert len(expected) == NUM_FRAMES
    indices = [89, 0, 45, 45, 3, 88, 61, 59, 60, 31, 30, 29, 2, 1, 1, 89]
    indices += list(np.random.default_rng(0).integers(0, NUM_FRAMES, 20))
    with VideoReader(path) as reader:
        assert reader.num_frames == NUM_FRAMES
        assert reader.fps == pytest.approx(float(fps))
        assert reader.size == (HEIGHT, WIDTH)
        batch = reader.read(indices)
        assert batch.dtype == np.uint8 and batch.shape == (len(indices), HEIGHT, WIDTH, 3)
        np.testing.assert_array_equal(batch, expected[indices])
        for start in (0, 27, 55, 82):
            np.testing.assert_array_equal(reader.read(range(start, start + 8)), expected[start : start + 8])
        np.testing.assert_array_equal(reader.read(range(NUM_FRAMES - 1, -1, -1)), expected[::-1])


def test_h264_fixture_really_has_b_frames_and_a_long_gop(videos):
    path, _ = videos["h264.mp4"]
    with av.open(str(path)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    decode_order_pts = [packet.pts for packet in packets]
    display_order_pts = sorted(decode_order_pts)
    assert decode_order_pts != display_order_pts  # reordered, i.e. B-frames
    keyframe_positions = [display_order_pts.index(packet.pts) for packet in packets if packet.is_keyframe]
    assert keyframe_positions == [0, 60]


def test_late_and_far_apart_clips_seek_instead_of_decoding_from_start(tmp_path):
    options = {"g": "30", "bf": "3", "sc_threshold": "0"}  # keyframes at frames 0, 30, 60
    path = write_video(tmp_path / "gop30.mp4", "libx264", options)
    expected = sequential_decode(path)
    with VideoReader(path) as reader:
        np.testing.assert_array_equal(reader.read(range(80, 88)), expected[80:88])
        assert reader.frames_decoded_last_read < 40  # 60..87 is 28 frames; from the start 88
        clips = [2, 3, 4, 5, 82, 83, 84, 85]
        np.testing.assert_array_equal(reader.read(clips), expected[clips])
        assert reader.frames_decoded_last_read < 40  # 0..5 and 60..85 is 32; straight through 86


def test_faststart_mp4_reads_like_sequential_decode(tmp_path):
    path = write_video(
        tmp_path / "faststart.mp4", "libx264", {"g": "60", "bf": "3"}, container_options={"movflags": "faststart"}
    )
    with VideoReader(path) as reader:
        np.testing.assert_array_equal(reader.read([70, 10, 69]), sequential_decode(path)[[70, 10, 69]])


def test_stream_without_timestamps_is_read_by_counting(tmp_path):
    path = write_video(tmp_path / "raw.h264", "libx264", {"g": "30", "bf": "3"})
    with av.open(str(path)) as container:
        assert all(packet.pts is None for packet in container.demux(video=0))
    expected = sequential_decode(path)
    with VideoReader(path) as reader:
        assert reader.num_frames == NUM_FRAMES
        np.testing.assert_array_equal(reader.read([75, 3, 40, 3]), expected[[75, 3, 40, 3]])


def test_file_cut_mid_gop_starts_at_its_first_keyframe(videos, tmp_path):
    path = tmp_path / "cut.mkv"
    with av.open(str(videos["h264.mkv"][0])) as source, av.open(str(path), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        packets = [packet for packet in source.demux(video=0) if packet.size]
        for packet in packets[5:]:  # like a stream-copy cut: starts 5 packets into a 60-frame GOP
            packet.stream = stream
            target.mux(packet)
    expected = sequential_decode(path)  # the H.264 decoder drops what precedes the keyframe
    assert len(expected) == NUM_FRAMES - 60
    with VideoReader(path) as reader:
        assert reader.num_frames == len(expected)
        np.testing.assert_array_equal(reader.read([29, 0, 14, 15]), expected[[29, 0, 14, 15]])


def test_rewritten_file_is_reindexed(tmp_path):
    path = write_video(tmp_path / "clip.mkv", "libx264", {}, num_frames=NUM_FRAMES)
    assert probe(path).num_frames == NUM_FRAMES
    write_video(path, "libx264", {}, num_frames=40)
    with VideoReader(path) as reader:
        assert reader.num_frames == 40
        np.testing.assert_array_equal(reader.read([39]), sequential_decode(path)[[39]])


def test_probe_and_open_video_on_a_file(videos):
    path, _ = videos["vp9.webm"]
    info = probe(path)
    assert info == VideoInfo(num_frames=NUM_FRAMES, fps=30.0, width=WIDTH, height=HEIGHT)
    assert info.duration == pytest.approx(3.0)
    with open_video(path) as reader:
        assert isinstance(reader, VideoReader)
        assert reader.duration == pytest.approx(3.0)
        assert reader.read([]).shape == (0, HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("bad_index", [NUM_FRAMES, -1])
def test_out_of_range_index_names_file_and_index(videos, bad_index):
    path, _ = videos["h264.mkv"]
    with VideoReader(path) as reader:
        with pytest.raises(IndexError, match=rf"{bad_index}.*h264\.mkv"):
            reader.read([0, bad_index])


def test_frame_folder_returns_png_arrays_in_natural_order(tmp_path):
    images = [np.random.default_rng(index).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for index in range(12)]
    for index, image in enumerate(images):
        write_image(tmp_path / f"{index + 1}.png", image, "png", "rgb24")  # 1.png .. 12.png
    (tmp_path / "notes.txt").write_text("not a frame")
    with open_video(tmp_path, fps=12.5) as reader:
        assert isinstance(reader, FrameDirReader)
        assert reader.info == VideoInfo(num_frames=12, fps=12.5, width=WIDTH, height=HEIGHT)
        wanted = [9, 8, 10, 11, 0, 9]
        np.testing.assert_array_equal(reader.read(wanted), np.stack([images[index] for index in wanted]))
    assert probe(tmp_path).fps == 30.0


def test_frame_folder_reads_zero_padded_jpegs(tmp_path):
    images = [frame_pattern(index * 20) for index in range(3)]
    for index, image in enumerate(images):
        write_image(tmp_path / f"img_{index + 1:05d}.jpg", image, "mjpeg", "yuvj420p")
    with FrameDirReader(tmp_path) as reader:
        batch = reader.read([2, 0, 1])
    assert batch.shape == (3, HEIGHT, WIDTH, 3)
    errors = np.abs(batch.astype(int) - np.stack([images[2], images[0], images[1]]).astype(int)).mean(axis=(1, 2, 3))
    assert errors.max() < 12  # JPEG is lossy; a wrong frame differs by far more
    differences_between_frames = np.abs(images[0].astype(int) - images[1].astype(int)).mean()
    assert differences_between_frames > 40


def test_frame_folder_errors_name_the_folder_or_image(tmp_path):
    with pytest.raises(VideoReadError, match=re.escape(str(tmp_path))):
        FrameDirReader(tmp_path)  # no images
    write_image(tmp_path / "1.png", frame_pattern(0), "png", "rgb24")
    (tmp_path / "2.png").write_bytes(b"not a png at all")
    with FrameDirReader(tmp_path) as reader:
        with pytest.raises(VideoReadError, match=r"2\.png"):
            reader.read([1])


def cut_in_half(source, target):
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


@pytest.fixture
def broken_files(videos, tmp_path):
    faststart = write_video(
        tmp_path / "faststart.mp4", "libx264", {}, container_options={"movflags": "faststart"}
    )
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with av.open(str(tmp_path / "audio_only.wav"), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return {
        "missing": tmp_path / "missing.mp4",
        "empty": tmp_path / "empty.mp4",
        "random bytes": tmp_path / "random.mp4",
        "no video stream": tmp_path / "audio_only.wav",
        "truncated mp4": cut_in_half(videos["h264.mp4"][0], tmp_path / "half.mp4"),
        "truncated faststart mp4": cut_in_half(faststart, tmp_path / "half_faststart.mp4"),
        "truncated avi": cut_in_half(videos["mpeg4.avi"][0], tmp_path / "half.avi"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "empty", "random bytes", "no video stream", "truncated mp4", "truncated faststart mp4", "truncated avi"],
)
def test_unreadable_file_raises_video_read_error_naming_it(broken_files, case):
    path = broken_files[case]
    with pytest.raises(VideoReadError, match=re.escape(path.name)):
        open_video(path)


def test_truncated_mkv_reads_the_frames_before_the_cut(videos, tmp_path):
    path = cut_in_half(videos["h264.mkv"][0], tmp_path / "half.mkv")
    expected = sequential_decode(path)
    assert 0 < len(expected) < NUM_FRAMES
    with VideoReader(path) as reader:
        assert reader.num_frames == len(expected)
        np.testing.assert_array_equal(reader.read(range(reader.num_frames)), expected)


@pytest.mark.parametrize("name", [encoding[0] for encoding in ENCODINGS])
def test_damaged_middle_never_leaks_raw_av_errors(videos, tmp_path, name):
    data = bytearray(videos[name][0].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    path = tmp_path / f"damaged_{name}"
    path.write_bytes(bytes(data))
    try:
        with open_video(path) as reader:
            batch = reader.read(range(reader.num_frames))
        assert batch.shape == (reader.num_frames, HEIGHT, WIDTH, 3)
    except VideoReadError as error:
        assert path.name in str(error)
