"""Colour hints: drawing, sampling, parsing, placing a user's points, and a tiny hint-aware model end to end."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import TINY
from pix2pix_demo import hints
from pix2pix_demo.tasks import TASKS


def test_render_draws_patch_squares_with_a_mask():
    m = hints.render([(10, 20, (0.5, -0.25)), (0, 0, (1.0, 1.0)), (40, 5, (9, 9))], 32, 2)
    assert m.shape == (32, 32, 3)
    half = hints.PATCH // 2
    patch = m[10 - half:10 + half + 1, 20 - half:20 + half + 1]
    assert np.allclose(patch[..., :2], (0.5, -0.25)) and np.all(patch[..., 2] == 1)
    assert m[..., 2].sum() == hints.PATCH ** 2 + (half + 1) ** 2  # the corner one is clipped; (40, 5) is outside
    assert np.all(m[m[..., 2] == 0][..., :2] == 0)



def _paper(size=32):
    """A closed square (rows and columns 8..20) and an open U (a gap at its top) on paper: True = no ink."""
    ink = np.zeros((size, size), bool)
    ink[8, 8:21] = ink[20, 8:21] = ink[8:21, 8] = ink[8:21, 20] = True
    ink[24:30, 2] = ink[24:30, 6] = ink[29, 2:7] = True
    return ~ink


def test_regions_are_the_closed_ones_only():
    labels = hints.regions(_paper())
    inside = labels[9:20, 9:20]
    assert inside.min() > 0 and np.unique(inside).size == 1, "the square's inside is one region"
    assert labels[labels > 0].size == inside.size, "nothing else: not the paper around, not the open U"
    assert labels[8, 8] == 0 and labels[0, 0] == 0 and labels[27, 4] == 0
    big = np.ones((32, 32), bool)
    big[1, 1:31] = big[30, 1:31] = big[1:31, 1] = big[1:31, 30] = False  # a frame round the whole picture
    assert not hints.regions(big).any(), f"more than {hints.MAX_FILL:.0%} of the picture is not filled"


def test_a_hint_fills_its_closed_region_and_its_square_stays_on_top():
    fill = hints.regions(_paper())
    red, blue, green = (1.0, -1.0, -1.0), (-1.0, -1.0, 1.0), (-1.0, 1.0, -1.0)
    m = hints.render([(12, 12, red), (18, 18, blue), (27, 4, green)], 32, 3, fill)
    inside = m[9:20, 9:20]
    assert np.all(inside[..., 3] == 1), "the whole square region is hinted"
    assert np.allclose(m[10, 18, :3], blue), "the later point's fill paints over the earlier one's"
    assert np.allclose(m[12, 12, :3], red) and np.allclose(m[18, 18, :3], blue), "each square keeps its colour"
    assert m[27, 4, 3] == 1 and m[22, 4, 3] == 0 and m[0, 0, 3] == 0, "the open U gets its square only"
    on_outline = hints.render([(8, 14, green)], 32, 3, fill)  # on the square's top stroke: most of it inside
    assert np.all(on_outline[9:20, 9:20, 3] == 1)
    squares_only = hints.render([(12, 12, red)], 32, 3)
    assert squares_only[..., 3].sum() == hints.PATCH ** 2


def test_fills_match_painting_each_region_in_turn():
    """render fills through a table of colours by label; the same as painting each point's region in turn (a later
    one over an earlier one), then the squares, on random drawings and points, some on the strokes."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        paper = rng.random((48, 48)) > 0.08
        paper[::7] = paper[:, ::9] = False  # a grid of strokes: many closed regions
        fill = hints.regions(paper)
        points = [(int(r), int(c), rng.uniform(-1, 1, 2)) for r, c in rng.integers(-2, 50, (12, 2))]
        expected = np.zeros((48, 48, 3), np.float32)
        half = hints.PATCH // 2
        inside_points = [(r, c, col) for r, c, col in points if 0 <= r < 48 and 0 <= c < 48]
        for r, c, colour in inside_points:
            label = fill[r, c]
            if not label:
                under = fill[max(0, r - half):r + half + 1, max(0, c - half):c + half + 1]
                label = np.bincount(under[under > 0]).argmax() if (under > 0).any() else 0
            if label:
                expected[fill == label] = (*colour, 1.0)
        for r, c, colour in inside_points:
            expected[max(0, r - half):r + half + 1, max(0, c - half):c + half + 1] = (*colour, 1.0)
        np.testing.assert_array_equal(hints.render(points, 48, 2, fill), expected)


