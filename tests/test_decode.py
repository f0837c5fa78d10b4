"""read_frame / decode_frames: every readable image becomes RGB uint8 [h, w, 3]; every
unreadable one becomes a FrameError (or DecodedFrame.error) that names the file and says
what is wrong, and decode order never depends on the prefetching thread."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from signpose.decode import PREFETCH_FRAMES, DecodedFrame, FrameError, decode_frames, read_frame

TESTDATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata").resolve()
SIGNING_VIDEO = TESTDATA / "signing" / "slp_site_asl_different.mp4"


def real_png(tmp_path: Path, name: str = "real.png") -> Path:
    """One real signing frame, 210x260 like PHOENIX, written as PNG by cv2."""
    if not SIGNING_VIDEO.is_file():
        pytest.skip(f"needs ../shared/testdata ({SIGNING_VIDEO} is absent): real frames are only there")
    capture = cv2.VideoCapture(str(SIGNING_VIDEO))
    ok, bgr = capture.read()
    capture.release()
    assert ok, f"cannot read a frame of {SIGNING_VIDEO}"
    path = tmp_path / name
    assert cv2.imwrite(str(path), cv2.resize(bgr, (210, 260)))
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


def test_decode_frames_keeps_order_and_marks_only_the_broken_frame(tmp_path: Path) -> None:
    paths: list[Path] = []
    expected: list[np.ndarray | None] = []
    for i in range(10):
        path = tmp_path / f"images{i + 1:04d}.png"
        if i == 5:
            path.write_bytes(b"broken")
            expected.append(None)
        else:
            # Different sizes too, so a swapped frame could never compare equal.
            expected.append(synthetic_png(path, seed=i, shape=(4 + i, 3 + i)))
        paths.append(path)
    assert len(paths) > PREFETCH_FRAMES  # the prefetch window really slides
    frames = list(decode_frames(paths))
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
