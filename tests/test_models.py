"""Generators and discriminator: fidelity to the paper, any depth, skip gates, config round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from pix2pix_demo.models import (GeneratorConfig, SkipGate, build_discriminator, build_generator,
                                 encoder_outputs, skip_gates)


def _gates(model):
    return [layer for layer in model.layers if isinstance(layer, SkipGate)]


def _norms(block):
    return [layer for layer in block.layers if isinstance(layer, keras.layers.BatchNormalization)]


# ---------------------------------------------------------------------------------------------- fidelity
def test_tutorial_unet_keeps_the_54_425_859_parameters():
    model = build_generator("unet", image_size=256, bottleneck_norm=True)  # the TensorFlow tutorial's
    assert model.count_params() == 54_425_859
    assert model.input_shape == (None, 256, 256, 3)
    assert model.output_shape == (None, 256, 256, 3)
    assert len(_gates(model)) == 7  # 8 encoder levels → 7 skips
    assert [model.get_layer(f"enc_{i}").output.shape[-1] for i in range(1, 9)] == \
        [64, 128, 256, 512, 512, 512, 512, 512]


@pytest.mark.parametrize("arch, tutorial", [("unet", 54_425_859), ("encoder_decoder", 39_087_363)])
def test_paper_variant_has_no_norm_at_the_bottleneck(arch, tutorial):
    """The authors' code normalises neither the outermost nor the innermost encoder conv: 2,048 fewer numbers
    (gamma, beta, moving mean and variance of 512 channels) than the tutorial's."""
    model = build_generator(arch, image_size=256)
    assert model.config.bottleneck_norm is False
    assert model.count_params() == tutorial - 4 * 512 == {"unet": 54_423_811, "encoder_decoder": 39_085_315}[arch]
    assert [len(_norms(model.get_layer(f"enc_{i}"))) for i in range(1, 9)] == [0, 1, 1, 1, 1, 1, 1, 0]
    tutorial_model = build_generator(arch, image_size=256, bottleneck_norm=True)
    assert [len(_norms(tutorial_model.get_layer(f"enc_{i}"))) for i in range(1, 9)] == [0, 1, 1, 1, 1, 1, 1, 1]


def test_paper_encoder_decoder_parameter_count_and_no_skips():
    model = build_generator("encoder_decoder", image_size=256, bottleneck_norm=True)
    assert model.count_params() == 39_087_363
    assert model.output_shape == (None, 256, 256, 3)
    assert _gates(model) == []
    assert skip_gates(model) == []
    assert not any("concat" in layer.name for layer in model.layers)


def test_paper_patchgan_parameter_count():
    d = build_discriminator(3, 3, 256)
    assert d.count_params() == 2_770_433
    # 70×70 PatchGAN on 256 px: a 30×30 grid of real/fake logits.
    assert d.output_shape == (None, 30, 30, 1)


def test_skip_gates_are_not_parameters():
    cfg = GeneratorConfig(arch="unet", image_size=32, base_filters=4, max_filters=16)
    model = build_generator(cfg)
    assert len(skip_gates(model)) == cfg.num_skips == 4
    assert all(float(g.numpy()) == 1.0 for g in skip_gates(model))
    trainable = {id(v) for v in model.trainable_variables}
    assert not any(id(g) in trainable for g in skip_gates(model))


# ------------------------------------------------------------------------------------------- any depth
@pytest.mark.parametrize("size, filters", [(128, {}), (512, dict(base_filters=4, max_filters=16)), (64, {})])
def test_unet_any_power_of_two_size(size, filters):
    model = build_generator("unet", image_size=size, **filters)
    assert model.output_shape == (None, size, size, 3)
    levels = int(np.log2(size))
    assert len(_gates(model)) == levels - 1
    # Down to 1×1 at the bottleneck.
    assert tuple(model.get_layer(f"enc_{levels}").output.shape[1:3]) == (1, 1)


def test_unet_output_runs_at_its_size():
    model = build_generator("unet", image_size=64, base_filters=4, max_filters=16)
    y = model(np.zeros((2, 64, 64, 3), np.float32), training=False).numpy()
    assert y.shape == (2, 64, 64, 3)
    assert np.all(np.abs(y) <= 1.0)  # tanh output


