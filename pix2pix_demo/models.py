"""Generators and the PatchGAN discriminator, in one place for every task and every tab.

Three generators share the same pix2pix building blocks (Isola et al., 2017, appendix 6.1.1):

* ``"unet"``: encoder ``C64-C128-C256-C512-C512-C512-C512-C512`` and a mirrored decoder whose level *i*
  concatenates encoder level *n - i* (the skip connections);
* ``"encoder_decoder"``: exactly the same blocks, with the concatenations removed;
* ``"mobilenet_unet"``: a ``keras.applications.MobileNetV2`` encoder (``weights=None``; nothing is ever
  downloaded) whose intermediate activations feed the same pix2pix up-sampling blocks. A 1×1 convolution squeezes
  an input of other than 3 channels to 3, and MobileNetV2's largest feature map is at stride 2. ``input_skip``
  instead feeds MobileNetV2 every input channel and adds the input itself as a skip at full resolution. Measured on
  hint-aware colorize (held-out photos, the same recipe), it did not make the model use hints: 18.3 dB and hue
  0.46 with no hints, 18.5 dB and 0.55 with 10, against 19.1 / 0.49 and 19.1 / 0.61 without it. An option, off.

As in the authors' Torch code and its PyTorch port, the innermost encoder convolution (the 1×1 bottleneck at
full depth) is not batch-normalised, nor is the outermost. The TensorFlow tutorial normalises the bottleneck; that
variant is ``bottleneck_norm=True`` (models saved before the option existed load as it; every shipped model has
the paper's). In training, BatchNorm at 1×1
normalises each channel over the batch alone (4 numbers at batch size 4; at batch size 1 it outputs its beta
whatever the input), and the bottleneck is the encoder-decoder's only path from input to output.

Every skip connection passes through a :class:`SkipGate`, a multiplier that is 1 during training and that the
compare view sets to 0 to switch one level off at test time.

A model is fully described by a :class:`GeneratorConfig`, which is saved as JSON next to its weights, so loading
rebuilds exactly the architecture that was trained.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from dataclasses import dataclass, field

import keras
import tensorflow as tf
from keras import layers

ARCHS = ("unet", "encoder_decoder", "mobilenet_unet")
UPSAMPLING = ("transpose", "resize", "resize_last")

# MobileNetV2 activations used as skips, from the largest feature map (stride 2) to the bottleneck (stride 32).
MOBILENET_SKIPS = ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
                   "block_13_expand_relu", "block_16_project")


@dataclass
class GeneratorConfig:
    """Everything needed to rebuild a generator. Saved as ``config.json`` beside the weights."""

    arch: str = "unet"
    image_size: int = 256
    in_channels: int = 3
    out_channels: int = 3
    base_filters: int = 64
    max_filters: int = 512
    num_levels: int | None = None  # None: down-sample all the way to 1×1 (log2(image_size) levels)
    dropout: float = 0.5
    dropout_levels: int = 3  # dropout on the first (innermost) decoder blocks, as in the paper
    output_activation: str = "tanh"
    alpha: float = 1.0  # MobileNetV2 width multiplier
    #: BatchNorm on the innermost encoder convolution: False as in the paper's code, True as in the TensorFlow
    #: tutorial (and the shipped models). Pix2pix encoders only: MobileNetV2's bottleneck is its own.
    bottleneck_norm: bool = False
    #: MobileNet U-Net only: the input as a skip at full resolution, and the encoder reading every input channel.
    input_skip: bool = False
    #: Pix2pix encoders: the value of a blank input, per input channel, which the first convolution pads the picture
    #: with instead of zeros (None: zeros, as in the paper). For a drawing, zero is half ink: zero padding draws a
    #: gray frame round every input, a cue of where the border is that the sketch models turned into smears along
    #: one side (measured: the shipped sketch U-Net's left 8 px were 15 levels off white, 2.6 on the right; padded
    #: with paper, same weights, 4.5).
    input_pad: list[float] | None = None
    #: How the decoder doubles the resolution: "transpose", the paper's 4×4 stride-2 transposed convolution, or
    #: "resize", nearest-neighbour ×2 then a 3×3 convolution (Odena et al. 2016, "Deconvolution and Checkerboard
    #: Artifacts"): a transposed convolution whose kernel overlaps unevenly paints a periodic pattern; or
    #: "resize_last", transposed convolutions inside and a resize only for the last doubling, to full resolution.
    #: Measured on a sketch U-Net, "resize_last" moves the grid rather than removing it: the period-2 peak of its
    #: outputs' row spectra fell to the targets' level (0.22 vs 0.29; transposed 1.95), the period-4 one rose
    #: (2.62 vs the targets' 1.17; transposed 1.61).
    upsampling: str = "transpose"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"Unknown generator arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.image_size < 2 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of two, got {self.image_size}")
        if self.arch == "mobilenet_unet" and self.image_size < 32:
            raise ValueError("mobilenet_unet needs image_size >= 32 (MobileNetV2 has stride 32)")
        max_levels = int(math.log2(self.image_size))
        if self.num_levels is not None and not 1 <= self.num_levels <= max_levels:
            raise ValueError(f"num_levels must be in 1..{max_levels} for image_size {self.image_size}")
        if not isinstance(self.bottleneck_norm, bool):
            raise ValueError(f"bottleneck_norm must be true or false, not {self.bottleneck_norm!r}")
        if not isinstance(self.input_skip, bool):
            raise ValueError(f"input_skip must be true or false, not {self.input_skip!r}")
        if self.input_pad is not None:
            if self.arch == "mobilenet_unet" or len(self.input_pad) != self.in_channels:
                raise ValueError(f"input_pad needs one value per input channel ({self.in_channels}) and a pix2pix "
                                 "encoder (MobileNetV2 pads its own convolutions)")
            self.input_pad = [float(v) for v in self.input_pad]
        if self.upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {', '.join(UPSAMPLING)}, not {self.upsampling!r}")
        if self.input_skip and self.arch != "mobilenet_unet":
            raise ValueError("input_skip is for mobilenet_unet only (the U-Net's outermost skip is at stride 2 too, "
                             "but its encoder already reads the input at full resolution)")

    @property
    def levels(self) -> int:
        if self.arch == "mobilenet_unet":
            return len(MOBILENET_SKIPS)
        return self.num_levels or int(math.log2(self.image_size))

    @property
    def num_skips(self) -> int:
        """How many skip connections the generator has (0 for the encoder-decoder)."""
        mobilenet = len(MOBILENET_SKIPS) - 1 + self.input_skip
        return {"unet": self.levels - 1, "encoder_decoder": 0, "mobilenet_unet": mobilenet}[self.arch]

    def encoder_filters(self) -> list[int]:
        return [min(self.base_filters * 2**i, self.max_filters) for i in range(self.levels)]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown generator config keys: {sorted(unknown)}")
        # Configs saved before bottleneck_norm existed were built with the tutorial's.
        return cls(**{"bottleneck_norm": True, **d})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


@keras.saving.register_keras_serializable("pix2pix_demo")
class PadWith(layers.Layer):
    """Pads height and width by one pixel on each side with a value per channel (``"same"`` padding of a 4×4 stride-2
    convolution, with the picture's blank value instead of zeros). Pad, Sub and Add only: TFLite converts it."""

    def __init__(self, values, **kwargs):
        super().__init__(**kwargs)
        self.values = [float(v) for v in values]

    def call(self, x):
        v = tf.constant(self.values, x.dtype)
        return tf.pad(x - v, [[0, 0], [1, 1], [1, 1], [0, 0]]) + v

    def get_config(self):
        return {**super().get_config(), "values": self.values}


def downsample(filters: int, batchnorm: bool = True, name: str | None = None,
               pad: list[float] | None = None) -> keras.Sequential:
    """Encoder block: Conv 4×4 stride 2 → BatchNorm → LeakyReLU(0.2); ``pad``: pad with these values, not zeros."""
    conv = dict(strides=2, kernel_initializer=_init(), use_bias=False)
    block = ([PadWith(pad), layers.Conv2D(filters, 4, padding="valid", **conv)] if pad is not None
             else [layers.Conv2D(filters, 4, padding="same", **conv)])
    if batchnorm:
        block.append(layers.BatchNormalization())
    block.append(layers.LeakyReLU(0.2))
    return keras.Sequential(block, name=name)


def _doubling(filters: int, how: str = "transpose", **kwargs) -> list:
    """Layers that double the resolution: a 4×4 stride-2 transposed convolution, or ×2 nearest then a 3×3 one."""
    if how == "resize":
        return [layers.UpSampling2D(2, interpolation="nearest"),
                layers.Conv2D(filters, 3, padding="same", kernel_initializer=_init(), **kwargs)]
    return [layers.Conv2DTranspose(filters, 4, strides=2, padding="same", kernel_initializer=_init(), **kwargs)]


def upsample(filters: int, dropout: float = 0.0, name: str | None = None, how: str = "transpose") -> keras.Sequential:
    """Decoder block: ConvTranspose 4×4 stride 2 (or ×2 resize, Conv 3×3) → BatchNorm → Dropout → ReLU."""
    block = _doubling(filters, how, use_bias=False) + [layers.BatchNormalization()]
    if dropout:
        block.append(layers.Dropout(dropout))
    block.append(layers.ReLU())
    return keras.Sequential(block, name=name)


@keras.saving.register_keras_serializable("pix2pix_demo")
class SkipGate(layers.Layer):
    """Multiplies a skip connection by a gate: 1 = on (always in training), 0 = switched off.

    The gate is a plain ``tf.Variable``, not a Keras weight: it is a test-time switch, not part of the model, so it
    is neither saved nor counted in the parameters (the tutorial's U-Net keeps its 54,425,859).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._gate = [tf.Variable(1.0, trainable=False, name=f"{self.name}_gate")]  # a list hides it from Keras

    @property
    def gate(self) -> tf.Variable:
        return self._gate[0]

    def call(self, x):
        return x * tf.cast(self.gate, x.dtype)


def _decode(x, skips, cfg: GeneratorConfig, filters: list[int], input_skip=None):
    """Shared decoder: up-sample through ``filters``, concatenating ``skips`` (innermost first) when given.

    ``input_skip`` (the network's input) adds a last level: up-sample to full resolution, concatenate the input
    and map to the output with a 3×3 convolution instead of the final stride-2 transposed convolution.
    """
    inner = "resize" if cfg.upsampling == "resize" else "transpose"
    last = "resize" if cfg.upsampling in ("resize", "resize_last") else "transpose"
    for i, f in enumerate(filters):
        drop = cfg.dropout if i < cfg.dropout_levels else 0.0
        x = upsample(f, drop, name=f"dec_{len(filters) - i}", how=inner)(x)
        if skips is not None:
            skip = SkipGate(name=f"skip_{len(filters) - i}")(skips[i])
            x = layers.Concatenate(name=f"concat_{len(filters) - i}")([x, skip])
    if input_skip is None:
        if last == "resize":
            return keras.Sequential(_doubling(cfg.out_channels, "resize", activation=cfg.output_activation),
                                    name="output")(x)
        return layers.Conv2DTranspose(cfg.out_channels, 4, strides=2, padding="same", kernel_initializer=_init(),
                                      activation=cfg.output_activation, name="output")(x)
    x = upsample(cfg.base_filters, name="dec_0", how=last)(x)
    x = layers.Concatenate(name="concat_0")([x, SkipGate(name="skip_0")(input_skip)])
    return layers.Conv2D(cfg.out_channels, 3, padding="same", kernel_initializer=_init(),
                         activation=cfg.output_activation, name="output")(x)


def _pix2pix_generator(cfg: GeneratorConfig, inputs):
    filters = cfg.encoder_filters()
    x, feats = inputs, []
    for i, f in enumerate(filters):
        innermost = i == len(filters) - 1
        x = downsample(f, batchnorm=i > 0 and (cfg.bottleneck_norm or not innermost), name=f"enc_{i + 1}",
                       pad=cfg.input_pad if i == 0 else None)(x)
        feats.append(x)
    skips = list(reversed(feats[:-1])) if cfg.arch == "unet" else None
    return _decode(x, skips, cfg, list(reversed(filters[:-1])))


def _mobilenet_generator(cfg: GeneratorConfig, inputs):
    x = inputs
    if cfg.in_channels != 3 and not cfg.input_skip:  # the models trained before input_skip squeeze to 3 channels
        x = layers.Conv2D(3, 1, name="to_rgb")(x)
    with warnings.catch_warnings():  # "usually expects 1 or 3 input channels": true of ImageNet weights only
        warnings.filterwarnings("ignore", "This model usually expects", UserWarning)
        backbone = keras.applications.MobileNetV2(input_shape=(cfg.image_size, cfg.image_size, x.shape[-1]),
                                                  include_top=False, weights=None, alpha=cfg.alpha)
    encoder = keras.Model(backbone.input, [backbone.get_layer(n).output for n in MOBILENET_SKIPS], name="encoder")
    feats = encoder(x)
    filters = [min(cfg.base_filters * 2**i, cfg.max_filters) for i in range(len(MOBILENET_SKIPS) - 1)]
    return _decode(feats[-1], list(reversed(feats[:-1])), cfg, list(reversed(filters)),
                   input_skip=inputs if cfg.input_skip else None)


def build_generator(arch: str | GeneratorConfig = "unet", **kwargs) -> keras.Model:
    """Build a generator from an arch name and :class:`GeneratorConfig` fields, or from a config.

    >>> build_generator("unet", image_size=256).count_params()   # the paper's U-Net
    54423811
    >>> build_generator("unet", image_size=256, bottleneck_norm=True).count_params()   # the TensorFlow tutorial's
    54425859
    """
    cfg = arch if isinstance(arch, GeneratorConfig) else GeneratorConfig(arch=arch, **kwargs)
    inputs = keras.Input((cfg.image_size, cfg.image_size, cfg.in_channels), name="input")
    build = _mobilenet_generator if cfg.arch == "mobilenet_unet" else _pix2pix_generator
    model = keras.Model(inputs, build(cfg, inputs), name=cfg.arch)
    model.config = cfg
    return model


def skip_gates(model: keras.Model) -> list:
    """The gate variables of a generator's skip connections, outermost level first."""
    gates = [layer for layer in model.layers if isinstance(layer, SkipGate)]
    return [g.gate for g in sorted(gates, key=lambda g: int(g.name.rsplit("_", 1)[1]))]


def encoder_outputs(model: keras.Model) -> list:
    """Symbolic encoder feature maps, outermost (largest) first, for the feature-map view."""
    if model.config.arch == "mobilenet_unet":
        return _mobilenet_feature_tensors(model)
    return [model.get_layer(f"enc_{i + 1}").output for i in range(model.config.levels)]


def _mobilenet_feature_tensors(model):
    # The nested encoder is called once; its outputs on the outer graph feed the SkipGates and the decoder.
    gates = sorted((layer for layer in model.layers if isinstance(layer, SkipGate)),
                   key=lambda g: int(g.name.rsplit("_", 1)[1]))
    return [g.input for g in gates] + [model.get_layer("dec_4").input]


def build_discriminator(in_channels: int = 3, out_channels: int = 3, image_size: int | None = None,
                        base_filters: int = 64, n_layers: int = 3) -> keras.Model:
    """The conditional 70×70 PatchGAN: (input, target) concatenated → C64-C128-C256-C512 → 1-channel logits."""
    size = image_size
    inp = keras.Input((size, size, in_channels), name="input_image")
    tar = keras.Input((size, size, out_channels), name="target_image")
    x = layers.Concatenate()([inp, tar])
    for i in range(n_layers):
        x = downsample(min(base_filters * 2**i, base_filters * 8), batchnorm=i > 0, name=f"d_down_{i + 1}")(x)
    x = layers.ZeroPadding2D()(x)
    x = layers.Conv2D(min(base_filters * 2**n_layers, base_filters * 8), 4, kernel_initializer=_init(),
                      use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.ZeroPadding2D()(x)
    out = layers.Conv2D(1, 4, kernel_initializer=_init(), name="logits")(x)
    return keras.Model([inp, tar], out, name="patchgan")
