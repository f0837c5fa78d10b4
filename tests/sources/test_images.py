"""read_frame / decode_frames: every readable image becomes RGB uint8 [h, w, 3]; every
unreadable one becomes a FrameError (or DecodedFrame.error) that names the file and says
what is wrong, and decode order never depends on the prefetching thread."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from signpose.sources.frame import MAX_FRAME_PIXELS
from tests.fifo_helpers import finishes
from signpose.sources.images import PREFETCH_FRAMES, DecodedFrame, FrameError, decode_frames, read_frame

from tests.testdata import signing_frames  # tests/data, else ../shared/testdata



def real_png(tmp_path: Path, name: str = "real.png") -> Path:
    """One real signing frame, 210x260 like PHOENIX, written as PNG by cv2."""
    path = tmp_path / name
    assert cv2.imwrite(str(path), signing_frames(count=1)[0][..., ::-1])
    return path


def synthetic_png(path: Path, seed: int = 0, shape: tuple[int, int] = (6, 5)) -> np.ndarray:
    """Random BGR PNG written by cv2; returns the RGB array it must decode to."""
    bgr = np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), bgr)
    return bgr[..., ::-1]


# -- good images ---------------------------------------------------------------------------


def test_pure_red_bgr_png_decodes_as_rgb_red(tmp_path: Path) -> None:
    bgr = np.zeros((3, 4, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    path = tmp_path / "red.png"
    assert cv2.imwrite(str(path), bgr)
    image = read_frame(path)
    assert image.dtype == np.uint8
    assert image.shape == (3, 4, 3)
    assert (image == [255, 0, 0]).all()


def test_random_colour_png_round_trips_exactly_in_rgb_order(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    expected = synthetic_png(path, seed=1, shape=(7, 9))
    assert np.array_equal(read_frame(path), expected)


def test_real_frame_decodes_to_its_rgb_pixels(tmp_path: Path) -> None:
    path = real_png(tmp_path)
    image = read_frame(path)
    assert image.dtype == np.uint8 and image.shape == (260, 210, 3)
    assert np.array_equal(image, cv2.imread(str(path))[..., ::-1])
    assert image.flags["C_CONTIGUOUS"]  # MediaPipe wants contiguous frames


def test_grayscale_png_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5) * 12
    path = tmp_path / "gray.png"
    assert cv2.imwrite(str(path), gray)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ndim == 2  # really a 1-channel file
    image = read_frame(path)
    assert image.dtype == np.uint8 and image.shape == (4, 5, 3)
    for channel in range(3):
        assert np.array_equal(image[..., channel], gray)


def test_rgba_png_drops_alpha_and_keeps_colour(tmp_path: Path) -> None:
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 0] = 10  # blue
    bgra[..., 1] = 20  # green
    bgra[..., 2] = 30  # red
    bgra[..., 3] = np.arange(20, dtype=np.uint8).reshape(4, 5)  # alpha, mostly transparent
    path = tmp_path / "rgba.png"
    assert cv2.imwrite(str(path), bgra)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (4, 5, 4)
    image = read_frame(path)
    assert image.dtype == np.uint8 and image.shape == (4, 5, 3)
    assert (image == [30, 20, 10]).all()


def test_16_bit_png_is_scaled_to_8_bit(tmp_path: Path) -> None:
    k = np.arange(60, dtype=np.uint16).reshape(4, 5, 3) * 4  # 0..236
    bgr16 = k * 257
    bgr16[3, 4] = 65535
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), bgr16)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16  # really 16-bit
    image = read_frame(path)
    assert image.dtype == np.uint8 and image.shape == (4, 5, 3)
    expected = k[..., ::-1].astype(np.uint8)
    expected[3, 4] = 255
    assert np.array_equal(image, expected)


def test_16_bit_grayscale_png(tmp_path: Path) -> None:
    gray16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 20) * 257
    path = tmp_path / "deep_gray.png"
    assert cv2.imwrite(str(path), gray16)
    image = read_frame(path)
    assert image.dtype == np.uint8 and image.shape == (3, 4, 3)
    assert np.array_equal(image[..., 1], (gray16 // 257).astype(np.uint8))


# -- broken files --------------------------------------------------------------------------


def assert_frame_error(path: Path, *words: str) -> str:
    with pytest.raises(FrameError) as caught:
        read_frame(path)
    message = str(caught.value)
    assert str(path) in message, message
    for word in words:
        assert word in message.lower(), message
    return message


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert_frame_error(path, "empty", "0 bytes")


def test_truncated_real_png(tmp_path: Path) -> None:
    data = real_png(tmp_path).read_bytes()
    path = tmp_path / "half.png"
    path.write_bytes(data[: len(data) // 2])
    assert_frame_error(path, "not a decodable image", "truncated", f"{len(data) // 2} bytes")


def test_truncated_synthetic_png(tmp_path: Path) -> None:
    source = tmp_path / "noise.png"
    synthetic_png(source, shape=(64, 64))
    data = source.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    assert_frame_error(path, "not a decodable image")


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    assert_frame_error(path, "not a decodable image", "not an image")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.png"
    assert_frame_error(path, "cannot read")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "dir.png"
    path.mkdir()
    assert_frame_error(path, "cannot read")


# -- decode_frames -------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
def test_decode_frames_keeps_order_and_marks_only_the_broken_frame(tmp_path: Path, threads: int) -> None:
    paths: list[Path] = []
    expected: list[np.ndarray | None] = []
    for i in range(10):
        path = tmp_path / f"images{i + 1:04d}.png"
        if i == 5:
            path.write_bytes(b"broken")
            expected.append(None)
        else:
            # One size (a clip's frames share it); random pixels per seed, so a swapped
            # frame could never compare equal.
            expected.append(synthetic_png(path, seed=i, shape=(8, 7)))
        paths.append(path)
    assert len(paths) > PREFETCH_FRAMES * threads  # the prefetch window really slides
    frames = list(decode_frames(paths, threads=threads))
    assert all(isinstance(frame, DecodedFrame) for frame in frames)
    assert [frame.name for frame in frames] == [path.name for path in paths]
    for i, (frame, want) in enumerate(zip(frames, expected)):
        if want is None:
            assert frame.image is None
            assert frame.error is not None and paths[i].name in frame.error
            assert "not a decodable image" in frame.error
        else:
            assert frame.error is None, frame.error
            assert np.array_equal(frame.image, want), f"frame {i} out of order or wrong"


def test_decode_frames_of_nothing_and_of_fewer_than_the_prefetch(tmp_path: Path) -> None:
    assert list(decode_frames([])) == []
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    wants = [synthetic_png(paths[0], seed=3), synthetic_png(paths[1], seed=4)]
    frames = list(decode_frames(paths))
    assert [f.name for f in frames] == ["a.png", "b.png"]
    assert all(np.array_equal(f.image, w) for f, w in zip(frames, wants))


def test_decode_frames_missing_file_is_a_frame_error_not_an_exception(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    synthetic_png(good)
    frames = list(decode_frames([tmp_path / "missing.png", good]))
    assert frames[0].image is None and "missing.png" in frames[0].error
    assert frames[1].error is None and frames[1].image is not None


# -- limits, file kinds and clip-wide frame size (issue #9, item 7) ------------------------


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A real, valid 8-bit grey PNG of ``width`` x ``height``, all black: about a megabyte
    on disk for 16000x16000, but hundreds of megabytes (as RGB, more) once decoded."""
    deflate = zlib.compressobj(1)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_png_declaring_16000x16000_is_refused_from_its_header_without_decoding(tmp_path: Path) -> None:
    path = png_declaring(tmp_path / "bomb.png", 16000, 16000)
    assert path.stat().st_size < 2_000_000
    # In a fresh process, so its peak memory tells whether the pixels were decoded
    # (they would take about 1 GB).
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from signpose.sources.images import read_frame, FrameError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    read_frame(Path(sys.argv[1]))\n"
        "    print('DECODED')\n"
        "except FrameError as error:\n"
        "    print(error)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    message, grown_kib = done.stdout.strip().splitlines()
    assert message != "DECODED"
    assert str(path) in message and "16000×16000" in message and "256.0 megapixels" in message, message
    assert f"limit of {MAX_FRAME_PIXELS / 1e6:g} megapixels" in message and "not decoded" in message, message
    assert int(grown_kib) < 100_000, f"reading the header took {int(grown_kib) // 1024} MiB more"


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp"])
def test_pixel_limit_is_a_keyword_and_checked_for_each_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"frame{suffix}"
    assert cv2.imwrite(str(path), np.full((80, 100, 3), 128, np.uint8))
    assert read_frame(path, max_pixels=8000).shape == (80, 100, 3)
    with pytest.raises(FrameError) as caught:
        read_frame(path, max_pixels=7999)
    message = str(caught.value)
    assert str(path) in message and "100×80" in message and "not decoded" in message, message


