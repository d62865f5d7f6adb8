"""Damaged model folders: every file is checked before a native parser sees it, every failure is a WeightsError
that names the file and what is wrong, and the app keeps serving its other models.

The folders are copies of shipped models outside ``weights/``, so ``weights/manifest.json`` does not cover them:
only the folder's own checks protect it, as they protect ``hf://`` downloads and one's own trained folders.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import pix2pix_demo
from conftest import REPO, cli_env
from pix2pix_demo.export import CONFIG, METRICS, TFLITE, WEIGHTS, WeightsError, read_config, sha256
from pix2pix_demo.inference import WEIGHTS_DIR

ARCH = "mobilenet_unet"  # the smallest shipped sketch model; the sketch models ship a model.tflite
OTHER = "encoder_decoder"


@pytest.fixture
def folder(tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(WEIGHTS_DIR / "sketch" / ARCH, dst)
    return dst


def _edit_config(folder, edit):
    config = json.loads((folder / CONFIG).read_text())
    edit(config)
    (folder / CONFIG).write_text(json.dumps(config))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


# ------------------------------------------------------------------------------------------- model.tflite
TFLITE_DAMAGE = {
    "truncated": lambda data: data[: len(data) // 3],
    "garbage": lambda data: b"\xff\xfe not a flatbuffer \x80" * 1000,
    "bit-flipped header": lambda data: _flip(data, 4),  # the "TFL3" file identifier: same size, other sha256
    "another generator's": lambda data: (WEIGHTS_DIR / "sketch" / OTHER / TFLITE).read_bytes(),
}


def test_an_intact_copy_loads_with_tflite(folder):
    assert pix2pix_demo.load("sketch", ARCH, weights=folder).backend == "tflite"


def test_a_truncated_tflite_is_refused_without_crashing(folder):
    """tf.lite.Interpreter segfaults on this file: load in a child, so a crash fails the test, not pytest."""
    path = folder / TFLITE
    path.write_bytes(TFLITE_DAMAGE["truncated"](path.read_bytes()))
    code = textwrap.dedent(f"""
        import pix2pix_demo
        from pix2pix_demo.export import WeightsError
        try:
            pix2pix_demo.load("sketch", {ARCH!r}, weights={str(folder)!r})
        except WeightsError as err:
            print("WeightsError:", err)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cli_env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"exit code {result.returncode} (139 or -11: a segfault)\n{result.stderr[-2000:]}"
    assert "WeightsError:" in result.stdout and f"{path} is corrupt" in result.stdout, result.stdout


@pytest.mark.parametrize("damage", ["garbage", "bit-flipped header", "another generator's"])
def test_a_damaged_tflite_is_named(folder, damage):
    path = folder / TFLITE
    path.write_bytes(TFLITE_DAMAGE[damage](path.read_bytes()))
    with pytest.raises(WeightsError, match="corrupt") as info:
        pix2pix_demo.load("sketch", ARCH, weights=folder)
    assert str(path) in str(info.value)


def test_a_tflite_without_fingerprint_never_reaches_the_interpreter(folder, caplog):
    """An older or foreign folder: TensorFlow serves the model from its safetensors; backend="tflite" refuses."""
    (folder / TFLITE).write_bytes(TFLITE_DAMAGE["garbage"](b""))  # would raise inside the interpreter if opened
    _edit_config(folder, lambda c: c["files"].pop(TFLITE))
    tr = pix2pix_demo.load("sketch", ARCH, weights=folder)
    assert tr.backend == "tf"
    assert "model.tflite has no fingerprint" in caplog.text
    assert np.asarray(tr(Image.new("RGB", (40, 30), "white"))).shape == (30, 40, 3)
    with pytest.raises(WeightsError, match=f"{TFLITE} has no fingerprint in {CONFIG}") as info:
        pix2pix_demo.load("sketch", ARCH, weights=folder, backend="tflite")
    assert str(folder / TFLITE) in str(info.value)


# -------------------------------------------------------------------------------------- model.safetensors
def _data_start(path) -> int:
    """Where a safetensors file's tensor data begins: after the 8-byte header length and the JSON header."""
    with open(path, "rb") as f:
        return 8 + struct.unpack("<Q", f.read(8))[0]


def test_safetensors_damaged_only_in_its_data_region(folder):
    """Zeroed bytes are finite numbers: the file parses and would give a wrong (black) picture."""
    path = folder / WEIGHTS
    data = bytearray(path.read_bytes())
    start = _data_start(path)
    data[start + 1000:start + 9000] = bytes(8000)
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 differs") as info:
        pix2pix_demo.load("sketch", ARCH, weights=folder, backend="tf")
    assert str(path) in str(info.value)


def test_unfingerprinted_safetensors_with_nan_is_refused(folder):
    """Without a fingerprint (an older folder), damage that makes NaN or infinite weights is still caught."""
    path = folder / WEIGHTS
    data = bytearray(path.read_bytes())
    start = _data_start(path)
    data[start:start + 64] = b"\xff" * 64  # float16 0xFFFF is NaN
    path.write_bytes(bytes(data))
    _edit_config(folder, lambda c: c.pop("files"))
    with pytest.raises(WeightsError, match="NaN or infinite") as info:
        pix2pix_demo.load("sketch", ARCH, weights=folder, backend="tf")
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------------------------- config.json
def _set_generator(key, value):
    return lambda c: c["generator"].__setitem__(key, value)