@pytest.mark.parametrize("arch", ["unet", "encoder_decoder"])
def test_num_levels_limits_the_depth(arch):
    cfg = GeneratorConfig(arch=arch, image_size=64, base_filters=4, max_filters=16, num_levels=3)
    model = build_generator(cfg)
    assert cfg.levels == 3
    assert model.output_shape == (None, 64, 64, 3)
    assert tuple(model.get_layer("enc_3").output.shape[1:3]) == (8, 8)  # 64 / 2**3
    with pytest.raises(ValueError):
        model.get_layer("enc_4")
    assert len(_gates(model)) == (2 if arch == "unet" else 0)
    assert len(encoder_outputs(model)) == 3


def test_num_levels_changes_the_parameter_count():
    deep = build_generator("unet", image_size=64, base_filters=4, max_filters=16)
    shallow = build_generator("unet", image_size=64, base_filters=4, max_filters=16, num_levels=3)
    assert shallow.count_params() < deep.count_params()


@pytest.mark.parametrize("in_channels, out_channels", [(1, 3), (3, 2)])
def test_mobilenet_unet_builds_for_any_channels(in_channels, out_channels):
    model = build_generator("mobilenet_unet", image_size=32, in_channels=in_channels, out_channels=out_channels,
                            base_filters=8, max_filters=16, alpha=0.35)
    assert model.name == "mobilenet_unet"
    assert model.input_shape == (None, 32, 32, in_channels)
    assert model.output_shape == (None, 32, 32, out_channels)
    assert len(skip_gates(model)) == 4
    y = model(np.zeros((1, 32, 32, in_channels), np.float32), training=False)
    assert y.shape == (1, 32, 32, out_channels)
    feats = encoder_outputs(model)
    assert [f.shape[1] for f in feats] == [16, 8, 4, 2, 1]


def test_discriminator_any_channels_and_size():
    d = build_discriminator(1, 2, 64, base_filters=8)
    assert d.input_shape == [(None, 64, 64, 1), (None, 64, 64, 2)]
    out = d([np.zeros((2, 64, 64, 1), np.float32), np.zeros((2, 64, 64, 2), np.float32)], training=False)
    assert out.shape[0] == 2 and out.shape[-1] == 1


# --------------------------------------------------------------------------------- the bottleneck's norm
def _encoder_decoder(bottleneck_norm):
    keras.utils.set_random_seed(0)
    return build_generator("encoder_decoder", image_size=64, base_filters=8, max_filters=64, dropout=0.0,
                           bottleneck_norm=bottleneck_norm)


def test_a_normalised_bottleneck_forgets_the_input_at_batch_size_one():
    """Training mode, one image a batch: the tutorial's 1×1 bottleneck is BatchNorm's beta whatever the input,
    so its encoder-decoder outputs one image for every input; the paper's follows the input."""
    x = np.random.default_rng(0).uniform(-1, 1, (4, 1, 64, 64, 3)).astype(np.float32)
    for bottleneck_norm in (True, False):
        model = _encoder_decoder(bottleneck_norm)
        spread = np.stack([model(xi, training=True).numpy() for xi in x]).std(axis=0).max()
        assert (spread == 0.0) if bottleneck_norm else (spread > 0.05), (bottleneck_norm, spread)


def test_paper_encoder_decoder_responds_to_its_input_in_inference_mode():
    model = _encoder_decoder(False)
    rng = np.random.default_rng(1)
    # Freshly initialised (N(0, 0.02) kernels, unit moving variance) the signal fades to ~1e-10 by the output;
    # recompute the BatchNorm statistics on a batch, as training does before export.
    norms = [n for block in model.layers if isinstance(block, keras.Sequential) for n in _norms(block)]
    for n in norms:
        n.momentum = 0.0
    model(rng.uniform(-1, 1, (8, 64, 64, 3)).astype(np.float32), training=True)
    y = model(rng.uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32), training=False).numpy()
    per_pixel = y.std(axis=0)  # across the 4 inputs: 0 everywhere for a constant output
    assert per_pixel.mean() > 0.01 and np.all(per_pixel > 0)
    assert np.abs(y).max() < 1.0


