"""Model folders: ``config.json`` + ``model.safetensors`` + ``metrics.json``, the layout of ``weights/<task>/<arch>/``.

Weights are stored with safetensors (a format that cannot run code on load), optionally as float16 to halve the
size. Tensors are matched to the rebuilt model by position and shape, so Keras' auto-generated layer names never
cause a mismatch; any shape difference is reported clearly instead.

Damaged folders fail with a :class:`WeightsError` that names the file, before any native parser sees it:
``config.json`` is checked key by key, with bounds on every size (no config can ask for huge tensors), and it
records the size and sha256 of each weights file (``"files"``), checked before the file is opened. A truncated
``model.tflite`` would crash ``tf.lite.Interpreter`` (a segfault nothing can catch), and a safetensors file damaged
only in its data region would load and give black pictures; both are caught by their fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from .models import GeneratorConfig, build_generator

CONFIG, WEIGHTS, METRICS, TFLITE = "config.json", "model.safetensors", "metrics.json", "model.tflite"
FORMAT_VERSION = 1
MAX_JSON_BYTES = 1 << 20  # config.json and metrics.json are a few hundred bytes

#: Bounds on the generator settings a config.json may ask for: (min, max). The paper's U-Net is 256 px with 64..512
#: filters; these leave room for bigger models while keeping every tensor far below the memory of a laptop.
LIMITS = {"image_size": (16, 1024), "in_channels": (1, 8), "out_channels": (1, 8), "base_filters": (1, 512),
          "max_filters": (1, 1024), "dropout": (0.0, 0.99), "dropout_levels": (0, 10), "alpha": (0.1, 2.0)}
ACTIVATIONS = ("tanh", "sigmoid", "linear")

log = logging.getLogger(__name__)


class WeightsError(RuntimeError):
    """A model folder that cannot be loaded: missing, corrupt, or not matching its manifest."""


def export_model(folder, task, generator, gcfg: GeneratorConfig, metrics: dict | None = None,
                 train_config: dict | None = None, dtype: str = "float16") -> Path:
    """Write a servable model folder. Files are written to temporary names first, then renamed."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"{i:04d}": np.ascontiguousarray(np.asarray(w.numpy(), dtype=dtype))
               for i, w in enumerate(generator.weights)}
    meta = {f"{i:04d}": w.path for i, w in enumerate(generator.weights)}
    _atomic(folder / WEIGHTS, lambda p: save_file(tensors, str(p), metadata={"paths": json.dumps(meta)}))
    config = {"format": FORMAT_VERSION, "task": task.name, "generator": gcfg.to_dict(), "weights_dtype": dtype,
              "training": train_config or {}, "files": {WEIGHTS: fingerprint(folder / WEIGHTS)}}
    _atomic(folder / CONFIG, lambda p: p.write_text(json.dumps(config, indent=2)))
    if metrics is not None:
        _atomic(folder / METRICS, lambda p: p.write_text(json.dumps(metrics, indent=2)))
    return folder


def export_tflite(model, folder) -> Path:
    """Write ``model.tflite``: the same generator for the TFLite interpreter (XNNPACK), float16 weights.

    The shipped weights are float16 already, so this file holds exactly the same numbers as ``model.safetensors``.
    ``inference.load`` uses it when present (the benchmark measured it as fast as TensorFlow or faster on this
    CPU) and uses TensorFlow for skip ablations and feature maps, which the frozen graph cannot do.
    """
    import contextlib
    import io

    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the traced function's every capture
        data = converter.convert()
    path = Path(folder) / TFLITE
    _atomic(path, lambda p: p.write_bytes(data))
    record_fingerprint(folder, TFLITE)
    return path


def write_tflite(folder: Path) -> Path:
    """Convert the model in ``folder`` (as loaded from its float16 safetensors) to ``folder/model.tflite``.

    Its fingerprint goes into ``folder/config.json``: the interpreter opens no file without one.
    """
    model, _ = load_model(folder)
    return export_tflite(model, folder)


def _atomic(path: Path, write):
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


def _read_json(path: Path):
    """Parse a small JSON file; anything wrong with it is a WeightsError naming the file."""
    if path.stat().st_size > MAX_JSON_BYTES:
        raise WeightsError(f"{path} is corrupt: {path.stat().st_size} bytes, far more than a model's JSON file.")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WeightsError(f"{path} is corrupt: not valid JSON ({err}).") from None


