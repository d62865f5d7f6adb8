"""Model folders: ``config.json`` + ``model.safetensors`` + ``metrics.json``, the layout of ``weights/<task>/<arch>/``.

Weights are stored with safetensors (a format that cannot run code on load), optionally as float16 to halve the
size. Tensors are matched to the rebuilt model by position and shape, so Keras' auto-generated layer names never
cause a mismatch; any shape difference is reported clearly instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .models import GeneratorConfig, build_generator

CONFIG, WEIGHTS, METRICS, TFLITE = "config.json", "model.safetensors", "metrics.json", "model.tflite"
FORMAT_VERSION = 1


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
              "training": train_config or {}}
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
    return path


def _atomic(path: Path, write):
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


def read_config(folder) -> dict:
    folder = Path(folder)
    path = folder / CONFIG
    if not path.exists():
        raise WeightsError(f"{folder} is not a model folder: {CONFIG} is missing.")
    try:
        config = json.loads(path.read_text())
        GeneratorConfig.from_dict(config["generator"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise WeightsError(f"{path} is corrupt or not a pix2pix_demo config ({err}).") from None
    return config


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
        var.assign(value.astype(var.dtype))
    model.config = gcfg
    return model, config


def read_metrics(folder) -> dict:
    path = Path(folder) / METRICS
    return json.loads(path.read_text()) if path.exists() else {}


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
    expected = json.loads(manifest.read_text()).get("sha256", {})
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