CONFIG_DAMAGE = {
    "no task": (lambda c: c.pop("task"), "'task' is missing"),
    "unknown task": (lambda c: c.__setitem__("task", "paint"), "unknown task 'paint'"),
    "generator not an object": (lambda c: c.__setitem__("generator", [1, 2]), "'generator' must be a dict"),
    "base_filters=65536": (_set_generator("base_filters", 65536), "base_filters must be a number in 1..512"),
    "max_filters=1e9": (_set_generator("max_filters", 10**9), "max_filters must be a number in 1..1024"),
    "huge image_size": (_set_generator("image_size", 1 << 20), "image_size must be a number in 16..1024"),
    "image_size a string": (_set_generator("image_size", "256"), "image_size must be a number"),
    "many channels": (_set_generator("in_channels", 4096), "in_channels must be a number in 1..8"),
    "alpha=100": (_set_generator("alpha", 100.0), "alpha must be a number in 0.1..2.0"),
    "dropout=1": (_set_generator("dropout", 1.0), "dropout must be a number in 0.0..0.99"),
    "unknown activation": (_set_generator("output_activation", "softmax"), "output_activation must be one of"),
    "unknown key": (_set_generator("depth", 3), "Unknown generator config keys"),
    "channels of another task": (_set_generator("out_channels", 2), "a sketch model maps 1 to 3 channels"),
    "bad fingerprint": (lambda c: c["files"].__setitem__(WEIGHTS, "abc"), "fingerprint of model.safetensors"),
    "newer format": (lambda c: c.__setitem__("format", 99), "format 99 is not supported"),
}


@pytest.mark.parametrize("damage", CONFIG_DAMAGE)
def test_a_config_out_of_bounds_or_incomplete_is_named(folder, damage):
    edit, problem = CONFIG_DAMAGE[damage]
    _edit_config(folder, edit)
    with pytest.raises(WeightsError) as info:
        pix2pix_demo.load("sketch", ARCH, weights=folder)
    msg = str(info.value)
    assert str(folder / CONFIG) in msg and problem in msg, msg


@pytest.mark.parametrize("content", [b"[1, 2]", b"\xff\xfe\x00garbage", b"{\"task\": "])
def test_an_unparsable_config_is_named(folder, content):
    (folder / CONFIG).write_bytes(content)
    with pytest.raises(WeightsError, match="is corrupt") as info:
        read_config(folder)
    assert str(folder / CONFIG) in str(info.value)


# ------------------------------------------------------------------------------------------- metrics.json
@pytest.mark.parametrize("content", [b"{\"l1\": 0.1,", b"\x00\xff" * 50, b"[0.1]"])
def test_broken_metrics_are_named(folder, content):
    (folder / METRICS).write_bytes(content)
    with pytest.raises(WeightsError, match="is corrupt") as info:
        pix2pix_demo.load("sketch", ARCH, weights=folder)
    assert str(folder / METRICS) in str(info.value)


# -------------------------------------------------------------------------------------------------- export
def test_export_records_fingerprints_that_load_checks(tmp_path):
    from pix2pix_demo.export import export_model, export_tflite, load_model
    from pix2pix_demo.models import GeneratorConfig, build_generator
    from pix2pix_demo.tasks import get_task

    gcfg = GeneratorConfig(arch="encoder_decoder", image_size=32, in_channels=1, base_filters=4, max_filters=8)
    model = build_generator(gcfg)
    folder = export_model(tmp_path / "m", get_task("sketch"), model, gcfg, {"l1": 0.1})
    export_tflite(model, folder)
    files = read_config(folder)["files"]
    for name in (WEIGHTS, TFLITE):
        assert files[name] == {"size": (folder / name).stat().st_size, "sha256": sha256(folder / name)}
    assert pix2pix_demo.load("sketch", "encoder_decoder", weights=folder).backend == "tflite"
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(_flip(data, len(data) - 1))
    with pytest.raises(WeightsError, match="model.safetensors is corrupt"):
        load_model(folder)


# ----------------------------------------------------------------------------------------------------- app
def test_the_app_serves_the_other_models_when_one_folder_is_damaged(tmp_path):
    """The MobileNet U-Net's TFLite file is the one the app runs (ModelZoo.BACKENDS): another generator's there is
    named, and the other models are served."""
    from pix2pix_demo.ui import ModelZoo

    root = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR / "colorize" / "unet", root / "colorize" / "unet")
    shutil.copytree(WEIGHTS_DIR / "sketch" / ARCH, root / "sketch" / ARCH)
    shutil.copy(WEIGHTS_DIR / "sketch" / OTHER / TFLITE, root / "sketch" / ARCH / TFLITE)  # another generator's
    zoo = ModelZoo(root, warmup=False)
    assert zoo.warmed.wait(120)  # the generators other than the U-Nets load in the background
    assert ("sketch", ARCH) not in zoo.translators
    assert str(root.resolve() / "sketch" / ARCH / TFLITE) in zoo.problems["sketch", ARCH]
    colorize = zoo.translators["colorize", "unet"]
    out = colorize(Image.new("RGB", (48, 32), (120, 120, 120)))
    assert out.size == (48, 32)