def test_file_size_limit_names_the_file_and_its_size(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    synthetic_png(path, shape=(40, 40))
    size = path.stat().st_size
    assert read_frame(path, max_bytes=size).shape == (40, 40, 3)
    with pytest.raises(FrameError) as caught:
        read_frame(path, max_bytes=size - 1)
    message = str(caught.value)
    assert str(path) in message and f"{size} bytes" in message and "not read" in message, message
    frames = list(decode_frames([path], max_bytes=size - 1))
    assert frames[0].image is None and f"{size} bytes" in frames[0].error


def test_fifo_named_like_a_frame_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "images0001.png"
    os.mkfifo(fifo)
    with pytest.raises(FrameError) as caught:
        finishes(lambda: read_frame(fifo), fifo)
    assert str(fifo) in str(caught.value) and "FIFO" in str(caught.value) and "not a regular file" in str(caught.value)
    good = tmp_path / "images0002.png"
    synthetic_png(good)
    frames = finishes(lambda: list(decode_frames([fifo, good])), fifo)
    assert frames[0].image is None and "FIFO" in frames[0].error
    assert frames[1].error is None


def test_frame_of_another_size_than_the_clips_first_is_a_failed_frame(tmp_path: Path) -> None:
    from signpose.model.clip import Clip
    from signpose.sources import open_frames

    clip = tmp_path / "clip"
    clip.mkdir()
    first = real_png(clip, "images0001.png")  # 210x260, as PHOENIX
    bgr = cv2.imread(str(first))
    (clip / "images0000.png").write_bytes(b"broken")  # a failed frame does not set the size
    assert cv2.imwrite(str(clip / "images0002.png"), cv2.resize(bgr, (320, 240)))
    assert cv2.imwrite(str(clip / "images0003.png"), bgr[:, ::-1])
    frames = list(open_frames(Clip("train", "clip", clip)).frames)
    assert [f.name for f in frames] == ["images0000.png", "images0001.png", "images0002.png", "images0003.png"]
    assert frames[0].image is None and frames[1].image.shape == (260, 210, 3) and frames[3].image.shape == (260, 210, 3)
    assert frames[2].image is None
    assert frames[2].error == f"{clip / 'images0002.png'}: is 320×240, the clip's first frame is 210×260"
