"""Held-out sources in the model zoo (``heldout.heldout_sets``, ``heldout.heldout_metrics``, the card's headline
table).

A tiny data folder in the ``data build`` layout: ``photos/`` and ``emoji/<set>/`` for training, ``heldout/photos/``,
``heldout/emoji/<set>/`` and ``heldout/clipart/<source>/<category>/`` held out. Tiny random models stand in for the
shipped generators (``app_fixtures.make_weights``). No network.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import make_weights
from conftest import write_photo_folder
from PIL import Image

from pix2pix_demo import heldout
from pix2pix_demo.card import heldout_section, write_card

pytest.importorskip("resvg_py")  # the emoji sets are rendered

SHAPES = ('<circle cx="8" cy="8" r="6" fill="{}" stroke="#222" stroke-width="1"/>',
          '<rect x="3" y="3" width="10" height="10" fill="{}" stroke="#222" stroke-width="1"/>',
          '<path d="M2 14 L8 2 L14 14 Z" fill="{}" stroke="#222" stroke-width="1"/>')
COLOURS = ("#e03030", "#30a040", "#3050e0", "#f0c020")


def _iconify_set(folder: Path, name: str, icons: int) -> None:
    (folder / name).mkdir(parents=True)
    body = {f"{name}-icon-{i}": {"body": SHAPES[i % 3].format(COLOURS[i % 4])} for i in range(icons)}
    (folder / name / "icons.json").write_text(json.dumps({"prefix": name, "width": 16, "height": 16, "icons": body}))
    (folder / name / "info.json").write_text(json.dumps({"name": name, "author": {"name": f"{name} artist"},
                                                         "license": {"spdx": "CC0-1.0"}}))


def _sources_tsv(folder: Path, source: str) -> None:
    with open(folder / "SOURCES.tsv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["file", "source", "license", "credit", "size"])
        for p in sorted(folder.glob("*.jpg")):
            with Image.open(p) as im:
                w.writerow([p.name, source, "CC0-1.0", "Someone", f"{im.width}x{im.height}"])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A data folder as ``data build`` lays it out, training and held-out sources apart."""
    root = tmp_path_factory.mktemp("built")
    write_photo_folder(root / "photos", n=8, seed=1)
    _sources_tsv(root / "photos", "Debian package train-pics 1.0")
    for photo in write_photo_folder(root / "heldout" / "photos", n=5, seed=7).iterdir():
        photo.rename(photo.with_name(photo.name.replace("photo_", "held_")))  # other pictures, other names
    _sources_tsv(root / "heldout" / "photos", "Debian package held-pics 2.0-1")
    _iconify_set(root / "emoji", "trainset", 6)
    _iconify_set(root / "heldout" / "emoji", "heldset", 4)
    clip = root / "heldout" / "clipart" / "clip" / "plants"
    clip.mkdir(parents=True)
    tree = Image.new("RGBA", (120, 60), (0, 0, 0, 0))
    tree.paste(Image.new("RGBA", (40, 40), (20, 160, 40, 255)), (40, 10))
    tree.save(clip / "tree.png")
    (root / "clipart" / "clip" / "animals").mkdir(parents=True)  # training clip art
    tree.save(root / "clipart" / "clip" / "animals" / "cat.png")
    return root


@pytest.fixture(scope="module")
def shared_like(tmp_path_factory) -> Path:
    """A data folder like ../shared/data: photos/ and emoji/, no heldout/."""
    root = tmp_path_factory.mktemp("shared_like")
    write_photo_folder(root / "photos", n=6, seed=3)
    _iconify_set(root / "emoji", "trainset", 3)
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return make_weights(tmp_path_factory.mktemp("weights"),
                        [("colorize", "unet"), ("colorize", "encoder_decoder"), ("sketch", "unet")])