# -------------------------------------------------------------------------------------------- ablation
def test_switching_a_skip_off_changes_the_output_and_restoring_it_does_not():
    keras.utils.set_random_seed(3)
    model = build_generator("unet", image_size=32, base_filters=8, max_filters=16, dropout=0.0)
    rng = np.random.default_rng(0)
    # Re-draw the kernels wider than the N(0, 0.02) GAN init, so that even the innermost skip's contribution
    # reaches the output well above float noise.
    for w in model.trainable_weights:
        if len(w.shape) == 4:
            w.assign(rng.normal(0.0, 0.15, w.shape).astype(np.float32))
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    original = model(x, training=False).numpy()
    gates = skip_gates(model)
    assert len(gates) == 4
    for i, gate in enumerate(gates):
        gate.assign(0.0)
        ablated = model(x, training=False).numpy()
        assert np.abs(ablated - original).max() > 1e-2, f"switching skip {i} off changed nothing"
        gate.assign(1.0)
        np.testing.assert_allclose(model(x, training=False).numpy(), original, atol=1e-6)


def test_skip_gates_are_ordered_outermost_first():
    model = build_generator("unet", image_size=32, base_filters=4, max_filters=16)
    names = [layer.name for layer in sorted(_gates(model), key=lambda g: int(g.name.rsplit("_", 1)[1]))]
    assert names == ["skip_1", "skip_2", "skip_3", "skip_4"]
    # skip_1 carries the outermost (largest) encoder map.
    assert tuple(model.get_layer("skip_1").output.shape[1:3]) == (16, 16)
    assert tuple(model.get_layer("skip_4").output.shape[1:3]) == (2, 2)


# ---------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("cfg", [
    GeneratorConfig(arch="unet", image_size=64, in_channels=1, out_channels=2, base_filters=4, max_filters=16,
                    num_levels=4, dropout=0.3, dropout_levels=2),
    GeneratorConfig(arch="encoder_decoder", image_size=32, base_filters=8, max_filters=32),
    GeneratorConfig(arch="encoder_decoder", image_size=32, base_filters=8, max_filters=32, bottleneck_norm=True),
    GeneratorConfig(arch="mobilenet_unet", image_size=32, in_channels=1, base_filters=8, max_filters=16, alpha=0.35),
    GeneratorConfig(arch="unet", image_size=32, in_channels=2, base_filters=4, max_filters=16, input_pad=[1, 0]),
    GeneratorConfig(arch="unet", image_size=32, base_filters=4, max_filters=16, upsampling="resize"),
    GeneratorConfig(arch="mobilenet_unet", image_size=32, in_channels=2, base_filters=8, max_filters=16, alpha=0.35,
                    input_skip=True, upsampling="resize"),
    GeneratorConfig(arch="unet", image_size=32, base_filters=4, max_filters=16, upsampling="resize_last"),
    GeneratorConfig(arch="mobilenet_unet", image_size=32, in_channels=2, base_filters=8, max_filters=16, alpha=0.35,
                    input_skip=True, upsampling="resize_last"),
])
def test_config_json_round_trip_rebuilds_the_same_architecture(cfg):
    restored = GeneratorConfig.from_dict(json.loads(cfg.to_json()))
    assert restored == cfg
    a, b = build_generator(cfg), build_generator(restored)
    assert a.count_params() == b.count_params()
    assert [tuple(w.shape) for w in a.weights] == [tuple(w.shape) for w in b.weights]
    assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    assert b.config == restored


def test_config_differences_change_the_architecture():
    a = build_generator("unet", image_size=32, base_filters=4, max_filters=16)
    b = build_generator("unet", image_size=32, base_filters=8, max_filters=16)
    assert a.count_params() != b.count_params()


