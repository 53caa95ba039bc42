"""stgan.strips: a slide's strip (layout, labels, scaling) and its animated GIF."""

import io

import numpy as np
import pytest
from PIL import Image

from stgan.strips import HOLD_MS, fit, gif_bytes, slide_strip, value_label

RNG = np.random.default_rng(0)


def noise(h: int, w: int) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_fit_scales_only_large_images_down_keeping_the_aspect():
    small = noise(40, 30)
    assert fit(small, 64) is small
    big = fit(noise(1000, 250), 512)
    assert big.shape == (512, 128, 3) and big.dtype == np.uint8


def test_strip_columns_in_order_and_labels_when_they_fit():
    image, frames = noise(64, 64), [noise(64, 64) for _ in range(3)]
    strip = slide_strip(image, frames, [-1.0, 0.0, 1.0], pad=2)
    assert strip.shape[1] == 2 + 4 * 66
    for c, tile in enumerate([image, *frames]):
        assert np.array_equal(strip[2:66, 2 + c * 66 : 66 + c * 66], tile)
    band = strip[68:]  # the label band: white with dark text under each column
    assert band.shape[0] > 4 and (band < 128).any()
    for c in range(4):
        assert (band[:, 2 + c * 66 : 66 + c * 66] < 128).any(), c  # a label in every column
    assert value_label(-1.0) == "-1.00" and value_label(0.5) == "+0.50"


def test_strip_without_labels_when_the_tiles_are_too_narrow():
    strip = slide_strip(noise(8, 8), [noise(8, 8)] * 2, [-1.0, 1.0], pad=2)
    assert strip.shape == (12, 32, 3)
    with pytest.raises(ValueError, match="values"):
        slide_strip(noise(8, 8), [noise(8, 8)] * 2, [1.0])


def test_strip_scales_large_tiles_down():
    strip = slide_strip(noise(300, 200), [noise(300, 200)], [1.0], pad=2, max_side=150)
    assert strip.shape[1] == 2 + 2 * (100 + 2)


def test_gif_has_a_frame_per_value_loops_and_holds_its_ends():
    frames = [noise(16, 24) for _ in range(4)]
    with Image.open(io.BytesIO(gif_bytes(frames, frame_ms=100, hold_ms=HOLD_MS))) as gif:
        assert gif.n_frames == 4 and gif.size == (24, 16) and gif.info["loop"] == 0
        durations = []
        for i in range(4):
            gif.seek(i)
            durations.append(gif.info["duration"])
        assert durations == [HOLD_MS, 100, 100, HOLD_MS]


def test_gif_frames_of_large_photos_are_scaled_down():
    smooth = np.broadcast_to(np.linspace(0, 255, 900, dtype=np.uint8)[None, :, None], (600, 900, 3))
    with Image.open(io.BytesIO(gif_bytes([np.ascontiguousarray(smooth)], max_side=512))) as gif:
        assert gif.size == (512, 341)
    with pytest.raises(ValueError, match="frame"):
        gif_bytes([])