def read_config(folder) -> dict:
    """``config.json``, checked: a known task, a generator within :data:`LIMITS`, well-formed fingerprints."""
    folder = Path(folder)
    path = folder / CONFIG
    if not path.exists():
        raise WeightsError(f"{folder} is not a model folder: {CONFIG} is missing.")
    config = _read_json(path)
    problem = config_problem(config)
    if problem:
        raise WeightsError(f"{path} is corrupt or not a pix2pix_demo config: {problem}.")
    return config


def config_problem(config) -> str | None:
    """What is wrong with a parsed ``config.json``, or None."""
    from .tasks import TASKS

    if not isinstance(config, dict):
        return f"expected a JSON object, found {type(config).__name__}"
    if config.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        return f"format {config['format']!r} is not supported (this version reads format {FORMAT_VERSION})"
    for key, kind in (("task", str), ("generator", dict)):
        if key not in config:
            return f"{key!r} is missing"
        if not isinstance(config[key], kind):
            return f"{key!r} must be a {kind.__name__}, not {config[key]!r}"
    if config["task"] not in TASKS:
        return f"unknown task {config['task']!r} (known: {', '.join(TASKS)})"
    g = config["generator"]
    for key, (low, high) in LIMITS.items():
        value = g.get(key, getattr(GeneratorConfig, key))
        number = (int, float) if isinstance(low, float) else int
        if not isinstance(value, number) or isinstance(value, bool) or not low <= value <= high:
            return f"generator {key} must be a number in {low}..{high}, not {value!r}"
    levels = g.get("num_levels")
    if levels is not None and (not isinstance(levels, int) or isinstance(levels, bool)):
        return f"generator num_levels must be an integer or null, not {levels!r}"
    if g.get("output_activation", "tanh") not in ACTIVATIONS:
        return f"generator output_activation must be one of {', '.join(ACTIVATIONS)}"
    if not isinstance(g.get("extra", {}), dict):
        return "generator extra must be an object"
    try:
        gcfg = GeneratorConfig.from_dict(g)
    except (TypeError, ValueError) as err:
        return f"invalid generator ({err})"
    task = TASKS[config["task"]]
    from .data import input_channels

    inputs = {task.in_channels} | ({input_channels(task, True)} if task.takes_hints else set())
    if gcfg.in_channels not in inputs or gcfg.out_channels != task.out_channels:
        hinted = f" ({input_channels(task, True)} with colour hints)" if task.takes_hints else ""
        return (f"a {task.name} model maps {task.in_channels} to {task.out_channels} channels{hinted}, but the "
                f"generator maps {gcfg.in_channels} to {gcfg.out_channels}")
    files = config.get("files", {})
    if not isinstance(files, dict):
        return "'files' must be an object"
    for name, fp in files.items():
        if not (isinstance(fp, dict) and isinstance(fp.get("size"), int) and isinstance(fp.get("sha256"), str)
                and len(fp["sha256"]) == 64):
            return f"the fingerprint of {name} must be {{\"size\": bytes, \"sha256\": 64 hex digits}}"
    return None


# ----------------------------------------------------------------------------------------- fingerprints
def fingerprint(path: Path) -> dict:
    """What ``config.json`` records of a weights file: its size and sha256."""
    return {"size": path.stat().st_size, "sha256": sha256(path)}


def record_fingerprint(folder, name: str) -> None:
    """Record ``folder/name``'s fingerprint in ``folder/config.json`` (for a file written after the config)."""
    path = Path(folder) / CONFIG
    if not path.exists():
        return
    config = _read_json(path)
    config.setdefault("files", {})[name] = fingerprint(Path(folder) / name)
    _atomic(path, lambda p: p.write_text(json.dumps(config, indent=2)))


