"""The four tasks: pair making, encoding, and full-resolution prepare → finish for any input size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import emoji_like, photo_like
from pix2pix_demo import imaging
from pix2pix_demo.tasks import TASKS, get_task

SIZE = 32
EXPECTED_CHANNELS = {"sketch": (1, 3), "colorize": (1, 2), "day2night": (3, 3), "night2day": (3, 3)}


def test_all_tasks_are_registered():
    assert set(TASKS) == set(EXPECTED_CHANNELS)
    for name, (cin, cout) in EXPECTED_CHANNELS.items():
        task = get_task(name)
        assert (task.in_channels, task.out_channels) == (cin, cout)


def test_unknown_task():
    with pytest.raises(ValueError, match="Unknown task"):
        get_task("deblur")


def _sample_picture(name: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(emoji_like(rng, 80) if name == "sketch" else photo_like(rng, 80, 64))


@pytest.mark.parametrize("name", list(TASKS))
def test_make_pair_and_encode(name):
    task = get_task(name)
    picture = _sample_picture(name)
    a, b = task.make_pair(picture, np.random.default_rng(0))
    for arr in (a, b):
        assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[-1] == 3
    assert a.shape == b.shape
    assert not np.array_equal(a, b)  # the input really is a different picture from the target
    x, y = task.encode_input(a), task.encode_target(b)
    assert x.shape == a.shape[:2] + (task.in_channels,)
    assert y.shape == b.shape[:2] + (task.out_channels,)
    for arr in (x, y):
        assert np.isfinite(arr).all()
        assert arr.min() >= -1.0 - 1e-5 and arr.max() <= 1.0 + 1e-5
    # decode(x, encode_target(b)) gives back the target picture (for colorize: with the gray input's lightness,
    # which differs a little from the colour photo's own CIELAB L).
    back = task.decode(x, y)
    assert back.shape == b.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - b.astype(int)).mean() < (10.0 if task.color_space == "lab" else 1.0)


@pytest.mark.parametrize("name", list(TASKS))
def test_make_pair_is_deterministic_for_a_seed(name):
    task = get_task(name)
    picture = _sample_picture(name, 3)
    a1, b1 = task.make_pair(picture, np.random.default_rng(7))
    a2, b2 = task.make_pair(picture, np.random.default_rng(7))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)


def test_day2night_pair_is_darker_and_night2day_is_its_inverse():
    picture = _sample_picture("day2night")
    day, night = get_task("day2night").make_pair(picture, np.random.default_rng(0))
    assert np.array_equal(day, picture)
    assert imaging.luminance(night).mean() < 0.7 * imaging.luminance(day).mean()
    night2, day2 = get_task("night2day").make_pair(picture, np.random.default_rng(0))
    assert np.array_equal(day2, picture)
    assert imaging.luminance(night2).mean() < 0.7 * imaging.luminance(day2).mean()


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_night2day_inputs_mix_the_default_night_look_with_varied_ones(share, monkeypatch):
    """share 1: every input has the default render's exposure (the Day → Night look); share 0: exposures vary."""
    from pix2pix_demo import tasks
    from pix2pix_demo.night import render_night

    picture = _sample_picture("night2day")
    monkeypatch.setattr(tasks, "DEFAULT_NIGHT_SHARE", share)
    means = [get_task("night2day").make_pair(picture, np.random.default_rng(s))[0].mean() for s in range(8)]
    default = render_night(picture).mean()
    if share == 1.0:
        assert max(abs(m - default) for m in means) < 1.0
    else:
        assert max(means) - min(means) > 5.0 and max(abs(m - default) for m in means) > 3.0


def test_colorize_pair_input_is_gray():
    a, b = get_task("colorize").make_pair(_sample_picture("colorize"), np.random.default_rng(0))
    assert np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2])
    assert imaging.colourfulness(b) > imaging.colourfulness(a) + 5


def test_sketch_pair_is_a_line_drawing_of_the_picture():
    a, b = get_task("sketch").make_pair(_sample_picture("sketch"), np.random.default_rng(0))
    gray = a[..., 0]
    assert (gray > 200).mean() > 0.6 and (gray < 128).any()
    assert imaging.colourfulness(b) > 10


