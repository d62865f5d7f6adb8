"""Full-resolution finishing: banded up-sampling, the guided filter and CIELAB → sRGB."""

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import lab2rgb

from pix2pix_demo import fullres, imaging


@pytest.mark.parametrize("hw, HW", [((5, 7), (23, 31)), ((12, 9), (12, 9)), ((8, 8), (3, 5)), ((1, 4), (9, 16))])
def test_upsample_tiles_equal_a_whole_image_resize(hw, HW, rng):
    small = tf.constant(rng.uniform(-1, 1, hw + (3,)).astype(np.float32))
    whole = tf.image.resize(small[None], HW, method="bilinear")[0].numpy()
    padded = tf.pad(small, [[0, 3], [0, 2], [0, 0]], constant_values=9.0)  # padding must never be sampled
    rows = [np.concatenate([fullres.upsample_tile(padded, hw[0], hw[1], HW[0], HW[1], y, x, min(4, HW[0] - y),
                                                  min(5, HW[1] - x)).numpy() for x in range(0, HW[1], 5)], 1)
            for y in range(0, HW[0], 4)]
    np.testing.assert_allclose(np.concatenate(rows), whole, atol=1e-5)


def _smooth_photo(rng, h, w):
    hi = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    hi = np.clip(imaging.box_filter(hi, 3) + np.linspace(0, 0.3, w)[None, :, None], 0, 1)
    return (hi * 255 + 0.5).astype(np.uint8)


def test_guided_upsample_identity_gives_the_photo_back(rng):
    photo = _smooth_photo(rng, 120, 90)
    lo = imaging.resize_array(photo.astype(np.float32) / 255, (30, 40))
    out = fullres.guided_upsample(lo, lo, photo, radius=2)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - photo).mean() < 5


def test_guided_upsample_applies_a_colour_transform(rng):
    photo = _smooth_photo(rng, 64, 48)
    lo = imaging.resize_array(photo.astype(np.float32) / 255, (24, 32))
    out = fullres.guided_upsample(lo, lo * 0.5, photo, radius=2)  # darken by half
    assert np.abs(out.astype(float) - photo * 0.5).mean() < 8


def test_guided_upsample_tiles_do_not_show(rng, monkeypatch):
    photo = _smooth_photo(rng, 50, 40)
    lo = imaging.resize_array(photo.astype(np.float32) / 255, (20, 25))
    b = fullres.guided_upsample(lo, lo ** 2, photo)
    monkeypatch.setattr(fullres, "TILE_ROWS", 7)
    monkeypatch.setattr(fullres, "TILE_COLS", 16)
    a = fullres.guided_upsample(lo, lo ** 2, photo)
    assert np.abs(a.astype(int) - b).max() <= 1


def test_lab_to_rgb_matches_scikit_image(rng):
    lab = np.stack([rng.uniform(0, 100, (30, 40)), rng.uniform(-110, 110, (30, 40)),
                    rng.uniform(-110, 110, (30, 40))], -1).astype(np.float32)
    with pytest.warns(UserWarning):  # scikit-image warns about the out-of-gamut colours it clips
        ref = np.clip(lab2rgb(lab.astype(np.float64)) * 255 + 0.5, 0, 255).astype(np.uint8)
    ours = fullres.lab_to_rgb(lab, band_rows=7)
    assert ours.dtype == np.uint8 and ours.shape == ref.shape
    assert np.abs(ours.astype(int) - ref).max() <= 1


def test_lab_round_trip_and_batches(rng):
    rgb = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    back = fullres.lab_to_rgb(imaging.rgb_to_lab(rgb))
    assert back.shape == rgb.shape
    assert np.abs(back.astype(int) - rgb).max() <= 1


def test_compose_lab_keeps_the_gray_levels_and_upsamples_ab(rng, monkeypatch):
    monkeypatch.setattr(fullres, "TILE_ROWS", 10)
    monkeypatch.setattr(fullres, "TILE_COLS", 24)
    gray = rng.integers(0, 256, (37, 53)).astype(np.uint8)
    table = imaging.rgb_to_lab(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, -1)[None])[0, :, 0]
    ab = rng.uniform(-30, 30, (6, 9, 2)).astype(np.float32)
    out = fullres.compose_lab(gray, table, ab)
    ab_full = tf.image.resize(ab[None], (37, 53)).numpy()[0]
    ref = fullres.lab_to_rgb(np.concatenate([table[gray][..., None], ab_full], -1))
    assert np.abs(out.astype(int) - ref).max() <= 1
    zero = fullres.compose_lab(gray, table, np.zeros_like(ab))
    assert np.abs(zero.astype(int) - gray[..., None]).max() <= 1
