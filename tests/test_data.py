"""Dataset layouts, clear errors, the deterministic split, and the tf.data training pipeline."""

from __future__ import annotations

import dataclasses
import logging
import shutil

import numpy as np
import pytest
from PIL import Image

from pix2pix_demo import data as D
from pix2pix_demo.data import DataError, find_dataset, split, split_key
from pix2pix_demo.tasks import get_task

RED, BLUE = (230, 20, 20), (20, 20, 230)


def _solid(path, colour, size=(40, 30)):
    Image.new("RGB", size, colour).save(path)
    return path


# ------------------------------------------------------------------------------------------------ errors
def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        find_dataset(tmp_path / "nowhere")


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(DataError, match="No images found") as info:
        find_dataset(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert ".png" in str(info.value)  # says what it looked for


def test_empty_a_and_b(tmp_path):
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    with pytest.raises(DataError, match="hold no images"):
        find_dataset(tmp_path)


def test_mismatched_a_and_b_names(tmp_path):
    for sub in "AB":
        (tmp_path / sub).mkdir()
    _solid(tmp_path / "A" / "same.png", RED)
    _solid(tmp_path / "B" / "same.png", BLUE)
    _solid(tmp_path / "A" / "cat.png", RED)
    _solid(tmp_path / "B" / "dog.png", BLUE)
    with pytest.raises(DataError) as info:
        find_dataset(tmp_path)
    msg = str(info.value)
    assert "same names" in msg
    assert "cat.png" in msg and "dog.png" in msg
    assert "1 only in A" in msg and "1 only in B" in msg


def test_bad_direction(tmp_path):
    _solid(tmp_path / "x.png", RED)
    with pytest.raises(DataError, match="direction"):
        find_dataset(tmp_path, direction="sideways")


def test_only_image_files_are_listed(tmp_path):
    _solid(tmp_path / "a.png", RED)
    _solid(tmp_path / "b.JPG", RED)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub.png").mkdir()  # a folder with an image-like name
    ds = find_dataset(tmp_path)
    assert ds.layout == "images"
    assert [p.rsplit("/", 1)[-1] for p, _ in ds.items] == ["a.png", "b.JPG"]


# ------------------------------------------------------------------------------------------------ layouts
def test_ab_layout_reads_input_from_a_and_target_from_b(tmp_path):
    for sub in "AB":
        (tmp_path / sub).mkdir()
    for i in range(3):
        _solid(tmp_path / "A" / f"{i}.png", RED)
        _solid(tmp_path / "B" / f"{i}.png", BLUE, size=(80, 60))  # B at another size is resized to A's
    ds = find_dataset(tmp_path)
    assert ds.layout == "ab" and len(ds) == 3
    a, b = D.read_pair(ds, ds.items[0], get_task("day2night"), 64, np.random.default_rng(0))
    assert a.shape == b.shape == (30, 40, 3)
    assert a[5, 5].tolist() == list(RED)
    assert b[5, 5].tolist() == list(BLUE)


def _side_by_side(folder, n=3):
    folder.mkdir(exist_ok=True)
    for i in range(n):
        img = Image.new("RGB", (80, 40), RED)
        img.paste(Image.new("RGB", (40, 40), BLUE), (40, 0))
        img.save(folder / f"pair_{i}.png")
    return folder


@pytest.mark.parametrize("direction, first, second", [("AtoB", RED, BLUE), ("BtoA", BLUE, RED)])
def test_side_by_side_layout_and_direction(tmp_path, direction, first, second):
    ds = find_dataset(_side_by_side(tmp_path / "sbs"), direction=direction)
    assert ds.layout == "side-by-side" and ds.direction == direction
    a, b = D.read_pair(ds, ds.items[0], get_task("day2night"), 64, np.random.default_rng(0))
    assert a.shape == b.shape == (40, 40, 3)
    assert np.abs(a.astype(int) - first).max() <= 2
    assert np.abs(b.astype(int) - second).max() <= 2


def test_side_by_side_needs_a_direction_or_layout(tmp_path):
    folder = _side_by_side(tmp_path / "sbs")
    assert find_dataset(folder).layout == "images"
    assert find_dataset(folder, layout="side-by-side").layout == "side-by-side"


def test_images_layout_makes_pairs_with_the_task(emoji_dir):
    ds = find_dataset(emoji_dir)
    task = get_task("colorize")
    a, b = D.read_pair(ds, ds.items[0], task, 64, np.random.default_rng(0))
    x, y = D.encode_pair(task, ds, a, b, np.random.default_rng(0))
    assert x.shape[-1] == 1 and y.shape[-1] == 2
    assert np.allclose(x[..., 0], task.encode_input(task.make_pair(b, None)[0])[..., 0])


# -------------------------------------------------------------------------------------------------- split
VARIANT_NAMES = [
    "noto__waving-hand.png", "twemoji__waving-hand-dark-skin-tone.png", "fluent__waving-hand-light-skin-tone.png",
    "openmoji__waving-hand-medium-dark-skin-tone.png", "noto__thumbs-up-medium-skin-tone.png",
    "twemoji__thumbs-up.png", "noto__red-apple.png", "fluent__red-apple.png",
] + [f"{s}__icon-{i:02d}.png" for i in range(24) for s in ("noto", "twemoji")]


@pytest.fixture
def variant_dir(tmp_path):
    folder = tmp_path / "variants"
    folder.mkdir()
    for name in VARIANT_NAMES:
        (folder / name).write_bytes(b"")  # the split only looks at names
    return folder


def test_split_key_drops_set_prefix_and_skin_tone():
    assert split_key("x/noto__waving-hand.png") == split_key("twemoji__waving-hand-dark-skin-tone.png") == \
        "waving-hand"
    assert split_key("a/b/fluent__thumbs-up-medium-light-skin-tone.webp") == "thumbs-up"
    assert split_key("Noto__Red-Apple.PNG") == "red-apple"
    assert split_key("plain.jpg") == "plain"
    assert split_key("noto__hand.png") != split_key("noto__waving-hand.png")


def test_split_is_deterministic_and_keeps_variants_together(variant_dir):
    ds = find_dataset(variant_dir)
    train1, val1 = split(ds, 0.3)
    train2, val2 = split(find_dataset(variant_dir), 0.3)
    assert train1 == train2 and val1 == val2
    assert train1 and val1
    assert sorted(train1 + val1) == sorted(ds.items)
    assert not set(train1) & set(val1)
    side = {}
    for items, label in ((train1, "train"), (val1, "val")):
        for a, _ in items:
            key = split_key(a)
            assert side.setdefault(key, label) == label, f"{key} is on both sides of the split"
    assert len({split_key(a) for a, _ in ds.items}) < len(ds.items)  # there were groups to keep together


def test_split_fraction_is_roughly_respected(variant_dir):
    ds = find_dataset(variant_dir)
    _, val = split(ds, 0.5)
    assert 0.2 < len(val) / len(ds) < 0.8
    _, val0 = split(ds, 0.0)
    assert val0 == []


def test_split_always_has_a_validation_item_when_possible(tmp_path):
    for name in ("one.png", "two.png"):
        _solid(tmp_path / name, RED)
    train, val = split(find_dataset(tmp_path), 0.01)
    assert len(train) == 1 and len(val) == 1


# ------------------------------------------------------------------------------------------------ tf.data
@pytest.mark.parametrize("task_name, size", [("colorize", 32), ("sketch", 32), ("day2night", 32)])
def test_train_dataset_batches(task_name, size, emoji_dir, photo_dir):
    task = get_task(task_name)
    folder = emoji_dir if task_name == "sketch" else photo_dir
    ds = find_dataset(folder)
    train, _ = split(ds, 0.2)
    pipeline = D.train_dataset(task, ds, train, size, batch_size=3, seed=0)
    batches = list(pipeline.take(3).as_numpy_iterator())
    assert len(batches) == 3
    for x, y in batches:
        assert x.shape == (3, size, size, task.in_channels) and x.dtype == np.float32
        assert y.shape == (3, size, size, task.out_channels) and y.dtype == np.float32
        for arr in (x, y):
            assert np.isfinite(arr).all() and arr.min() >= -1.0 - 1e-5 and arr.max() <= 1.0 + 1e-5
    # Jitter and shuffling: consecutive batches are not copies of each other.
    assert not np.array_equal(batches[0][1], batches[1][1])


def test_train_dataset_is_reproducible_for_a_seed(photo_dir):
    task = get_task("day2night")
    ds = find_dataset(photo_dir)
    first = [next(iter(D.train_dataset(task, ds, ds.items, 32, 2, seed=5).as_numpy_iterator()))
             for _ in range(2)]
    np.testing.assert_array_equal(first[0][0], first[1][0])
    np.testing.assert_array_equal(first[0][1], first[1][1])


def test_corrupt_file_is_skipped_with_a_warning(tmp_path, photo_dir, caplog):
    folder = tmp_path / "mixed"
    shutil.copytree(photo_dir, folder)
    good = sorted(folder.iterdir())[0].read_bytes()
    (folder / "broken.jpg").write_bytes(good[: len(good) // 3])
    (folder / "fake.png").write_bytes(b"this is not a png")
    task = get_task("day2night")
    ds = find_dataset(folder)
    assert len(ds) == 10
    caplog.set_level(logging.WARNING, logger="pix2pix_demo")
    pipeline = D.train_dataset(task, ds, ds.items, 32, batch_size=4, seed=0)
    batches = list(pipeline.take(4).as_numpy_iterator())  # > 8 good images: the loop went round
    assert len(batches) == 4
    assert all(x.shape == (4, 32, 32, 3) for x, _ in batches)
    skipped = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "broken.jpg" in skipped and "fake.png" in skipped
    assert "skipping" in skipped


def test_validation_arrays_skip_corrupt_files_and_are_fixed(tmp_path, photo_dir, caplog):
    folder = tmp_path / "mixed"
    shutil.copytree(photo_dir, folder)
    (folder / "zz_fake.png").write_bytes(b"nope")
    task = get_task("night2day")
    ds = find_dataset(folder)
    caplog.set_level(logging.WARNING, logger="pix2pix_demo")
    x1, y1 = D.validation_arrays(task, ds, ds.items, 32)
    x2, y2 = D.validation_arrays(task, ds, ds.items, 32)
    assert x1.shape == (8, 32, 32, 3) and y1.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(x1, x2)  # the random night is seeded by the file name
    np.testing.assert_array_equal(y1, y2)
    assert any("zz_fake.png" in r.getMessage() for r in caplog.records)


def test_validation_arrays_with_nothing_readable(tmp_path):
    (tmp_path / "a.png").write_bytes(b"no")
    ds = find_dataset(tmp_path)
    with pytest.raises(DataError, match="could be read"):
        D.validation_arrays(get_task("colorize"), ds, ds.items, 32)


def test_random_crop_keeps_pairs_aligned(rng):
    task = get_task("day2night")
    a = rng.integers(0, 256, (50, 70, 3)).astype(np.uint8)
    for seed in range(5):
        ca, cb = D.random_crop(a, a.copy(), 32, task, np.random.default_rng(seed))
        assert ca.shape == cb.shape == (32, 32, 3)
        np.testing.assert_array_equal(ca, cb)  # the same crop, scale and mirror on both
    for jitter in ("paper", "inset"):
        task = dataclasses.replace(get_task("sketch"), jitter=jitter)
        ca, cb = D.random_crop(a[:40, :40], a[:40, :40].copy(), 32, task, np.random.default_rng(0))
        assert ca.shape == (32, 32, 3)
        np.testing.assert_array_equal(ca, cb)


def test_sketch_jitter_never_cuts_the_picture_at_the_edge():
    """A picture on paper with a 6 % margin (as fitted drawings have): the sketch jitter moves and shrinks it, but its
    border stays white in every crop, as at inference; the paper's jitter cuts it at the edge."""
    size, margin = 64, 4
    pic = np.full((size, size, 3), 255, np.uint8)
    pic[margin:-margin, margin:-margin] = (200, 30, 30)
    def coloured_border(im):
        return (im[[0, -1]] < 250).any() or (im[:, [0, -1]] < 250).any()

    sketch = get_task("sketch")
    assert sketch.jitter == "inset"
    crops = [D.random_crop(pic, pic.copy(), size, sketch, np.random.default_rng(i))[1] for i in range(60)]
    assert not any(coloured_border(c) for c in crops)
    assert len({int((c < 250).any(-1).sum()) for c in crops}) >= 5, "the picture's size varies"
    paper = dataclasses.replace(sketch, jitter="paper")
    cut = [coloured_border(D.random_crop(pic, pic.copy(), size, paper, np.random.default_rng(i))[1]) for i in range(60)]
    assert np.mean(cut) > 0.3


def test_training_order_mixes_the_sets():
    """Sorted by set, 8 sets of 1,000: the first 2,000 pictures a run reads (one shuffle buffer) come from every set,
    in the same order on every run and machine, each picture once."""
    items = [(f"set{s}__{i}.png",) * 2 for s in range(8) for i in range(1000)]
    order = D.shuffled(items, seed=0)
    assert sorted(order) == sorted(items) and order == D.shuffled(items, seed=0) != D.shuffled(items, seed=1)
    assert {p[0].split("__")[0] for p in order[:2000]} == {f"set{s}" for s in range(8)}