# ------------------------------------------------------------------------------------------- prepare / finish
@pytest.mark.parametrize("name", list(TASKS))
@pytest.mark.parametrize("wh", [(37, 91), (300, 200), (1, 1), (32, 32)])
def test_prepare_and_finish_give_the_inputs_full_size(name, wh, rng):
    task = get_task(name)
    w, h = wh
    img = Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8))
    if name == "sketch":
        img = Image.new("RGB", (w, h), "white")
        ImageDraw.Draw(img).line((0, 0, w - 1, h - 1), fill=(0, 0, 0), width=max(1, min(w, h) // 10))
    x, ctx = task.prepare(img, SIZE)
    assert x.shape == (SIZE, SIZE, task.in_channels)
    assert x.dtype == np.float32
    assert x.min() >= -1.0 - 1e-5 and x.max() <= 1.0 + 1e-5
    y = np.zeros((SIZE, SIZE, task.out_channels), np.float32)
    out = task.finish(y, ctx)
    assert isinstance(out, Image.Image)
    assert out.mode == "RGB"
    assert out.size == (w, h)


def test_colorize_finish_keeps_the_input_luminance(rng):
    task = get_task("colorize")
    src = photo_like(rng, 91, 37)
    x, ctx = task.prepare(src, SIZE)
    # A fake model output: a moderate, spatially varying colour cast.
    y = np.stack([np.linspace(-0.2, 0.2, SIZE * SIZE).reshape(SIZE, SIZE),
                  np.full((SIZE, SIZE), 0.15)], -1).astype(np.float32)
    out = np.asarray(task.finish(y, ctx))
    assert out.shape == (37, 91, 3)
    assert imaging.colourfulness(out) > 5  # the colour came from y, not the input
    # The output's lightness (CIELAB L) is the gray input's, pixel for pixel, at full resolution.
    gray_in = imaging.gray(src)
    L_in = imaging.rgb_to_lab(np.repeat(gray_in[..., None], 3, -1))[..., 0]
    L_out = imaging.rgb_to_lab(out)[..., 0]
    assert np.abs(L_out - L_in).mean() < 2.0
    assert np.abs(L_out - L_in).max() < 15.0


def test_colorize_with_zero_ab_returns_the_gray_picture(rng):
    task = get_task("colorize")
    src = photo_like(rng, 60, 40)
    x, ctx = task.prepare(src, SIZE)
    out = np.asarray(task.finish(np.zeros((SIZE, SIZE, 2), np.float32), ctx)).astype(int)
    gray = imaging.gray(src).astype(int)
    assert np.abs(out - gray[..., None]).max() <= 2
    assert imaging.colourfulness(out.astype(np.uint8)) < 2


@pytest.mark.parametrize("name", ["day2night", "night2day"])
def test_photo_finish_applies_the_prediction_at_full_resolution(name, rng):
    task = get_task(name)
    src = photo_like(rng, 300, 200)
    x, ctx = task.prepare(src, SIZE)
    identity = task.finish(x, ctx)  # the model returns its input: the photo comes back, sharp
    a, b = np.asarray(identity).astype(float), np.asarray(src).astype(float)
    assert identity.size == src.size
    assert np.abs(a - b).mean() < 6.0
    darker = task.finish(x * 0.5 - 0.5, ctx)  # halve the brightness (in [0, 1] space)
    assert np.asarray(darker).astype(float).mean() < 0.6 * b.mean() + 5


def test_sketch_of_an_empty_canvas(rng):
    task = get_task("sketch")
    blank = Image.new("RGB", (120, 80), "white")
    x, ctx = task.prepare(blank, SIZE)
    assert x.shape == (SIZE, SIZE, 1)
    assert (x == 1.0).all()  # all paper
    out = task.finish(rng.uniform(-1, 1, (SIZE, SIZE, 3)).astype(np.float32), ctx)
    assert out.size == (120, 80)


def test_sketch_prepare_fits_the_drawing():
    task = get_task("sketch")
    img = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(img).ellipse((300, 200, 380, 280), outline=(0, 0, 0), width=3)  # small, in a corner
    x, _ = task.prepare(img, 64)
    ys, xs = np.nonzero(x[..., 0] < 0)
    assert abs(ys.mean() - 32) < 4 and abs(xs.mean() - 32) < 4
    assert ys.max() - ys.min() > 40  # scaled up to fill the frame


def test_sketch_finish_centres_the_square_picture_on_white():
    task = get_task("sketch")
    out = np.asarray(task.finish(np.full((SIZE, SIZE, 3), -1.0, np.float32), (90, 30)))  # black picture
    assert out.shape == (30, 90, 3)
    assert (out[:, 35:55] < 10).all()  # the 30×30 picture in the middle
    assert (out[:, :25] == 255).all() and (out[:, -25:] == 255).all()
