"""Pinned checks on the shipped models in weights/: they load, translate, match the manifest and fit the budget,
and on fixed validation inputs the U-Net beats the encoder-decoder (the paper's Table 2 finding)."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import drawing
from PIL import Image

from pix2pix_demo import data as data_mod
from pix2pix_demo.evaluation import with_hints
from pix2pix_demo.export import WeightsError, sha256, verify_manifest
from pix2pix_demo.inference import WEIGHTS_DIR, load
from pix2pix_demo.models import ARCHS
from pix2pix_demo.tasks import TASKS, get_task
from pix2pix_demo.training import TrainConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BUDGET_MB = 100
SHIPPED = [(t, a) for t in TASKS for a in ARCHS if (WEIGHTS_DIR / t / a / "config.json").exists()]
PAIRED_TASKS = [t for t in TASKS if {(t, "unet"), (t, "encoder_decoder")} <= set(SHIPPED)]


def test_weights_folder_ships_models_with_a_manifest_and_card():
    assert SHIPPED, f"no shipped model folders in {WEIGHTS_DIR}"
    manifest = json.loads((WEIGHTS_DIR / "manifest.json").read_text())["sha256"]
    for task, arch in SHIPPED:
        for name in ("config.json", "model.safetensors", "metrics.json"):
            assert f"{task}/{arch}/{name}" in manifest
    card = (WEIGHTS_DIR / "README.md").read_text()
    assert card.startswith("---\n") and "## Data and credits" in card


def test_every_file_matches_the_manifest():
    manifest = json.loads((WEIGHTS_DIR / "manifest.json").read_text())["sha256"]
    mismatched = [rel for rel, digest in manifest.items() if sha256(WEIGHTS_DIR / rel) != digest]
    assert mismatched == []


def test_weights_stay_under_budget():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*") if p.is_file())
    assert total < BUDGET_MB * 1e6, f"weights/ is {total / 1e6:.1f} MB"


@pytest.mark.parametrize("task,arch", SHIPPED, ids=[f"{t}-{a}" for t, a in SHIPPED])
def test_shipped_model_loads_and_translates(task, arch):
    tr = load(task, arch)
    assert tr.config.arch == arch and tr.task.name == task
    metrics = tr.metrics
    assert {"l1", "psnr", "ssim", "colourfulness", "params", "forward_ms", "training_steps"} <= set(metrics)
    assert metrics["params"] == tr.params
    rng = np.random.default_rng(0)
    if task == "sketch":
        img = Image.new("RGB", (300, 200), "white")
        arr = np.asarray(img).copy()
        arr[60:140, 100:104] = 0
        arr[60:64, 100:200] = 0
        img = Image.fromarray(arr)
    else:
        img = Image.fromarray(rng.integers(0, 255, (150, 230, 3), np.uint8))
    out = tr(img)
    assert out.size == img.size and out.mode == "RGB"
    assert np.asarray(out).std() > 1.0  # not a blank picture


def test_a_tampered_file_is_named(tmp_path):
    task, arch = SHIPPED[0]
    import shutil

    root = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, root)
    config = root / task / arch / "config.json"
    config.write_text(config.read_text() + " ")
    with pytest.raises(WeightsError, match=f"{task}/{arch}/config.json"):
        verify_manifest(root / task / arch)


def _validation_inputs(task: str, tmp_path: Path, n: int = 8):
    """Fixed validation items of the task's training data (never part of its training split)."""
    if not SHARED.exists():
        pytest.fail(f"the shared training data is not at {SHARED}; CI provides it as ../shared")
    if task == "sketch":
        from pix2pix_demo.emoji import iter_icons, render_svg

        folder = tmp_path / "emoji"
        folder.mkdir()
        for set_name in ("noto", "twemoji"):
            val = [(name, svg) for name, svg in iter_icons(SHARED / "emoji" / set_name)
                   if data_mod.in_validation(f"{set_name}__{name}.png")]
            for name, svg in val[::max(1, len(val) // (n // 2))][:n // 2]:  # spread over the set
                render_svg(svg, 256).save(folder / f"{set_name}__{name}.png")
        ds = data_mod.find_dataset(folder)
        return ds, ds.items
    ds = data_mod.find_dataset(SHARED / "photos")
    return ds, data_mod.split(ds, 0.1)[1][:n]


@pytest.mark.parametrize("task", PAIRED_TASKS)
def test_unet_beats_encoder_decoder_on_fixed_validation_inputs(task, tmp_path):
    ds, items = _validation_inputs(task, tmp_path)
    assert len(items) >= 4
    l1 = {}
    for arch in ("unet", "encoder_decoder"):
        tr = load(task, arch)
        x, y = data_mod.validation_arrays(get_task(task), ds, items, tr.config.image_size)
        if tr.takes_hints:  # a hint-aware model with no hints: its automatic mode
            x = with_hints(get_task(task), x, y, 0)
        l1[arch] = float(np.mean(np.abs(tr.forward(x) - y)))
    assert l1["unet"] < l1["encoder_decoder"], l1


@pytest.mark.parametrize("task", [t for t in PAIRED_TASKS if get_task(t).takes_hints])
def test_with_hints_the_unet_beats_the_encoder_decoder_by_a_clear_margin(task, tmp_path):
    """Ten hints sampled from each target (as `evaluate --hints 10`): the U-Net puts them where they belong, the
    encoder-decoder, with no skip connections, cannot (issue: by a clear margin; here at least 20 % lower L1)."""
    ds, items = _validation_inputs(task, tmp_path)
    l1 = {}
    for arch in ("unet", "encoder_decoder"):
        tr = load(task, arch)
        if not tr.takes_hints:
            pytest.skip(f"the shipped {task} models are not hint-aware")
        x, y = data_mod.validation_arrays(get_task(task), ds, items, tr.config.image_size)
        l1[arch] = float(np.mean(np.abs(tr.forward(with_hints(get_task(task), x, y, 10)) - y)))
    assert l1["unet"] < 0.8 * l1["encoder_decoder"], l1


def test_all_twelve_models_ship():
    missing = [f"{t}/{a}" for t in TASKS for a in ARCHS if (t, a) not in SHIPPED]
    assert missing == []


@pytest.mark.parametrize("arch", [a for t, a in SHIPPED if t == "sketch"])
def test_sketch_models_ship_a_matching_litert_file(arch):
    manifest = json.loads((WEIGHTS_DIR / "manifest.json").read_text())["sha256"]
    assert f"sketch/{arch}/model.tflite" in manifest
    lite, ref = load("sketch", arch), load("sketch", arch, backend="tf")
    assert lite.backend == "tflite" and ref.backend == "tf"
    img = Image.new("RGB", (200, 200), "white")
    arr = np.asarray(img).copy()
    arr[40:160, 60:64] = 0
    arr[40:44, 60:150] = 0
    hints = [(100, 100, (220, 30, 30))] if ref.takes_hints else None  # a hint-aware model: its hint channels too
    x, _ = ref.encode(Image.fromarray(arr), hints)
    assert np.abs(lite.forward(x[None]) - ref.forward(x[None])).mean() < 1e-2


#: Settings that only change logging, checkpoints or where the data lies, not the model.
_BOOKKEEPING = {"data", "checkpoint_every", "sample_every", "log_every", "keep_checkpoints", "extra"}


@pytest.mark.parametrize("task,arch", SHIPPED)
def test_shipped_model_follows_its_tasks_recipe_and_the_cards_command(task, arch):
    """Fair comparison: every generator of a task was trained with the task's one recipe (pix2pix_demo.zoo), and
    the exact command the model card prints asks for that recipe."""
    from pix2pix_demo.__main__ import build_parser, config_from_args
    from pix2pix_demo.zoo import command_line, recipe

    shipped = TrainConfig.from_dict(json.loads((WEIGHTS_DIR / task / arch / "config.json").read_text())["training"])
    want = recipe(task, arch, Path(shipped.data))
    argv = shlex.split(command_line(want, f"runs/{task}/{arch}"))
    assert argv[:3] == ["python", "-m", "pix2pix_demo"]
    from_card = config_from_args(build_parser().parse_args(argv[3:]))
    for f in dataclasses.fields(TrainConfig):
        if f.name not in _BOOKKEEPING:
            assert getattr(shipped, f.name) == getattr(want, f.name) == getattr(from_card, f.name), f.name


def _mouse_drawing(strokes, size: int = 512) -> Image.Image:
    """Polylines 4 px wide on white, as a mouse on the pad draws them."""
    from PIL import ImageDraw

    img = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(img)
    for stroke in strokes:
        pen.line(stroke, fill="black", width=4, joint="curve")
    return img


def _arc(cx, cy, r, a0=0.0, a1=360.0, n=48):
    return [(cx + r * np.cos(np.radians(a0 + (a1 - a0) * i / n)), cy + r * np.sin(np.radians(a0 + (a1 - a0) * i / n)))
            for i in range(n + 1)]


def _disc(cx, cy, r, size=512) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_mouse_drawings_come_back_with_their_parts_and_clean_borders():
    """The shipped sketch U-Net, no hints, on drawings as a mouse makes them: a smiley's eyes stand out from the face
    around them, a house's door from its walls, and the paper stays white along every border (the earlier U-Net
    gave eyes lost in a green patch and smears up to 34/255 along the left border)."""
    unet = load("sketch", "unet")
    smiley = _mouse_drawing([_arc(256, 256, 180), _arc(190, 200, 22), _arc(322, 200, 22),
                             _arc(256, 270, 100, 45, 135, 24)])
    house = drawing((512, 512), box=(110, 110, 402, 420))  # walls 110–402 × 234–420, door 227–285 × 327–420
    face, home = (np.asarray(unet(d), np.float32) for d in (smiley, house))
    for cx in (190, 322):
        eye, around = _disc(cx, 200, 14), _disc(cx, 200, 36) & ~_disc(cx, 200, 26)
        assert np.linalg.norm(face[eye].mean(0) - face[around].mean(0)) >= 25, f"the eye at x = {cx} is lost"
    door = np.zeros((512, 512), bool)
    door[330:410, 235:280] = True
    walls = np.zeros((512, 512), bool)
    walls[260:405, 145:210] = walls[260:405, 305:367] = True
    assert np.linalg.norm(home[door].mean(0) - home[walls].mean(0)) >= 40, "the door is lost in the walls"
    for out in (face, home):
        strips = [out[:, :16], out[:, -16:], out[:16], out[-16:]]
        assert max(float(np.abs(s - 255).mean()) for s in strips) <= 3.0, "a smear along a border"