# ------------------------------------------------------------------------------------------------ layout
def test_heldout_sets(built, tmp_path):
    cache = tmp_path / "cache"
    assert heldout.heldout_sets("colorize", built, cache) == {"photos: held-pics 2.0-1": built / "heldout" / "photos"}
    sets = heldout.heldout_sets("sketch", built, cache)
    assert sets == {"emoji: heldset": cache / "heldout" / "emoji256",
                    "clip-art: clip (plants)": cache / "heldout" / "clipart256"}
    assert sorted(p.name for p in sets["emoji: heldset"].iterdir()) == [f"heldset__heldset-icon-{i}.png"
                                                                        for i in range(4)]
    flat = Image.open(cache / "heldout" / "clipart256" / "clip__plants-tree.png")
    assert (flat.mode, flat.size) == ("RGB", (256, 256))  # on a white square, whatever its shape
    a = np.asarray(flat)
    assert (a[0, 0] == 255).all() and tuple(a[128, 128]) == (20, 160, 40)
    # a picture no longer held out leaves the cache too
    (cache / "heldout" / "clipart256" / "clip__animals-old.png").write_bytes(b"")
    heldout.heldout_sets("sketch", built, cache)
    assert [p.name for p in (cache / "heldout" / "clipart256").iterdir()] == ["clip__plants-tree.png"]


def test_training_never_sees_heldout(built, tmp_path):
    cache = tmp_path / "cache"
    (cache / "emoji256").mkdir(parents=True)
    (cache / "emoji256" / "heldset__heldset-icon-0.png").write_bytes(b"")  # left by an older build
    folder = heldout.task_data("sketch", built, cache)
    assert sorted(p.name.split("__")[0] for p in folder.iterdir()) == ["clip"] + ["trainset"] * 6
    assert (folder / "clip__animals-cat.png").resolve() == (cache / "clipart256" / "clip__animals-cat.png").resolve()
    assert heldout.task_data("colorize", built, cache) == built / "photos"
    for task in ("sketch", "colorize"):
        trained = {p.name for p in heldout.task_data(task, built, cache).iterdir()}
        for held in heldout.heldout_sets(task, built, cache).values():
            assert not trained & {p.name for p in held.iterdir() if p.suffix != ".tsv"}


