"""The pix2pix GAN: the settings of a training run (:class:`TrainConfig`, saved as ``run.json``), the conditional
GAN as a ``keras.Model`` whose ``train_step`` is the paper's objective, and :func:`build_gan`, which builds it from
those settings.

The objective is the paper's: ``G* = arg min_G max_D  L_cGAN(G, D) + λ·L1(G)`` with λ = 100 by default, both networks
trained with Adam(2e-4, β1 = 0.5). The step is written for any ``tf.distribute`` strategy: each replica averages its
losses over its share of the batch and divides by the replica count, so the summed gradients are the global mean.

What runs the steps (the run folder, callbacks, checkpoints, the cluster) is :mod:`pix2pix_demo.training`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import keras
import tensorflow as tf

from . import data as data_mod
from .models import GeneratorConfig, build_discriminator, build_generator
from .tasks import Task

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``run.json``)."""

    task: str
    arch: str = "unet"
    data: str = ""
    steps: int = 2000
    batch_size: int = 4
    image_size: int | None = None  # None: the task's default
    base_filters: int = 32
    max_filters: int = 256
    num_levels: int | None = None
    alpha: float = 0.35
    disc_filters: int = 64  # PatchGAN base width (64 in the paper); the shipped small models use 32
    lr: float = 2e-4
    beta_1: float = 0.5
    l1_lambda: float = 100.0
    val_fraction: float = 0.1
    direction: str | None = None
    layout: str = "auto"
    seed: int = 0
    checkpoint_every: int = 250
    sample_every: int = 250
    log_every: int = 25
    keep_checkpoints: int = 2
    bn_recalibration_batches: int = 100
    max_images: int | None = None
    weights_dtype: str = "float16"
    #: Keras dtype policy while training: "float32", or "mixed_bfloat16" (1.6× faster steps on an AVX-512 BF16 CPU
    #: in `benchmarks`, 10× slower on an AVX2-only one: see :func:`native_bfloat16`). Exported weights are the
    #: same either way.
    precision: str = "float32"
    #: Batch-normalise the innermost encoder layer, as the TensorFlow tutorial does (the paper's code does not).
    #: Runs saved before this setting existed used it, so a ``run.json`` without the key reads as True.
    bottleneck_norm: bool = False
    #: Colour hints (pix2pix_demo.hints): the generator also gets hint colours and their mask, sampled from the
    #: target during training; with no hints it is the automatic model. Sketch and colorize only.
    hints: bool = False
    #: The decoder's up-sampling (models.GeneratorConfig.upsampling): "transpose" (the paper's), "resize" or
    #: "resize_last".
    upsampling: str = "transpose"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Read a saved ``run.json``; settings this version no longer has are ignored with a warning."""
        known = {f.name for f in dataclasses.fields(cls)}
        if set(d) - known:
            log.warning("ignoring unknown run settings: %s", ", ".join(sorted(set(d) - known)))
        d = {"bottleneck_norm": True} | d
        return cls(**{k: v for k, v in d.items() if k in known})

    def generator_config(self, task: Task) -> GeneratorConfig:
        in_channels = data_mod.input_channels(task, self.hints)
        pad = None  # the task's blank input (for sketch: paper), and no hints
        if task.blank_input is not None and self.arch != "mobilenet_unet":
            pad = list(task.blank_input) + [0.0] * (in_channels - task.in_channels)
        return GeneratorConfig(arch=self.arch, image_size=self.image_size or task.image_size,
                               in_channels=in_channels, out_channels=task.out_channels,
                               base_filters=self.base_filters, max_filters=self.max_filters,
                               num_levels=self.num_levels, alpha=self.alpha, bottleneck_norm=self.bottleneck_norm,
                               input_pad=pad, upsampling=self.upsampling)


class Pix2Pix(keras.Model):
    """The conditional GAN: a generator G and a PatchGAN discriminator D, trained together."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, l1_lambda: float = 100.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_lambda = l1_lambda
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("g_loss", "g_gan", "l1", "d_loss")}

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Before fitting, Keras builds the model on a first batch that it averages over the replicas with
        # strategy.reduce, which under MultiWorkerMirroredStrategy takes one tensor, not an (input, target) pair.
        # The pair's shapes are known: build on those instead.
        if iterator is not None and isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            iterator, data_batch = None, (keras.KerasTensor((None, *self.generator.input_shape[1:])),
                                          keras.KerasTensor((None, *self.generator.output_shape[1:])))
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _mean(self, per_example):
        # Average over this replica's batch, then divide by the replica count: the gradients are summed across
        # replicas, which gives the mean over the global batch.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return tf.reduce_mean(per_example) / replicas

    def train_step(self, batch):
        x, y = batch
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            # Under a mixed-precision policy the networks compute in bfloat16/float16; losses stay in float32.
            fake = tf.cast(self.generator(x, training=True), y.dtype)
            d_real = tf.cast(self.discriminator([x, y], training=True), tf.float32)
            d_fake = tf.cast(self.discriminator([x, fake], training=True), tf.float32)
            g_gan = self._mean(self.bce(tf.ones_like(d_fake), d_fake))
            l1 = self._mean(tf.abs(y - fake))
            g_loss = g_gan + self.l1_lambda * l1
            d_loss = self._mean(self.bce(tf.ones_like(d_real), d_real)) + \
                self._mean(self.bce(tf.zeros_like(d_fake), d_fake))
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for name, value in (("g_loss", g_loss), ("g_gan", g_gan), ("l1", l1), ("d_loss", d_loss)):
            self.trackers[name].update_state(value * replicas)
        logs = {k: m.result() for k, m in self.trackers.items()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages a multi-worker step's outputs over all replicas along axis 0, which a scalar lacks.
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs


def native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16, AMX, or Arm's BF16); None when unknown.

    Without it, ``mixed_bfloat16`` is emulated: on an AVX2-only AMD EPYC a 128 px colorize step took 5.0 s against
    0.5 s in float32.
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    flags = {word for line in text.splitlines() if line.split(":")[0].strip() in ("flags", "Features")
             for word in line.partition(":")[2].split()}
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"}) if flags else None


def build_gan(cfg: TrainConfig, task: Task) -> Pix2Pix:
    """The generator and PatchGAN of ``cfg``, built under its precision policy, in a compiled :class:`Pix2Pix`.

    Call it inside a ``tf.distribute`` strategy's scope to train under that strategy.
    """
    keras.mixed_precision.set_global_policy(cfg.precision)  # layers keep the policy they were built with
    try:
        gcfg = cfg.generator_config(task)
        generator = build_generator(gcfg)
        discriminator = build_discriminator(gcfg.in_channels, task.out_channels, gcfg.image_size, cfg.disc_filters)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    gan = Pix2Pix(generator, discriminator, cfg.l1_lambda)
    gan.compile(keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1), keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1))
    return gan