def test_sketch_hints_fill_the_drawings_regions_and_photo_hints_do_not():
    sketch, colorize = TASKS["sketch"], TASKS["colorize"]
    x = np.where(_paper(), 1.0, -1.0)[..., None].astype(np.float32)  # encoded canonical strokes: paper 1, ink -1
    m = sketch.hint_channels([(12, 12, (1.0, -1.0, -1.0))], 32, x)
    assert np.all(m[9:20, 9:20, 3] == 1) and m[..., 3].sum() == 11 * 11
    assert sketch.hint_channels([(12, 12, (1.0, -1.0, -1.0))], 32)[..., 3].sum() == hints.PATCH ** 2
    gray = np.where(_paper(), 1.0, -1.0)[..., None].astype(np.float32)
    assert colorize.hint_channels([(12, 12, (0.5, 0.5))], 32, gray)[..., 2].sum() == hints.PATCH ** 2

def test_sample_takes_the_targets_patch_mean_inside_the_region(rng):
    y = np.zeros((32, 32, 3), np.float32)
    y[:, 16:] = 0.5  # right half coloured
    region = np.zeros((32, 32), bool)
    region[:, 20:] = True
    pts = hints.sample(y, rng, region, count=6)
    assert len(pts) == 6
    for r, c, colour in pts:
        assert region[r, c] and np.allclose(colour, 0.5)
    counts = [len(hints.sample(y, np.random.default_rng(i))) for i in range(400)]
    share_none = np.mean([c == 0 for c in counts])
    assert 0.15 < share_none < 0.35 and max(counts) <= hints.MAX_HINTS and 5 < np.mean(counts) < 9


@pytest.mark.parametrize("value, rgb", [("#ff8800", (255, 136, 0)), ("00ff10", (0, 255, 16)), ([1, 2, 3], (1, 2, 3))])
def test_parse_colour(value, rgb):
    assert hints.parse_colour(value) == rgb


@pytest.mark.parametrize("bad", ["#ff88", "red", [1, 2], [1, 2, 300], [1.5, 2, 3], None, {"r": 1}, [True, 0, 0]])
def test_parse_colour_refuses_in_a_sentence(bad):
    with pytest.raises(hints.HintError, match="colour must"):
        hints.parse_colour(bad)


def test_parse_hints_forms_and_errors():
    assert hints.parse(None) == [] and hints.parse([]) == []
    got = hints.parse([{"x": 3, "y": 4.5, "color": "#010203"}, (7, 8, (9, 10, 11))])
    assert got == [hints.Hint(3.0, 4.5, (1, 2, 3)), hints.Hint(7.0, 8.0, (9, 10, 11))]
    for bad in ("#ff0000", 5, [{"x": "a", "y": 1, "color": "#000000"}], [{"x": float("nan"), "y": 1,
                                                                            "color": "#000000"}], [[1, 2]],
                [{"x": 1, "y": 1}] * 500):
        with pytest.raises(hints.HintError):
            hints.parse(bad)


def test_a_photo_hint_lands_where_the_letterbox_puts_that_pixel():
    task = TASKS["colorize"]
    img = Image.new("RGB", (200, 100))
    m = task.user_hints(img, 128, hints.parse([(0, 0, (255, 0, 0)), (199, 99, (0, 0, 255))]))
    rows, cols = np.nonzero(m[..., 2])
    # 200×100 → 128×64 letterboxed at rows 32–95: the corners of the photo are the corners of that band
    assert rows.min() == 32 - hints.PATCH // 2 and cols.min() == 0
    assert rows.max() == 95 + hints.PATCH // 2 and cols.max() == 127
    red = m[32, 0, :2] * 110
    assert red[0] > 60 and red[1] > 40  # CIELAB a and b of pure red: about 80 and 67


def test_a_drawing_hint_follows_the_fit_to_content():
    """A drawing in a corner is fitted to its content: a hint at its centre lands at the model input's centre."""
    task = TASKS["sketch"]
    img = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(img).rectangle((20, 20, 120, 120), outline="black", width=3)
    m = task.user_hints(img, 64, hints.parse([(70, 70, (0, 255, 0))]))
    rows, cols = np.nonzero(m[..., 3])
    assert abs(rows.mean() - 31.5) < 1.5 and abs(cols.mean() - 31.5) < 1.5
    assert np.allclose(m[rows[0], cols[0], :3], (-1, 1, -1))
    assert len(rows) == hints.PATCH ** 2, "without the drawing's encoded strokes: the square only"
    x, _ = task.prepare(img, 64)
    filled = task.user_hints(img, 64, hints.parse([(70, 70, (0, 255, 0))]), x)
    assert filled[..., 3].sum() > 40 * 40, "with them: the rectangle's inside (fitted, it fills most of the frame)"
    assert not filled[[0, -1], :, 3].any() and not filled[:, [0, -1], 3].any(), "not the paper around it"