def test_sketch_folder_follows_its_sources(built, tmp_path):
    """The sketch training folder links the rendered emoji and the clip art; a source that is gone leaves it."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    shutil.copytree(built / "emoji", root / "emoji")
    shutil.copytree(built / "clipart", root / "clipart")
    folder = heldout.task_data("sketch", root, cache)
    assert len(list(folder.iterdir())) == 7 and all(p.is_symlink() for p in folder.iterdir())
    shutil.rmtree(root / "clipart")
    assert sorted(p.name.split("__")[0] for p in heldout.task_data("sketch", root, cache).iterdir()) == \
        ["trainset"] * 6
    assert {Image.open(p).size for p in folder.iterdir()} == {(256, 256)}


def test_sketch_trains_on_training_line_art(built, tmp_path, monkeypatch):
    """A training artist's own line art, paired by icon name with its colour set: the sketch folder links each
    colour picture once more, under the line-art set's name, with the designer's drawing of it in ``drawings/``,
    and the sketch task reads that drawing instead of extracting edges; without line art the folder has none."""
    from pix2pix_demo import data as data_mod
    from pix2pix_demo.tasks import get_task

    root, cache = tmp_path / "data", tmp_path / "cache"
    shutil.copytree(built / "emoji", root / "emoji")
    _iconify_set(root / "lineart", "trainart", 3)
    art = json.loads((root / "lineart" / "trainart" / "icons.json").read_text())
    art["icons"] = {k.replace("trainart", "trainset"): v for k, v in art["icons"].items()}
    (root / "lineart" / "trainart" / "icons.json").write_text(json.dumps(art))
    monkeypatch.setattr(heldout, "_colour_set_of", {"trainart": "trainset"}.get)
    folder = heldout.task_data("sketch", root, cache)
    paired = [f"trainart__trainset-icon-{i}.png" for i in range(3)]
    assert sorted(p.name for p in (folder / "drawings").iterdir()) == paired
    assert sorted(p.name.split("__")[0] for p in folder.glob("*.png")) == ["trainart"] * 3 + ["trainset"] * 6
    pairs = cache / "lineart256" / "trainart"
    assert (folder / paired[0]).resolve() == (pairs / "B" / "trainset-icon-0.png").resolve()
    assert (folder / "drawings" / paired[0]).resolve() == (pairs / "A" / "trainset-icon-0.png").resolve()

    ds = data_mod.find_dataset(folder)
    item = next(i for i in ds.items if Path(i[1]).name == paired[0])
    assert item == (str(folder / "drawings" / paired[0]), str(folder / paired[0]))
    assert sum(a != b for a, b in ds.items) == 3  # the other pictures keep their extracted drawings
    a, b = data_mod.read_pair(ds, item, get_task("sketch"), 256, np.random.default_rng(0))
    assert (a == np.asarray(Image.open(pairs / "A" / "trainset-icon-0.png").convert("RGB"))).all()
    assert (b == np.asarray(Image.open(pairs / "B" / "trainset-icon-0.png").convert("RGB"))).all()
    a, b = data_mod.read_pair(ds, item, get_task("colorize"), 256, np.random.default_rng(0))
    assert (a == b).all()  # a task that does not draw ignores the drawings

    shutil.rmtree(root / "lineart")
    folder = heldout.task_data("sketch", root, cache)
    assert not (folder / "drawings").exists() and len(list(folder.iterdir())) == 6


def test_set_both_training_and_heldout_refused(built, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(built / "emoji", root / "emoji")
    shutil.copytree(built / "emoji", root / "heldout" / "emoji")
    with pytest.raises(ValueError, match="trainset is both a training and a held-out emoji set"):
        heldout.task_data("sketch", root, tmp_path / "cache")


def test_no_heldout_sources(shared_like, weights, tmp_path):
    assert heldout.heldout_sets("sketch", shared_like, tmp_path) == {}
    assert heldout.heldout_sets("colorize", shared_like, tmp_path) == {}
    assert heldout.heldout_metrics("colorize", weights, shared_like, tmp_path) == {}
    text = heldout_section({}, shared_like)
    assert "no held-out sources" in text and "python -m pix2pix_demo data build" in text


# ------------------------------------------------------------------------------------------------ metrics
def test_heldout_metrics_colorize(built, weights, tmp_path):
    from pix2pix_demo.evaluation import evaluate
    from pix2pix_demo.tasks import get_task

    got = heldout.heldout_metrics("colorize", weights, built, tmp_path)
    assert list(got) == ["photos: held-pics 2.0-1"]
    by_arch = got["photos: held-pics 2.0-1"]
    assert list(by_arch) == ["unet", "encoder_decoder"]
    for m in by_arch.values():
        assert m["n"] == 5 and 0 < m["l1"] < 1 and m["psnr_gray_baseline"] > 0
        assert 0 <= m["hue_accuracy"] <= 1 and 0 < m["hue_constant_tint"] <= 1
        assert m["output_std"] >= 0 and m["target_std"] > 0
    # The same numbers as `evaluate --split all` on the held-out folder.
    ref = evaluate(get_task("colorize"), built / "heldout" / "photos", ["unet", "encoder_decoder"],
                   {a: weights / "colorize" / a for a in ("unet", "encoder_decoder")}, split="all")
    for arch, m in ref.items():
        for key in ("l1", "psnr", "ssim", "hue_accuracy", "hue_constant_tint", "psnr_gray_baseline", "n"):
            assert by_arch[arch][key] == m[key], (arch, key)


def test_heldout_metrics_sketch_and_sample(built, weights, tmp_path):
    got = heldout.heldout_metrics("sketch", weights, built, tmp_path)
    assert list(got) == ["emoji: heldset", "clip-art: clip (plants)"]
    assert got["emoji: heldset"]["unet"]["n"] == 4 and got["clip-art: clip (plants)"]["unet"]["n"] == 1
    assert "psnr_gray_baseline" not in got["emoji: heldset"]["unet"]
    sample = heldout.heldout_metrics("sketch", weights, built, tmp_path, limit=2)["emoji: heldset"]["unet"]
    again = heldout.heldout_metrics("sketch", weights, built, tmp_path, limit=2)["emoji: heldset"]["unet"]
    assert sample["n"] == 2 and sample["l1"] == again["l1"]  # a fixed sample


def test_heldout_metrics_are_reused_for_the_same_weights_only(built, weights, tmp_path, monkeypatch):
    import shutil

    import pix2pix_demo.evaluation as evaluation

    cache = tmp_path / "cache"
    first = heldout.heldout_metrics("colorize", weights, built, cache)
    assert len(list((cache / heldout.METRICS_CACHE).glob("*.json"))) == 2  # one per model and held-out folder
    measure = evaluation.evaluate_arrays
    monkeypatch.setattr(evaluation, "evaluate_arrays", lambda *a, **k: pytest.fail("measured again"))
    assert heldout.heldout_metrics("colorize", weights, built, cache) == first
    other = make_weights(tmp_path / "other", [("colorize", "unet")], hints=True)  # another U-Net, the same ED
    shutil.copytree(weights / "colorize" / "encoder_decoder", other / "colorize" / "encoder_decoder")
    from pix2pix_demo.export import write_manifest

    write_manifest(other)
    calls = []
    monkeypatch.setattr(evaluation, "evaluate_arrays", lambda *a, **k: calls.append(1) or measure(*a, **k))
    again = heldout.heldout_metrics("colorize", other, built, cache)
    assert len(calls) == 1 and again["photos: held-pics 2.0-1"]["encoder_decoder"] == \
        first["photos: held-pics 2.0-1"]["encoder_decoder"]

    # the same weights and pictures, encoded otherwise (as a change to the canonical strokes would): measured again
    from pix2pix_demo import data as data_mod

    arrays = data_mod.validation_arrays
    monkeypatch.setattr(data_mod, "validation_arrays", lambda *a, **k: (lambda x, y: (x * 0.5, y))(*arrays(*a, **k)))
    calls.clear()
    heldout.heldout_metrics("colorize", other, built, cache)
    assert len(calls) == 2


def test_output_spread_sees_a_collapsed_generator():
    from pix2pix_demo.tasks import get_task

    class Constant:  # draws the same picture whatever the input
        input_shape = (None, 8, 8, 3)

        def __call__(self, x, training=False):
            import tensorflow as tf

            return tf.zeros_like(x) + 0.3

    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (6, 8, 8, 3)).astype(np.float32), rng.uniform(-1, 1, (6, 8, 8, 3)).astype(np.float32)
    spread = heldout.output_spread(get_task("day2night"), Constant(), x, y)
    assert spread["output_std"] == 0 and spread["target_std"] > 0.4


# ------------------------------------------------------------------------------------------------ model card
def _card_ready(weights_src: Path, dest: Path) -> Path:
    """Colorize models only (no TFLite conversion, no round trip), with the fields the card reads."""
    shutil.copytree(weights_src / "colorize", dest / "colorize")
    for folder in (dest / "colorize").iterdir():
        m = json.loads((folder / "metrics.json").read_text())
        (folder / "metrics.json").write_text(json.dumps({**m, "training_steps": 10, "wall_time_s": 60.0}))
        cfg = json.loads((folder / "config.json").read_text())
        cfg["training"] = {"task": "colorize", "arch": folder.name, "steps": 10}
        (folder / "config.json").write_text(json.dumps(cfg))
    return dest


def test_card_heldout_headline(built, shared_like, weights, tmp_path, monkeypatch):
    from pix2pix_demo import card as card_mod
    from pix2pix_demo.inference import load

    w = _card_ready(weights, tmp_path / "weights")
    card = write_card(w, built, tmp_path / "cache").read_text()
    head, rest = card.split("## Metrics on held-out sources (the headline)")[1].split(
        "## Metrics on the in-source validation split")
    assert "Held out (never trained on): **photos: held-pics 2.0-1**" in head
    assert "| colorize | photos: held-pics 2.0-1 | unet | 5 |" in head
    assert "| colorize | photos: held-pics 2.0-1 | encoder_decoder | 5 |" in head
    assert "| colorize | unet |" in rest  # the in-source table follows
    assert "| held-out photos | source | licence | credit |" in card and "held-pics 2.0-1" in card
    assert "| trainset | CC0-1.0 | trainset artist |" in card
    assert "| heldset (held out: evaluation only) | CC0-1.0 | heldset artist |" in card
    stored = json.loads((w / "colorize" / "unet" / "metrics.json").read_text())["heldout"]
    assert stored["photos: held-pics 2.0-1"]["n"] == 5 and "output_std" in stored["photos: held-pics 2.0-1"]
    m = stored["photos: held-pics 2.0-1"]
    row = next(ln for ln in head.splitlines() if ln.startswith("| colorize | photos: held-pics 2.0-1 | unet |"))
    header = next(ln for ln in head.splitlines() if ln.startswith("| task | held-out source |"))
    assert "| hue concentration (targets') | grid (targets') |" in header and row.count("|") == header.count("|")
    cells = (f"| {m['hue_concentration']:.2f} ({m['hue_constant_tint']:.2f}) | "
             f"{m['grid']:.1f} ({m['grid_target']:.1f}) |")
    assert cells in row
    load("colorize", "unet", w / "colorize" / "unet")  # the manifest was rewritten after metrics.json

    # Written again from a data folder without heldout/: the numbers stored by the last run stay the headline.
    card = write_card(w, shared_like, tmp_path / "cache").read_text()
    assert "| colorize | photos: held-pics 2.0-1 | unet | 5 |" in card

    # --tasks: only those tasks are measured again (here none is there); the others keep their stored numbers.
    monkeypatch.setattr(card_mod, "heldout_metrics", lambda task, *a, **k: pytest.fail(f"{task} measured again"))
    card = write_card(w, built, tmp_path / "cache", tasks=["sketch"]).read_text()
    assert "| colorize | photos: held-pics 2.0-1 | unet | 5 |" in card

    # Never measured: the card says how to get them.
    fresh = _card_ready(weights, tmp_path / "fresh")
    card = write_card(fresh, shared_like, tmp_path / "cache").read_text()
    assert "No held-out numbers yet" in card and "data build" in card
    assert card.index("No held-out numbers yet") < card.index("## Metrics on the in-source validation split")


def test_card_hints_curve_and_pictures(built, tmp_path):
    """Hint-aware generators: the card shows their hints curve on each held-out source, a contact sheet of held-out
    pictures and the hint strip (0, 1, 5, 20 hints), the pictures at their expected sizes."""
    from pix2pix_demo.sheets import STRIP_COUNTS

    src = make_weights(tmp_path / "hinted", [("colorize", "unet"), ("colorize", "encoder_decoder")], hints=True)
    w = _card_ready(src, tmp_path / "weights")
    card = write_card(w, built, tmp_path / "cache").read_text()
    curves = card.split("### Colour hints on held-out sources")[1].split("## Metrics on the in-source")[0]
    head = "| colorize: photos: held-pics 2.0-1 | " + " | ".join(f"{n} hints" for n in (0, 1, 2, 5, 10, 20)) + " |"
    assert head in curves and "| unet | " in curves and "| encoder_decoder | " in curves
    stored = json.loads((w / "colorize" / "unet" / "metrics.json").read_text())["heldout"]
    assert list(stored["photos: held-pics 2.0-1"]["hints"]) == ["0", "1", "2", "5", "10", "20"]
    # contact sheet: input | unet | encoder_decoder | target, 6 held-out pictures (5 exist); 128 px tiles
    assert Image.open(w / "colorize" / "contact_heldout.jpg").size == (4 * 128, 5 * 128)
    # hint strip: 2 pictures × (hint row + 2 generators) rows; 4 hint counts + the target
    assert Image.open(w / "colorize" / "hints.jpg").size == ((len(STRIP_COUNTS) + 1) * 128, 2 * 3 * 128)
    assert "(colorize/hints.jpg)" in card and "(colorize/contact_heldout.jpg)" in card


def test_heldout_line_art_pairs(built, weights, tmp_path, monkeypatch):
    """A held-out artist's own line art, paired by icon name with its colour set, is a held-out sketch source of
    (drawing, picture) pairs cropped alike; the drawings are the artist's, made canonical when encoded."""
    root = tmp_path / "data"
    shutil.copytree(built / "heldout" / "emoji", root / "heldout" / "emoji")
    _iconify_set(root / "heldout" / "lineart", "heldart", 3)  # heldart-icon-0..2; heldset has heldset-icon-0..3
    art = json.loads((root / "heldout" / "lineart" / "heldart" / "icons.json").read_text())
    art["icons"] = {k.replace("heldart", "heldset"): v for k, v in art["icons"].items()}
    (root / "heldout" / "lineart" / "heldart" / "icons.json").write_text(json.dumps(art))
    monkeypatch.setattr(heldout, "_colour_set_of", {"heldart": "heldset"}.get)
    sets = heldout.heldout_sets("sketch", root, tmp_path / "cache")
    folder = sets["line art: heldart → heldset"]
    assert sorted(p.name for p in (folder / "A").iterdir()) == sorted(p.name for p in (folder / "B").iterdir()) \
        == [f"heldset-icon-{i}.png" for i in range(3)]
    a, b = (np.asarray(Image.open(folder / s / "heldset-icon-0.png")) for s in ("A", "B"))
    assert a.shape[:2] == b.shape[:2] == (256, 256) and a.min() < 128 and (b[128, 128] != 255).any()
    got = heldout.heldout_metrics("sketch", weights, root, tmp_path / "cache")["line art: heldart → heldset"]
    assert got["unet"]["n"] == 3
    from pix2pix_demo.sources import SOURCES

    monkeypatch.undo()
    assert heldout._colour_set_of("emojione-monotone") == "emojione" == SOURCES["emojione-monotone"].pairs_with
