"""The callbacks of a training run, all keyed to the global step (the generator optimiser's iteration count): the
progress bar, TensorBoard scalars, sample grids with the validation L1, and checkpoints (every N steps and on
SIGINT/SIGTERM, agreed across the workers of a cluster).

:func:`pix2pix_demo.training.train` puts them together; they only need a compiled :class:`~pix2pix_demo.gan.Pix2Pix`.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from .evaluation import predict
from .progress import Progress
from .tasks import Task


class StepCallback(keras.callbacks.Callback):
    """Base for callbacks that act on the global step (the generator optimiser's iteration count)."""

    def __init__(self, every: int):
        super().__init__()
        self.every = every

    @property
    def step(self) -> int:
        return int(self.model.g_optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        if self.every and self.step % self.every == 0:
            self.act(logs or {})

    def act(self, logs):
        raise NotImplementedError


class ProgressBar(StepCallback):
    """One progress bar over the whole run, with the losses and an ETA (:class:`~pix2pix_demo.progress.Progress`)."""

    def __init__(self, total: int, every: int = 1):
        super().__init__(every)
        self.total = total
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = Progress(self.total, "step", initial=self.step)

    def act(self, logs):
        self.bar.update(self.step, logs)

    def on_train_end(self, logs=None):
        self.bar.close()


class TensorBoardLogger(StepCallback):
    """TensorBoard scalars every ``every`` steps (losses, learning rate, images/s)."""

    def __init__(self, logdir: Path, every: int, batch_size: int):
        super().__init__(every)
        self.writer = tf.summary.create_file_writer(str(logdir))
        self.batch_size = batch_size
        self.last = None

    def act(self, logs):
        now = time.perf_counter()
        with self.writer.as_default(step=self.step):
            for k, v in logs.items():
                tf.summary.scalar(f"train/{k}", float(v))
            if self.last is not None:
                tf.summary.scalar("train/images_per_second", self.every * self.batch_size / (now - self.last[1]))
        self.last = (self.step, now)
        self.writer.flush()


class SampleGrid(StepCallback):
    """Every ``every`` steps: a PNG grid of input | output | target rows, plus validation L1, in TensorBoard."""

    def __init__(self, task: Task, val_x, val_y, out_dir: Path, writer, every: int, rows: int = 4):
        super().__init__(every)
        self.task, self.x, self.y = task, val_x[:rows], val_y[:rows]
        self.val_x, self.val_y = val_x, val_y
        self.out_dir, self.writer = out_dir, writer

    def act(self, logs):
        grid = make_grid(self.task, self.x, predict(self.model.generator, self.x), self.y)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(self.out_dir / f"step_{self.step:06d}.png")
        val_l1 = float(np.mean(np.abs(predict(self.model.generator, self.val_x) - self.val_y)))
        with self.writer.as_default(step=self.step):
            tf.summary.image("samples", grid[None], max_outputs=1)
            tf.summary.scalar("val/l1", val_l1)
        self.writer.flush()


#: In a cluster, the workers compare notes on SIGINT/SIGTERM every this many steps (a one-number all-reduce).
STOP_CHECK_EVERY = 10


class Checkpointer(StepCallback):
    """Checkpoints every ``every`` steps and when SIGINT or SIGTERM arrives (then training stops cleanly).

    In a cluster (``agree``: :meth:`~pix2pix_demo.cluster.Collectives.any`) the workers must stop at the same step,
    or the one still training would wait for the others' gradients: a signal on any worker stops them all at the
    next multiple of :data:`STOP_CHECK_EVERY` steps, with a checkpoint.
    """

    def __init__(self, manager: tf.train.CheckpointManager, every: int, total: int, agree=None):
        super().__init__(every)
        self.manager, self.total, self.agree = manager, total, agree
        self.signal = None
        self._old = {}

    def on_train_begin(self, logs=None):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.signal = signum

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        stop = self.signal is not None
        if self.agree is not None:
            stop = self.step % STOP_CHECK_EVERY == 0 and self.agree(stop)
        if stop or self.step >= self.total:
            self.act(logs)
            self.model.stop_training = True

    def act(self, logs):
        self.manager.save(checkpoint_number=self.step)

    def on_train_end(self, logs=None):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def make_grid(task: Task, x, y_pred, y_true) -> np.ndarray:
    """Rows of input | output | target as one uint8 RGB image."""
    rows = []
    for xi, pi, ti in zip(x, y_pred, y_true):
        xin = np.clip((xi + 1.0) * 127.5, 0, 255).astype(np.uint8)
        xin = np.repeat(xin[..., :1], 3, -1) if xin.shape[-1] != 3 else xin
        rows.append(np.concatenate([xin, task.decode(xi, pi), task.decode(xi, ti)], 1))
    return np.concatenate(rows, 0)