def test_encode_pair_with_hints_adds_the_channels(photo_dir):
    from pix2pix_demo import data

    task = TASKS["colorize"]
    ds = data.find_dataset(photo_dir)
    a, b = data.read_pair(ds, ds.items[0], task, 64, np.random.default_rng(0))
    a, b = data.center_crop(a, b, 32)
    x, y = data.encode_pair(task, ds, a, b, np.random.default_rng(3), hints=True)
    assert x.shape == (32, 32, data.input_channels(task, True)) == (32, 32, 4)
    x2, _ = data.encode_pair(task, ds, a, b, np.random.default_rng(3), hints=True)
    assert np.array_equal(x, x2), "the same seed gives the same hints (the fixed validation set)"
    mask = x[..., 3] > 0
    if mask.any():  # the hint colour is the target's colour there (patch mean)
        assert np.abs(x[..., 1:3][mask] - y[mask]).mean() < 0.1


@pytest.fixture(scope="module")
def hint_model(photo_dir, tmp_path_factory):
    """A tiny hint-aware colorize U-Net, trained for 60 steps."""
    from pix2pix_demo.training import TrainConfig, train

    cfg = TrainConfig(task="colorize", arch="unet", data=str(photo_dir), steps=60, batch_size=4, lr=1e-3,
                      val_fraction=0.25, seed=0, checkpoint_every=1000, sample_every=1000, log_every=50,
                      hints=True, **TINY)
    return train(cfg, tmp_path_factory.mktemp("hint_run"), verbose=False)