def check_fingerprint(folder, name: str, config: dict) -> bool:
    """Check ``folder/name`` against its fingerprint in ``config`` before anything parses it.

    Returns False when the config records none (a folder written before fingerprints existed); raises a
    WeightsError naming the file when the file is missing, truncated, damaged or another model's.
    """
    expected = config.get("files", {}).get(name)
    if expected is None:
        return False
    path = Path(folder) / name
    if not path.is_file():
        raise WeightsError(f"{path} is missing ({CONFIG} records its fingerprint).")
    size = path.stat().st_size
    if size != expected["size"]:
        raise WeightsError(f"{path} is corrupt: {size} bytes, but {CONFIG} records {expected['size']} "
                           f"(truncated, or another model's file).")
    if sha256(path) != expected["sha256"]:
        raise WeightsError(f"{path} is corrupt or another model's file: its sha256 differs from the one in "
                           f"{CONFIG}.")
    return True


def load_model(folder):
    """Rebuild the generator from ``config.json`` and load ``model.safetensors``; return (model, config)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    config = read_config(folder)
    verify_manifest(folder)
    gcfg = GeneratorConfig.from_dict(config["generator"])
    model = build_generator(gcfg)
    path = folder / WEIGHTS
    if not path.exists():
        raise WeightsError(f"{folder} has no {WEIGHTS}.")
    if not check_fingerprint(folder, WEIGHTS, config):
        log.warning("%s has no fingerprint in %s: damage to its data cannot be detected", path, CONFIG)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{path} is corrupt and cannot be loaded ({err}).") from None
    if len(tensors) != len(model.weights):
        raise WeightsError(f"{path} holds {len(tensors)} tensors but the {gcfg.arch} in {CONFIG} has "
                           f"{len(model.weights)}: the files do not belong together.")
    for i, var in enumerate(model.weights):
        value = tensors.get(f"{i:04d}")
        if value is None or tuple(value.shape) != tuple(var.shape):
            raise WeightsError(f"{path}: tensor {i} ({var.path}) should have shape {tuple(var.shape)}, "
                               f"found {None if value is None else tuple(value.shape)}.")
        if not np.isfinite(value).all():  # damage in an unfingerprinted file's data region
            raise WeightsError(f"{path} is corrupt: tensor {i} ({var.path}) holds NaN or infinite values.")
        var.assign(value.astype(var.dtype))
    model.config = gcfg
    return model, config


def read_metrics(folder) -> dict:
    """``metrics.json`` as a dict ({} when there is none); a damaged file is a WeightsError naming it."""
    path = Path(folder) / METRICS
    if not path.exists():
        return {}
    metrics = _read_json(path)
    if not isinstance(metrics, dict):
        raise WeightsError(f"{path} is corrupt: expected a JSON object, found {type(metrics).__name__}.")
    return metrics


# --------------------------------------------------------------------------------------------- manifest
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_manifest(folder: Path) -> Path | None:
    for parent in [folder, *folder.parents][:4]:
        if (parent / "manifest.json").exists():
            return parent / "manifest.json"
    return None


def write_manifest(root) -> Path:
    """Write ``root/manifest.json`` with the sha256 of every file below ``root`` (except itself)."""
    root = Path(root)
    files = {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*"))
             if p.is_file() and p.name != "manifest.json"}
    path = root / "manifest.json"
    path.write_text(json.dumps({"sha256": files}, indent=2) + "\n")
    return path


def verify_manifest(folder) -> None:
    """If a manifest covers ``folder``, check the sha256 of its files; name every file that does not match."""
    folder = Path(folder).resolve()
    manifest = find_manifest(folder)
    if manifest is None:
        return
    root = manifest.parent
    expected = _read_json(manifest)
    if not isinstance(expected, dict) or not isinstance(expected.get("sha256", {}), dict):
        raise WeightsError(f"{manifest} is corrupt: expected {{\"sha256\": {{file: digest}}}}.")
    expected = expected.get("sha256", {})
    bad = []
    for p in sorted(folder.iterdir()):
        rel = str(p.relative_to(root))
        if p.is_file() and rel in expected and sha256(p) != expected[rel]:
            bad.append(rel)
    missing = [rel for rel in expected if (root / rel).parent == folder and not (root / rel).exists()]
    if bad or missing:
        parts = []
        if bad:
            parts.append(f"changed: {', '.join(bad)}")
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        raise WeightsError(f"Model files do not match {manifest} ({'; '.join(parts)}). Restore them with "
                           f"`git checkout -- {root}` or retrain.")
