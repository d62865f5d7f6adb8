"""Tests of the synthetic day → night renderer (``pix2pix_demo.night``), on small synthetic images."""

import numpy as np
import pytest

from pix2pix_demo.night import random_night, render_night, sky_mask


def _luma(img):
    x = img.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def _textured(h, w, seed=0, mean=(140, 120, 100), amp=50):
    """A day-like scene without sky: smooth blotches of colour plus fine texture."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(h // 8 + 2, w // 8 + 2, 3))
    blot = np.kron(coarse, np.ones((8, 8, 1)))[:h, :w]
    img = np.asarray(mean, float) + amp * blot + 15 * rng.normal(size=(h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _sky_scene(h=128, w=128, horizon=0.45, seed=0):
    """A clear blue sky (brighter toward the horizon) above textured green ground."""
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), float)
    hs = int(horizon * h)
    t = np.linspace(0, 1, hs)[:, None, None]
    top, low = np.array([70, 120, 210.0]), np.array([150, 185, 232.0])
    img[:hs] = top * (1 - t) + low * t + rng.normal(0, 1.5, (hs, w, 3))
    img[hs:] = np.array([60, 115, 40.0]) + rng.normal(0, 25, (h - hs, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8), hs


@pytest.mark.parametrize("shape", [(64, 64), (96, 160), (257, 130), (1, 1), (2, 2), (5, 300)])
def test_shape_and_dtype(shape):
    img = np.random.default_rng(1).integers(0, 256, shape + (3,), dtype=np.uint8)
    for out in (render_night(img), random_night(img, np.random.default_rng(2)), render_night(img, strength=0.5)):
        assert out.shape == img.shape
        assert out.dtype == np.uint8
    mask = sky_mask(img)
    assert mask.shape == shape and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0


def test_mean_luminance_drops_strongly():
    img = _textured(128, 128)
    out = render_night(img)
    assert _luma(out).mean() < 0.35 * _luma(img).mean()
    sky, _ = _sky_scene()
    assert _luma(render_night(sky)).mean() < 0.35 * _luma(sky).mean()


def test_strength_zero_is_the_day_photo_and_strength_orders_darkness():
    img = _textured(64, 64)
    same = render_night(img, strength=0.0)
    assert np.abs(same.astype(int) - img).max() <= 2  # only the sRGB round trip
    means = [_luma(render_night(img, strength=s, noise=False)).mean() for s in (0.0, 0.5, 1.0, 1.5)]
    assert means == sorted(means, reverse=True) and means[-1] < means[0] * 0.5


def test_purkinje_shift_makes_neutral_gray_bluer():
    gray = np.full((64, 64, 3), 128, np.uint8)
    out = render_night(gray, noise=False).reshape(-1, 3).mean(axis=0)
    assert out[2] > 1.3 * out[0]  # input has blue == red
    assert out[2] > out[1] > out[0]
    # colours are desaturated: a saturated red loses most of its lead over green and blue
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 220
    r, g, b = render_night(red, noise=False).reshape(-1, 3).mean(axis=0)
    assert r < 4 * max(g, b, 1)


def test_sky_mask_finds_a_blue_sky_and_nothing_else():
    img, hs = _sky_scene()
    m = sky_mask(img)
    assert m[: hs - 3].mean() > 0.9
    assert m[hs + 3:].mean() < 0.05
    assert m[hs + 3:].max() < 0.5
    # no sky: textured scene, black, white, a studio backdrop filling the frame
    assert sky_mask(_textured(96, 96)).max() == 0.0
    assert sky_mask(np.zeros((64, 64, 3), np.uint8)).max() == 0.0
    assert sky_mask(np.full((64, 64, 3), 255, np.uint8)).max() == 0.0


def test_sky_mask_on_a_large_image():
    small, hs = _sky_scene(120, 160)
    big = np.kron(small, np.ones((8, 8, 1), np.uint8))  # 960 x 1280: the pooled analysis path
    m = sky_mask(big)
    assert m.shape == big.shape[:2]
    assert m[: 8 * hs - 24].mean() > 0.9 and m[8 * hs + 24:].mean() < 0.05


def test_sky_becomes_a_dark_night_sky():
    img, hs = _sky_scene()
    out = render_night(img, noise=False)
    sky_in, sky_out = _luma(img[:hs]), _luma(out[:hs])
    assert sky_out.mean() < 0.2 * sky_in.mean()
    assert sky_out.mean() < 40
    # deep blue near the horizon, darker toward the top
    low = out[hs - hs // 4: hs].reshape(-1, 3).mean(0)
    assert low[2] > low[0] and _luma(out[: hs // 4]).mean() < _luma(out[hs - hs // 4: hs]).mean()
    # by day the sky is the brightest part; by night it is darker than the ground (not just uniformly dimmed)
    ground_in, ground_out = _luma(img[hs + 4:]).mean(), _luma(out[hs + 4:]).mean()
    assert sky_in.mean() > 1.4 * ground_in
    assert sky_out.mean() < 0.8 * ground_out


def test_small_bright_light_stays_bright_and_glows():
    dark = _textured(128, 128, seed=3, mean=(45, 40, 35), amp=8)
    lit = dark.copy()
    lit[62:66, 62:66] = 255
    a = render_night(dark, noise=False).astype(float)
    b = render_night(lit, noise=False).astype(float)
    assert b[62:66, 62:66].min() > 200  # the lamp keeps its brightness
    ring = np.zeros((128, 128), bool)
    ring[52:76, 52:76] = True
    ring[60:68, 60:68] = False
    gain = _luma(b)[ring] - _luma(a)[ring]
    assert gain.mean() > 3  # halo around it
    far = _luma(b)[:20, :20] - _luma(a)[:20, :20]
    assert np.abs(far).mean() < 0.5 * gain.mean()  # and it fades with distance
    # warm: the lamp is redder than blue
    assert b[62:66, 62:66, 0].mean() > b[62:66, 62:66, 2].mean()


def test_large_white_wall_is_not_a_lamp():
    img = _textured(128, 128, seed=4, mean=(60, 60, 60), amp=10)
    img[30:100, 20:110] = 250  # a big sunlit wall
    out = render_night(img, noise=False)
    assert out[40:90, 30:100].mean() < 110


def test_deterministic_noise():
    img = _textured(64, 64)
    a1 = render_night(img, np.random.default_rng(7))
    a2 = render_night(img, np.random.default_rng(7))
    b = render_night(img, np.random.default_rng(8))
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, b)
    assert np.array_equal(render_night(img), render_night(img, np.random.default_rng(0)))  # rng=None is seed 0
    # the noise is small, and only there when asked for
    c1 = render_night(img, np.random.default_rng(7), noise=False)
    c2 = render_night(img, np.random.default_rng(8), noise=False)
    assert np.array_equal(c1, c2)
    diff = a1.astype(int) - c1
    assert 0.2 < np.abs(diff).mean() < 6


def test_random_night_varies_and_is_reproducible():
    img, _ = _sky_scene()
    r1 = random_night(img, np.random.default_rng(11))
    r2 = random_night(img, np.random.default_rng(11))
    assert np.array_equal(r1, r2)
    means = [_luma(random_night(img, np.random.default_rng(s))).mean() for s in range(6)]
    assert max(means) - min(means) > 2  # varied exposure / sky / tint
    assert max(means) < 0.4 * _luma(img).mean()  # but always night


def test_tiny_and_white_inputs():
    one = np.full((1, 1, 3), 255, np.uint8)
    out = render_night(one)
    assert out.shape == (1, 1, 3) and out.dtype == np.uint8
    white = np.full((64, 64, 3), 255, np.uint8)
    out = render_night(white)
    assert out.shape == white.shape and out.dtype == np.uint8
    assert 20 < out.mean() < 0.4 * 255  # dimmed, not black, not a lamp
    assert render_night(np.zeros((2, 2, 3), np.uint8)).max() < 30
