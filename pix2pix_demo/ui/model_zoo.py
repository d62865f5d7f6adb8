"""The app's models: every ``weights_dir/<task>/<arch>/`` folder loaded once; what is missing is remembered."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from ..models import ARCHS
from ..tasks import TASKS

log = logging.getLogger(__name__)

ARCH_TITLES = {"encoder_decoder": "Encoder–decoder (no skips)", "unet": "U-Net (skips)",
               "mobilenet_unet": "MobileNet U-Net"}
#: The model a task's own tab uses: the first of these that is available.
PREFERRED = ("unet", "mobilenet_unet", "encoder_decoder")
#: The back-end (:func:`pix2pix_demo.inference.load`) the app runs each generator with; the others use "auto" (a
#: folder's ``model.tflite`` when it ships one, as the sketch models do). TFLite is used only where it is faster:
#: the MobileNet U-Net, 1.56× (benchmark section 6). The U-Net and the encoder-decoder run as fast in TensorFlow,
#: which holds them anyway (skip ablations, feature maps), while their TFLite interpreters took memory of their own
#: (weights, buffers and transposed-convolution scratch): the app's RSS with every model warmed up was 88 MB lower
#: with these two on TensorFlow.
BACKENDS = {"unet": "tf", "encoder_decoder": "tf"}


class ModelZoo:
    """Every model in ``weights_dir/<task>/<arch>/``, loaded once; what is missing is remembered, not fatal.

    The U-Nets, which the task tabs run, load before the UI is built. The compare view's other generators load in a
    background thread while the page is already served (``get`` waits for one that is still loading), and then
    every model is warmed up (its graph traced) so the first request is fast. ``warmed`` is set when all is done.
    """

    def __init__(self, weights_dir, warmup: bool = True, max_upload_pixels: int = 24_000_000):
        t0 = time.perf_counter()
        self.dir = Path(weights_dir).resolve()
        self.max_upload_pixels = max_upload_pixels
        self.translators = {}
        self.problems = {}
        self.warmed = threading.Event()
        self._pending: dict[tuple[str, str], threading.Event] = {}
        later = []
        for task in TASKS:
            for arch in ARCHS:
                folder = self.dir / task / arch
                if not (folder / "config.json").exists():
                    self.problems[task, arch] = f"no model in {folder}"
                elif arch != PREFERRED[0]:
                    self._pending[task, arch] = threading.Event()
                    later.append((task, arch, folder))
                else:
                    self._load(task, arch, folder)
        log.info("loaded %d models from %s in %.1f s%s", len(self.translators), self.dir, time.perf_counter() - t0,
                 f"; {len(later)} more load in the background" if later else "")

        def rest():
            t1 = time.perf_counter()
            for task, arch, folder in later:
                try:
                    self._load(task, arch, folder)
                finally:
                    self._pending[task, arch].set()
            if later:
                log.info("loaded %d more models in %.1f s", len(later), time.perf_counter() - t1)
            if warmup:
                self.warmup()
            self.warmed.set()

        if later or warmup:
            threading.Thread(target=rest, name="models", daemon=True).start()
        else:
            self.warmed.set()

    def _load(self, task, arch, folder):
        from ..inference import load

        try:
            self.translators[task, arch] = load(task, arch, folder, backend=BACKENDS.get(arch, "auto"))
        except Exception as err:  # a broken model folder must not stop the other tabs
            log.warning("Could not load %s/%s from %s: %s", task, arch, folder, err)
            self.problems[task, arch] = f"the model in {folder} could not be loaded ({err})"

    @property
    def empty(self) -> bool:
        """No model at all, loaded or loading."""
        return not self.translators and not self._pending

    def warmup(self):
        """Trace every model's tf.function (and the U-Nets' feature extractors) so the first request is fast."""
        t0 = time.perf_counter()
        tf_log = logging.getLogger("tensorflow")
        level = tf_log.level
        tf_log.setLevel(logging.ERROR)  # one trace per model is expected, not a "retracing" problem
        try:
            self._warmup()
        finally:
            tf_log.setLevel(level)
        log.info("warmed up %d models in %.1f s", len(self.translators), time.perf_counter() - t0)

    def _warmup(self):
        drawing = Image.new("RGB", (64, 64), "white")
        drawing.paste((0, 0, 0), (20, 20, 44, 24))
        photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8))
        for (task, arch), tr in list(self.translators.items()):
            try:
                tr(drawing if task == "sketch" else photo)
                if arch == "unet":
                    tr.features(drawing if task == "sketch" else photo)
            except Exception as err:
                log.warning("Warm-up of %s/%s failed: %s", task, arch, err)

    def get(self, task, arch):
        pending = self._pending.get((task, arch))
        if pending is not None:
            pending.wait()
        return self.translators.get((task, arch))

    def main(self, task):
        """The model of a task's own tab (U-Net first), or None."""
        for arch in PREFERRED:
            tr = self.get(task, arch)
            if tr is not None:
                return tr
        return None

    def require(self, task):
        tr = self.main(task)
        if tr is None:
            raise gr.Error(self.notice(task), print_exception=False)
        return tr

    def notice(self, task) -> str:
        t = TASKS[task]
        return (f"The {t.title} model is not available yet: there is no trained model in "
                f"{self.dir / task}. Train one with `python -m pix2pix_demo train --task {task} …` and copy its "
                f"model folder to {self.dir / task / 'unet'}, then restart the app.")

    def metrics(self, task, arch) -> dict:
        tr = self.get(task, arch)
        return tr.metrics if tr is not None else {}