@pytest.mark.timeout(600)
def test_a_hint_aware_colorize_model_trains_loads_and_follows_hints(hint_model, photo_dir):
    from pix2pix_demo import load

    tr = load("colorize", "unet", hint_model)
    assert tr.takes_hints and tr.config.in_channels == 4
    photo = Image.open(next(photo_dir.glob("*.jpg"))).convert("RGB")
    plain = tr(photo)
    hinted = tr(photo, hints=[(photo.width // 2, photo.height // 2, (0, 200, 0))])
    assert plain.size == hinted.size == photo.size
    assert not np.array_equal(np.asarray(plain), np.asarray(hinted)), "the hint reaches the model"
    with pytest.raises(hints.HintError):
        tr(photo, hints="#00ff00")


def test_a_model_without_hint_channels_refuses_hints(trained_model):
    from pix2pix_demo import load

    tr = load("sketch", "unet", trained_model)
    assert not tr.takes_hints
    with pytest.raises(hints.HintError, match="takes no colour hints"):
        tr(Image.new("RGB", (40, 40), "white"), hints=[(1, 1, (255, 0, 0))])


def test_hints_are_refused_for_tasks_without_them(photo_dir, tmp_path):
    from pix2pix_demo.training import TrainConfig, train

    cfg = TrainConfig(task="day2night", data=str(photo_dir), steps=2, hints=True, **TINY)
    with pytest.raises(ValueError, match="takes no colour hints"):
        train(cfg, tmp_path / "run", verbose=False)


def test_hue_accuracy_and_the_best_constant_tint():
    from pix2pix_demo.evaluation import best_constant_tint, hue_accuracy

    target = np.zeros((1, 10, 10, 3), np.uint8)
    target[0, :5] = (220, 30, 30)  # red
    target[0, 5:] = (30, 60, 220)  # blue: about 160° of hue away
    assert hue_accuracy(target, target) == 1.0
    assert hue_accuracy(np.full_like(target, 128), target) == 0.0, "gray is never the right hue"
    all_red = np.broadcast_to(np.array((220, 30, 30), np.uint8), target.shape)
    assert hue_accuracy(all_red, target) == 0.5
    score, hue = best_constant_tint(target)
    assert score == 0.5 and hue is not None
    assert best_constant_tint(np.full_like(target, 90)) == (None, None)



def test_ssim_is_the_definition_tensorflow_uses():
    """scikit-image's separable filter, for speed; the numbers must stay Wang et al.'s (2004) with tf.image.ssim's
    window: an 11×11 Gaussian (σ 1.5) over the valid region, written out here in float64."""
    import tensorflow as tf
    from scipy.signal import convolve2d

    from pix2pix_demo.evaluation import ssim

    rng = np.random.default_rng(3)
    true = rng.integers(0, 256, (3, 40, 56, 3), dtype=np.uint8)
    true[0] = 250  # flat areas too
    pred = np.clip(true.astype(int) + rng.integers(-50, 50, true.shape), 0, 255).astype(np.uint8)
    g = np.exp(-np.arange(-5, 6) ** 2 / (2 * 1.5 ** 2))
    window = np.outer(g, g) / g.sum() ** 2

    def by_definition(p, t):
        c1, c2, values = 0.01 ** 2, 0.03 ** 2, []
        for a, b in zip(np.moveaxis(p / 255, -1, 0), np.moveaxis(t / 255, -1, 0)):
            mean = [convolve2d(v, window, mode="valid") for v in (a, b, a * a, b * b, a * b)]
            va, vb, cov = mean[2] - mean[0] ** 2, mean[3] - mean[1] ** 2, mean[4] - mean[0] * mean[1]
            values.append(np.mean((2 * mean[0] * mean[1] + c1) * (2 * cov + c2)
                                  / ((mean[0] ** 2 + mean[1] ** 2 + c1) * (va + vb + c2))))
        return np.mean(values)

    got = ssim(pred, true)
    assert got == pytest.approx([by_definition(p, t) for p, t in zip(pred, true)], abs=1e-9)
    in_tf = tf.image.ssim(tf.constant(pred, tf.float32) / 255, tf.constant(true, tf.float32) / 255, max_val=1.0)
    assert got == pytest.approx(in_tf.numpy(), abs=5e-4)  # TensorFlow works in float32: ~1e-4 off on flat areas
    assert ssim(true, true) == pytest.approx(1.0)


def test_image_metrics_a_chunk_at_a_time_equal_the_metrics_in_one_piece(monkeypatch):
    """Chunks keep the memory small (one piece: 23 GB for the sketch validation split); each measure must add up
    across chunks as over the whole set: pixel-weighted L1 and hue accuracy, one constant tint for all images."""
    from pix2pix_demo import evaluation

    rng = np.random.default_rng(0)
    true = rng.integers(0, 256, (7, 24, 24, 3), dtype=np.uint8)
    true[:3] = (200, 40, 40)  # three all-red images, so the best tint over all is not any one chunk's best
    pred = np.clip(true.astype(int) + rng.integers(-60, 60, true.shape), 0, 255).astype(np.uint8)
    whole = evaluation.image_metrics(pred, true)
    monkeypatch.setattr(evaluation, "METRIC_CHUNK", 2)
    chunked = evaluation.image_metrics(pred, true)
    assert chunked.keys() == whole.keys()
    for key in whole:
        assert chunked[key] == pytest.approx(whole[key], abs=2e-4), key
    assert whole["hue_accuracy"] == evaluation.hue_accuracy(pred, true)
    assert whole["hue_constant_tint"] == evaluation.best_constant_tint(true)[0]
    # the targets measured once and reused (the hints curve) give the same numbers; another prediction, others
    stats = evaluation.target_stats(true)
    assert evaluation.image_metrics(pred, true, stats) == chunked
    assert evaluation.image_metrics(true, true, stats)["hue_accuracy"] == 1.0 != chunked["hue_accuracy"]


def test_grid_strength_sees_a_two_pixel_pattern_not_edges_or_gradients():
    """The 2-pixel grid the stride-2 transposed convolutions leave (Odena et al. 2016), in 0-255 levels."""
    from pix2pix_demo.evaluation import grid_strength

    rows, cols = np.mgrid[:64, :64]
    flat = np.full((1, 64, 64, 3), 128.0)
    ramp = np.repeat((rows * 2.0)[None, ..., None], 3, -1)  # a smooth gradient
    edge = np.where(cols < 29, 0.0, 255.0)[None, ..., None].repeat(3, -1)  # a hard edge inside a window
    checker = flat + np.where((rows + cols) % 2, 6.0, -6.0)[None, ..., None]
    stripes = flat + np.where(cols % 2, 4.0, -4.0)[None, ..., None]
    assert grid_strength(flat) == 0.0 and grid_strength(ramp) < 1.0
    assert grid_strength(checker) == pytest.approx(6.0) and grid_strength(stripes) == pytest.approx(4.0)
    assert grid_strength(edge) < 0.05 * 255  # one edge hardly alternates
    assert grid_strength(ramp + checker - 128) == pytest.approx(6.0, abs=1.0)  # seen on top of a gradient


def test_hue_concentration_shows_a_colour_cast_that_hue_accuracy_half_rewards():
    """A prediction that paints every picture the same orange scores some hue accuracy (on the red targets),
    but its colour is all one hue; a right prediction has the targets' own concentration (their best tint)."""
    from pix2pix_demo import evaluation

    true = np.zeros((6, 16, 16, 3), np.uint8)
    true[:2], true[2:4], true[4:] = (200, 40, 40), (40, 160, 40), (40, 80, 200)  # red, green, blue
    cast = np.zeros_like(true)
    cast[:] = (235, 140, 40)  # one orange for everything
    right, wrong = evaluation.image_metrics(true, true), evaluation.image_metrics(cast, true)
    assert right["hue_concentration"] == right["hue_constant_tint"] == pytest.approx(1 / 3, abs=0.01)
    assert wrong["hue_concentration"] == 1.0
    assert 0.3 < wrong["hue_accuracy"] < right["hue_accuracy"] == 1.0  # the cast is half right by hue alone
    assert right["grid"] == right["grid_target"] == 0.0


@pytest.mark.timeout(600)
def test_evaluate_with_hint_counts(hint_model, photo_dir):
    from pix2pix_demo.evaluation import evaluate, hints_table
    from pix2pix_demo.tasks import get_task

    res = evaluate(get_task("colorize"), photo_dir, ["unet"], {"unet": hint_model}, split="all",
                   hint_counts=(0, 5, 20))
    m = res["unet"]
    assert m["takes_hints"] and set(m["hints"]) == {"0", "5", "20"}
    assert m["hints"]["0"]["psnr"] == m["psnr"], "0 hints is the automatic mode"
    assert m["hints"]["20"]["psnr"] != m["hints"]["0"]["psnr"]
    assert 0 <= m["hue_accuracy"] <= 1 and 0 <= m["hue_constant_tint"] <= 1 and "psnr_gray_baseline" in m
    table = hints_table("colorize", res)
    assert "20 hints" in table and "unet |" in table


@pytest.mark.timeout(600)
def test_evaluate_arrays_measures_a_chunk_at_a_time_with_the_same_hints(hint_model, photo_dir, monkeypatch):
    """Each chunk is predicted and measured in turn (the whole sketch validation split at once held 14.8 GB); a
    chunk's hints must be those of its pictures' places in the whole set, so the numbers do not depend on the
    chunk size."""
    from pix2pix_demo import data as data_mod
    from pix2pix_demo import evaluation, load
    from pix2pix_demo.tasks import get_task

    task, model = get_task("colorize"), load("colorize", "unet", hint_model).model
    ds = data_mod.find_dataset(photo_dir)
    x, y = data_mod.validation_arrays(task, ds, ds.items, model.input_shape[1])
    whole = evaluation.evaluate_arrays(task, model, x, y, (0, 3))
    monkeypatch.setattr(evaluation, "METRIC_CHUNK", 3)  # 8 pictures: chunks of 3, 3 and 2
    chunked = evaluation.evaluate_arrays(task, model, x, y, (0, 3))
    for m in (whole, chunked):
        m.pop("forward_ms")
    assert chunked["hints"]["3"]["psnr"] != chunked["hints"]["0"]["psnr"]
    assert chunked.keys() == whole.keys() and chunked["hints"].keys() == whole["hints"].keys()
    for n in whole["hints"]:
        assert chunked["hints"][n] == pytest.approx(whole["hints"][n], abs=2e-4), n
    for key in ("l1", "psnr", "hue_accuracy", "colourfulness", "psnr_gray_baseline"):
        assert chunked[key] == pytest.approx(whole[key], abs=2e-4), key


@pytest.mark.timeout(600)
def test_cli_predict_with_hints(hint_model, photo_dir, tmp_path):
    import json
    import subprocess
    import sys

    from conftest import REPO, cli_env

    photo = next(photo_dir.glob("*.jpg"))
    good, bad = tmp_path / "hints.json", tmp_path / "bad.json"
    good.write_text(json.dumps([{"x": 10, "y": 10, "color": "#00c800"}]))
    bad.write_text(json.dumps([{"x": 10, "y": 10, "color": "green"}]))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "pix2pix_demo", "predict", "--task", "colorize", "--weights",
                               str(hint_model), str(photo), "--out", str(tmp_path / "out"), *args],
                              cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300)

    plain = run()
    assert plain.returncode == 0, plain.stderr
    out = tmp_path / "out" / f"{photo.stem}_colorize.png"
    before = np.asarray(Image.open(out))
    hinted = run("--hints", str(good))
    assert hinted.returncode == 0, hinted.stderr
    assert not np.array_equal(before, np.asarray(Image.open(out)))
    for args, message in ((("--hints", str(bad)), "colour must"), (("--hints", str(tmp_path / "nope.json")),
                                                                   "could not be read")):
        r = run(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and message in r.stderr, r.stderr