@pytest.mark.parametrize("kwargs, words", [
    (dict(arch="resnet"), "arch"),
    (dict(image_size=100), "power of two"),
    (dict(image_size=0), "power of two"),
    (dict(image_size=32, num_levels=6), "num_levels"),
    (dict(image_size=32, num_levels=0), "num_levels"),
    (dict(arch="mobilenet_unet", image_size=16), "32"),
    (dict(bottleneck_norm="no"), "bottleneck_norm"),
    (dict(input_skip=True), "mobilenet_unet only"),
    (dict(input_pad=[1.0, 0.0]), "one value per input channel"),
    (dict(arch="mobilenet_unet", image_size=32, input_pad=[1.0, 1.0, 1.0]), "MobileNetV2 pads its own"),
    (dict(arch="mobilenet_unet", image_size=32, input_skip=1), "input_skip"),
    (dict(upsampling="bilinear"), "upsampling"),
])
def test_invalid_configs_raise_value_error(kwargs, words):
    with pytest.raises(ValueError, match=words):
        GeneratorConfig(**kwargs)
    with pytest.raises(ValueError):
        build_generator(**kwargs) if "arch" in kwargs else build_generator("unet", **kwargs)


def _layer_kinds(model) -> list[str]:
    """The class names of a model's layers, nested models opened, in order."""
    found = []
    for layer in model.layers:
        found += _layer_kinds(layer) if hasattr(layer, "layers") else [type(layer).__name__]
    return found


@pytest.mark.parametrize("arch", ["unet", "encoder_decoder", "mobilenet_unet"])
def test_resize_upsampling_has_no_transposed_convolution_and_keeps_the_shapes(arch):
    """upsampling="resize": every doubling is ×2 nearest then a 3×3 convolution (no uneven kernel overlap)."""
    kw = dict(image_size=64, in_channels=2, base_filters=8, max_filters=32, alpha=0.35)
    paper, resized = build_generator(arch, **kw), build_generator(arch, upsampling="resize", **kw)

    assert "Conv2DTranspose" in _layer_kinds(paper) and "Conv2DTranspose" not in _layer_kinds(resized)
    assert _layer_kinds(resized).count("UpSampling2D") == _layer_kinds(paper).count("Conv2DTranspose")
    assert resized.output_shape == paper.output_shape == (None, 64, 64, 3)
    assert resized.count_params() < paper.count_params()  # 3×3 kernels instead of 4×4
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 2)).astype("float32")
    y = np.asarray(resized(x, training=False))
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0


@pytest.mark.parametrize("arch, input_skip", [("unet", False), ("encoder_decoder", False),
                                              ("mobilenet_unet", False), ("mobilenet_unet", True)])
def test_resize_last_resizes_only_the_doubling_to_full_resolution(arch, input_skip):
    """upsampling="resize_last": the last doubling is ×2 nearest then a 3×3 convolution, the others stay transposed."""
    kw = dict(image_size=64, in_channels=2, base_filters=8, max_filters=32, alpha=0.35, input_skip=input_skip)
    paper, last = build_generator(arch, **kw), build_generator(arch, upsampling="resize_last", **kw)
    assert _layer_kinds(last).count("UpSampling2D") == 1
    assert _layer_kinds(last).count("Conv2DTranspose") == _layer_kinds(paper).count("Conv2DTranspose") - 1
    up = next(layer for layer in last.layers if hasattr(layer, "layers") and "UpSampling2D" in _layer_kinds(layer))
    assert up.name == ("dec_0" if input_skip else "output")
    assert up.output.shape[1:3] == (64, 64)
    assert last.output_shape == paper.output_shape
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 2)).astype("float32")
    assert np.isfinite(np.asarray(last(x, training=False))).all()


def test_unknown_config_keys_are_refused():
    d = GeneratorConfig().to_dict()
    d["wings"] = 2
    with pytest.raises(ValueError, match="wings"):
        GeneratorConfig.from_dict(d)


def test_configs_saved_without_bottleneck_norm_rebuild_the_tutorials_bottleneck():
    """Models trained before the setting existed had a normalised bottleneck; the shipped ones say which they have:
    all twelve the paper's."""
    assert GeneratorConfig().bottleneck_norm is False  # new models: the paper's
    shipped = sorted((Path(__file__).resolve().parents[1] / "weights").glob("*/*/config.json"))
    saved = [json.loads(p.read_text())["generator"] for p in shipped]
    assert len(saved) == 12 and not any(GeneratorConfig.from_dict(g).bottleneck_norm for g in saved)
    old = {k: v for k, v in GeneratorConfig(arch="encoder_decoder", image_size=32, base_filters=4,
                                            max_filters=16).to_dict().items() if k != "bottleneck_norm"}
    model = build_generator(GeneratorConfig.from_dict(old))
    assert len(_norms(model.get_layer("enc_5"))) == 1
    assert model.count_params() == build_generator(**old, bottleneck_norm=True).count_params()


