"""Load a model and translate images of any size: ``pix2pix_demo.load(task, arch)(pil_image) → PIL.Image``.

Inference is deterministic (dropout off, BatchNorm in inference mode) and runs in a ``tf.function`` with a fixed
input signature, not ``model.predict`` (which adds 50–200 ms per call).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from . import imaging
from .export import CONFIG, TFLITE, WeightsError, check_fingerprint, load_model, read_metrics
from .models import encoder_outputs, skip_gates
from .tasks import get_task

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


BACKENDS = ("auto", "tf", "tflite")


def _interpreter(path: Path):
    """A TFLite interpreter (XNNPACK delegate, all cores) for ``path``.

    TensorFlow's own ``tf.lite.Interpreter``: the benchmark measured it faster here than the separate
    ``ai_edge_litert`` 2.3 package on the same file, and it needs no extra dependency. TensorFlow has announced
    that it moves to ``ai_edge_litert``; that is used when ``tf.lite`` no longer has an interpreter.
    """
    import os
    import warnings

    Interpreter = getattr(getattr(tf, "lite", None), "Interpreter", None)
    if Interpreter is None:
        from ai_edge_litert.interpreter import Interpreter
    with warnings.catch_warnings():  # the deprecation notice about the move to ai_edge_litert
        warnings.simplefilter("ignore")
        interp = Interpreter(model_path=str(path), num_threads=os.cpu_count() or 1)
    interp.allocate_tensors()
    return interp


def _fingerprinted(tflite: Path, config: dict, backend: str) -> bool:
    """Whether ``tflite`` matches its fingerprint in ``config.json`` (a WeightsError when it does not).

    The interpreter's native parser can crash the whole process on a damaged file, so a file without a fingerprint
    (written before they existed, or by hand) is never opened: ``"auto"`` then uses TensorFlow, ``"tflite"`` fails.
    """
    if check_fingerprint(tflite.parent, TFLITE, config):
        return True
    fix = f"rewrite it with `pix2pix_demo.zoo.write_tflite(Path({str(tflite.parent)!r}))`"
    if backend == "tflite":
        raise WeightsError(f"{tflite} has no fingerprint in {CONFIG}, so it cannot be checked and is not loaded; "
                           f"{fix}.")
    log.warning("%s has no fingerprint in %s; using TensorFlow instead (%s)", tflite, CONFIG, fix)
    return False


class Translator:
    """A loaded generator plus its task's pre- and post-processing. Thread-safe.

    ``backend``: ``"tflite"`` runs plain forward passes in the TFLite interpreter (the folder's ``model.tflite``);
    ``"tf"`` in a ``tf.function``. Skip ablations and feature maps always use TensorFlow.
    ``model.tflite`` reaches the interpreter only when it matches the fingerprint in ``config.json``.
    """

    def __init__(self, model, config: dict, folder: Path | None = None, backend: str = "auto"):
        self.model = model
        self.config = model.config
        self.task = get_task(config["task"])
        self.folder = folder
        self.metrics = read_metrics(folder) if folder else {}
        size, ch = self.config.image_size, self.config.in_channels
        spec = tf.TensorSpec([None, size, size, ch], tf.float32)
        self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        self._gates = skip_gates(model)
        self._lock = threading.Lock()  # guards the skip gates, which are shared state
        self._features = None
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self._interp = None
        tflite = folder / TFLITE if folder is not None else None
        if backend == "tflite" and not (tflite and tflite.exists()):
            raise WeightsError(f"{folder} has no {TFLITE}; write one with "
                               f"`pix2pix_demo.zoo.write_tflite(Path({str(folder)!r}))`.")
        if backend != "tf" and tflite is not None and tflite.exists() and _fingerprinted(tflite, config, backend):
            try:
                self._interp = _interpreter(tflite)
            except (ValueError, RuntimeError) as err:
                raise WeightsError(f"{tflite} cannot be loaded by the TFLite interpreter ({err}).") from None
            detail = self._interp.get_input_details()[0]
            if tuple(detail["shape"]) != (1, size, size, ch):
                raise WeightsError(f"{tflite} expects input {tuple(detail['shape'])}, not (1, {size}, {size}, {ch}).")
            self._tfl_in, self._tfl_out = detail["index"], self._interp.get_output_details()[0]["index"]

    @property
    def backend(self) -> str:
        return "tflite" if self._interp is not None else "tf"

    @property
    def arch(self) -> str:
        return self.config.arch

    @property
    def params(self) -> int:
        return int(self.model.count_params())

    @property
    def num_skips(self) -> int:
        return len(self._gates)

    def forward(self, x: np.ndarray, skips=None) -> np.ndarray:
        """Run the generator on an encoded batch. ``skips``: one bool per skip level (outermost first)."""
        x = np.asarray(x, np.float32)
        with self._lock:
            if (skips is None or all(skips)) and self._interp is not None:
                return np.concatenate([self._invoke(xi[None]) for xi in x]) if len(x) else self._forward(x).numpy()
            x = tf.convert_to_tensor(x)
            if skips is None or all(skips):
                return self._forward(x).numpy()
            if len(skips) != len(self._gates):
                raise ValueError(f"{self.arch} has {len(self._gates)} skip levels, got {len(skips)} switches")
            try:
                for gate, on in zip(self._gates, skips):
                    gate.assign(1.0 if on else 0.0)
                return self._forward(x).numpy()
            finally:
                for gate in self._gates:
                    gate.assign(1.0)

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._tfl_in, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._tfl_out).copy()

    @property
    def takes_hints(self) -> bool:
        """A hint-aware generator: its input carries colour hints after the task's own channels."""
        return self.task.hint_aware(self.config.in_channels)

    def encode(self, img: Image.Image, hints=None) -> tuple[np.ndarray, object]:
        """The model input for ``img`` (and the context ``finish`` needs); ``hints`` as :func:`hints.parse` takes.

        A hint-aware model gets the hint channels (empty without hints); any other model refuses hints.
        """
        from . import hints as hint_mod

        user = hint_mod.parse(hints)
        size = self.config.image_size
        x, ctx = self.task.prepare(img, size)
        if self.takes_hints:
            x = np.concatenate([x, self.task.user_hints(img, size, user, x)], -1)
        elif user:
            raise hint_mod.HintError(f"This {self.task.name} model ({self.arch}) takes no colour hints; it was "
                                     f"trained without them.")
        return x, ctx

    def __call__(self, image, skips=None, hints=None) -> Image.Image:
        """Translate ``image`` (PIL image, path, bytes or array) into a picture at the input's size.

        ``hints``: colour hints for a hint-aware model, ``[(x, y, (r, g, b)), …]`` or ``[{"x": X, "y": Y,
        "color": "#rrggbb"}, …]`` in ``image``'s own pixel coordinates.
        """
        img = imaging.open_image(image)
        x, ctx = self.encode(img, hints)
        return self.task.finish(self.forward(x[None], skips)[0], ctx)

    def timed(self, image, skips=None, hints=None) -> tuple[Image.Image, float]:
        t0 = time.perf_counter()
        out = self(image, skips, hints)
        return out, (time.perf_counter() - t0) * 1000

    def features(self, image, hints=None) -> list[np.ndarray]:
        """Encoder feature maps at each level (outermost first), each H×W×C for one image."""
        if self._features is None:
            import keras

            extractor = keras.Model(self.model.input, encoder_outputs(self.model))
            size, ch = self.config.image_size, self.config.in_channels
            self._features = tf.function(lambda x: extractor(x, training=False),
                                         input_signature=[tf.TensorSpec([None, size, size, ch], tf.float32)])
        x, _ = self.encode(imaging.open_image(image), hints)
        return [f.numpy()[0] for f in self._features(tf.constant(x[None]))]


def resolve_weights(task: str, arch: str, weights=None) -> Path:
    """Where a model lives: the shipped ``weights/<task>/<arch>``, a local folder, or ``hf://owner/repo[@rev]``."""
    if weights is None:
        folder = WEIGHTS_DIR / task / arch
        if not (folder / "config.json").exists():
            raise WeightsError(f"No shipped weights for {task}/{arch} in {WEIGHTS_DIR}. Train one with "
                               f"`python -m pix2pix_demo train --task {task} --arch {arch} --data DIR --out RUN` "
                               f"and pass --weights RUN/model.")
        return folder
    if str(weights).startswith("hf://"):
        from .hub import download

        folder = download(str(weights))
    else:
        folder = Path(weights)
        if not folder.exists():
            raise WeightsError(f"Weights folder {folder} does not exist.")
    for candidate in (folder, folder / task / arch, folder / "model"):
        if (candidate / "config.json").exists():
            return candidate
    raise WeightsError(f"{weights} holds no model: expected config.json in it, in {task}/{arch}/ or in model/.")


def load(task: str, arch: str = "unet", weights=None, backend: str = "auto") -> Translator:
    """Load a translator for ``task``: ``load("sketch")(Image.open("cat.png"))``.

    ``backend="auto"`` uses the folder's ``model.tflite`` (TFLite + XNNPACK) when there is one, else TensorFlow.
    """
    get_task(task)
    folder = resolve_weights(task, arch, weights)
    model, config = load_model(folder)
    if config["task"] != task:
        raise WeightsError(f"{folder} holds a {config['task']} model, not a {task} model.")
    return Translator(model, config, folder, backend)
