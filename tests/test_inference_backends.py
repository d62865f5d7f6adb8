"""Which back-end the app runs each shipped generator with (``pix2pix_demo.ui.model_zoo.BACKENDS``).

TFLite only where it is faster (the MobileNet U-Net); the U-Net and the encoder-decoder run in TensorFlow, which
holds them anyway, and their interpreters' memory is saved (issue 14's memory budget). The library's own default
(``load(..., backend="auto")``) is unchanged: tested in test_inference_cli.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


@pytest.fixture(scope="module")
def sketch_only(tmp_path_factory):
    """A weights folder with the shipped sketch models only (they ship a model.tflite), for a quick ModelZoo."""
    dest = tmp_path_factory.mktemp("weights")
    shutil.copytree(WEIGHTS / "sketch", dest / "sketch")
    return dest


def test_the_app_uses_tflite_only_for_the_mobilenet_unet(sketch_only):
    from pix2pix_demo.ui.model_zoo import ModelZoo

    zoo = ModelZoo(sketch_only, warmup=False)
    zoo.warmed.wait(120)
    assert all((sketch_only / "sketch" / a / "model.tflite").exists() for a in ("unet", "encoder_decoder"))
    got = {arch: zoo.get("sketch", arch).backend for arch in ("unet", "encoder_decoder", "mobilenet_unet")}
    assert got == {"unet": "tf", "encoder_decoder": "tf", "mobilenet_unet": "tflite"}
    assert not zoo.problems.get(("sketch", "unet"))