# ---------------------------------------------------------------------------------------------- MobileNet input skip
def test_mobilenet_unet_reads_every_input_channel_and_skips_the_input_at_full_resolution():
    """Colour hints are a few pixels each: squeezed to 3 channels by a 1×1 convolution and reaching the output
    only through stride-2 features, they barely got through (10 hints: +0.1 dB on held-out photos)."""
    cfg = GeneratorConfig(arch="mobilenet_unet", image_size=32, in_channels=4, out_channels=2, base_filters=8,
                          max_filters=16, alpha=0.35, input_skip=True)
    assert cfg.num_skips == 5
    model = build_generator(cfg)
    assert "to_rgb" not in [layer.name for layer in model.layers]
    assert model.get_layer("encoder").input.shape[-1] == 4
    assert model.get_layer("skip_0").input is model.input  # the input itself, a skip at 32×32
    assert tuple(model.get_layer("concat_0").output.shape[1:3]) == (32, 32)
    assert len(skip_gates(model)) == 5 and len(encoder_outputs(model)) == 6

    # Switching the input skip off changes the output: the decoder uses it.
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 4)).astype("float32")
    on = model(x, training=False).numpy()
    skip_gates(model)[0].assign(0.0)
    assert np.abs(model(x, training=False).numpy() - on).max() > 1e-4


def test_without_input_skip_the_mobilenet_squeezes_its_input_to_three_channels():
    """The default, and the shipped MobileNet U-Nets (trained before input_skip: their config.json has no key)."""
    assert GeneratorConfig(arch="mobilenet_unet").input_skip is False
    old = GeneratorConfig(arch="mobilenet_unet", image_size=32, in_channels=4, base_filters=8, max_filters=16,
                          alpha=0.35).to_dict()
    del old["input_skip"]
    cfg = GeneratorConfig.from_dict(old)
    assert cfg.input_skip is False and cfg.num_skips == 4
    model = build_generator(cfg)
    assert model.get_layer("to_rgb").output.shape[-1] == 3 and model.get_layer("encoder").input.shape[-1] == 3
    assert "skip_0" not in [layer.name for layer in model.layers]


# ---------------------------------------------------------------------------------------------- padding with paper
@pytest.mark.parametrize("arch", ["unet", "encoder_decoder"])
def test_a_blank_drawing_padded_with_paper_has_no_border_at_the_first_level(arch):
    """Zero padding is half ink to a drawing (paper is +1): the first level sees a frame round every input, which the
    sketch models turned into smears along one border. Padded with paper, a blank page is the same everywhere."""
    kw = dict(image_size=32, in_channels=2, base_filters=4, max_filters=16)
    padded, zeros = build_generator(arch, input_pad=[1.0, 0.0], **kw), build_generator(arch, **kw)
    assert padded.count_params() == zeros.count_params()
    zeros.set_weights(padded.get_weights())
    blank = np.concatenate([np.ones((1, 32, 32, 1)), np.zeros((1, 32, 32, 1))], -1).astype(np.float32)
    for model, flat in ((padded, True), (zeros, False)):
        level_1 = keras.Model(model.input, model.get_layer("enc_1").output)(blank).numpy()[0]
        spread = np.abs(level_1 - level_1[8, 8]).max()
        assert (spread < 1e-5) if flat else (spread > 1e-3), (arch, flat, spread)


def test_sketch_models_pad_with_paper_and_others_with_zeros():
    from pix2pix_demo.gan import TrainConfig
    from pix2pix_demo.tasks import get_task

    sketch = get_task("sketch")
    assert TrainConfig(task="sketch", arch="unet", hints=True).generator_config(sketch).input_pad == [1, 0, 0, 0, 0]
    assert TrainConfig(task="sketch", arch="encoder_decoder").generator_config(sketch).input_pad == [1.0]
    assert TrainConfig(task="sketch", arch="mobilenet_unet").generator_config(sketch).input_pad is None
    for task in ("colorize", "day2night", "night2day"):
        assert TrainConfig(task=task).generator_config(get_task(task)).input_pad is None
