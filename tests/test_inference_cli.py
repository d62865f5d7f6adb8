"""Inference with the session model: any input, the predict/evaluate CLI, broken weights, the Hub."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import pix2pix_demo
from conftest import REPO, cli_env
from pix2pix_demo.export import WeightsError, write_manifest

TASK = "sketch"


@pytest.fixture(scope="module")
def translator(trained_model):
    return pix2pix_demo.load(TASK, "unet", weights=trained_model)


def _drawing(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    r = max(1, min(w, h) // 3)
    ImageDraw.Draw(img).ellipse((w // 2 - r, h // 2 - r, w // 2 + r, h // 2 + r), outline=(0, 0, 0),
                                width=max(1, r // 8))
    return img


def _run_cli(*args, env=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "pix2pix_demo", *map(str, args)], cwd=REPO, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------------------ load
def test_load_gives_a_translator_for_the_folder(translator, trained_model):
    assert translator.task.name == TASK
    assert translator.arch == "unet"
    assert translator.config.image_size == 32
    assert translator.num_skips == 4
    assert translator.metrics["training_steps"] > 0
    assert translator.folder == trained_model


def test_load_finds_the_model_inside_a_run_folder(trained_run):
    t = pix2pix_demo.load(TASK, "unet", weights=trained_run)  # run/model/config.json
    assert t.folder == trained_run / "model"


def test_loaded_weights_equal_the_trained_ones(translator, trained_run):
    """The float16 export reloads to the checkpoint's trained weights (to float16 precision).

    BatchNorm moving statistics are recomputed before export (precise BN), so only the trainable weights must
    equal the checkpoint's; the statistics must be finite and the variances positive.
    """
    import tensorflow as tf

    from pix2pix_demo.models import build_generator

    g = build_generator(translator.model.config)
    tf.train.Checkpoint(generator=g).restore(tf.train.latest_checkpoint(str(trained_run / "checkpoints"))) \
        .expect_partial()
    assert len(g.trainable_weights) == len(translator.model.trainable_weights) > 0
    for a, b in zip(g.trainable_weights, translator.model.trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-3, atol=1e-4)
    for w in translator.model.non_trainable_weights:
        assert np.isfinite(w.numpy()).all()
        if "variance" in w.path:
            assert (w.numpy() >= 0).all()


@pytest.mark.parametrize("size", [(1, 1), (37, 91), (300, 200), (64, 64)])
def test_translates_any_size_to_the_inputs_size(translator, size):
    out = translator(_drawing(*size))
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    assert out.size == size


def test_odd_files(translator, tmp_path):
    ramp = np.linspace(0, 65535, 50 * 70).reshape(50, 70).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    Image.new("CMYK", (45, 33), (0, 0, 0, 255)).save(tmp_path / "cmyk.jpg")
    rgba = Image.new("RGBA", (40, 24), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line((0, 0, 39, 23), fill=(0, 0, 0, 255), width=2)
    rgba.save(tmp_path / "rgba.png")
    Image.new("RGB", (1, 1), "black").save(tmp_path / "one.png")
    expected = {"g16.png": (70, 50), "cmyk.jpg": (45, 33), "rgba.png": (40, 24), "one.png": (1, 1)}
    for name, size in expected.items():
        assert translator(tmp_path / name).size == size, name
        assert translator((tmp_path / name).read_bytes()).size == size, name


def test_exif_rotated_photo_keeps_its_displayed_size(translator, tmp_path):
    img = _drawing(5000, 3000)
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90°: 3000 wide, 5000 high
    path = tmp_path / "big_rotated.jpg"
    img.save(path, exif=exif, quality=80)
    out = translator(path)
    assert out.size == (3000, 5000)


def test_inference_is_deterministic(translator):
    img = _drawing(90, 70)
    a, b = np.asarray(translator(img)), np.asarray(translator(img))
    np.testing.assert_array_equal(a, b)


def test_skip_switches(translator):
    x, _ = translator.task.prepare(_drawing(64, 64), 32)
    full = translator.forward(x[None])
    np.testing.assert_array_equal(full, translator.forward(x[None], [True] * 4))
    off = translator.forward(x[None], [False] * 4)
    assert np.abs(off - full).max() > 1e-4
    np.testing.assert_array_equal(full, translator.forward(x[None]))  # gates are restored
    with pytest.raises(ValueError, match="4 skip levels"):
        translator.forward(x[None], [True, False])


def test_load_refuses_a_model_of_another_task(trained_model):
    with pytest.raises(WeightsError, match="sketch model, not a colorize model"):
        pix2pix_demo.load("colorize", "unet", weights=trained_model)


def test_load_missing_folder(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        pix2pix_demo.load(TASK, "unet", weights=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="holds no model"):
        pix2pix_demo.load(TASK, "unet", weights=tmp_path / "empty")


# -------------------------------------------------------------------------------------------- broken weights
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_weights_raise_weights_error(model_copy, damage):
    path = model_copy / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x07not safetensors" * 64,
                      "empty": b""}[damage])
    with pytest.raises(WeightsError, match="corrupt") as info:
        pix2pix_demo.load(TASK, "unet", weights=model_copy)
    assert "model.safetensors" in str(info.value)


def test_weights_of_another_architecture(model_copy, trained_model, tmp_path):
    config = json.loads((model_copy / "config.json").read_text())
    config["generator"]["base_filters"] = 4
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="shape"):
        pix2pix_demo.load(TASK, "unet", weights=model_copy)
    config["generator"]["num_levels"] = 3
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="do not belong together"):
        pix2pix_demo.load(TASK, "unet", weights=model_copy)


def test_corrupt_config(model_copy):
    (model_copy / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="config.json is corrupt"):
        pix2pix_demo.load(TASK, "unet", weights=model_copy)


def test_manifest_mismatch_names_the_changed_file(model_copy):
    root = model_copy.parent
    write_manifest(root)
    assert pix2pix_demo.load(TASK, "unet", weights=model_copy).params > 0  # intact: loads
    metrics = model_copy / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"l1"', '"l1" ', 1))
    with pytest.raises(WeightsError) as info:
        pix2pix_demo.load(TASK, "unet", weights=model_copy)
    msg = str(info.value)
    assert "changed: model/metrics.json" in msg
    assert "model.safetensors" not in msg and "config.json" not in msg


def test_manifest_reports_a_missing_file(model_copy):
    write_manifest(model_copy)
    (model_copy / "metrics.json").unlink()
    with pytest.raises(WeightsError, match="missing: metrics.json"):
        pix2pix_demo.load(TASK, "unet", weights=model_copy)


# --------------------------------------------------------------------------------------------------- CLI
def test_cli_predict(model_copy, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _drawing(37, 91).save(inputs / "tall.png")
    _drawing(120, 80).convert("CMYK").save(inputs / "wide.jpg")
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    out = tmp_path / "out"
    (inputs / "notes.txt").write_text("not an image")
    result = _run_cli("predict", "--task", TASK, "--weights", model_copy, inputs / "tall.png",
                      inputs / "broken.png", inputs / "missing.png", inputs / "wide.jpg", inputs / "notes.txt",
                      "--out", out)
    # Bad input: an `error:` line for each bad file, the good ones translated all the same, exit status 2.
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 3, result.stderr
    for name, err in zip(("broken.png", "missing.png", "notes.txt"), errors):
        assert name in err
    assert "not an image file" in errors[2]
    assert "absl" not in result.stderr and "oneDNN" not in result.stderr
    assert Image.open(out / f"tall_{TASK}.png").size == (37, 91)
    assert Image.open(out / f"wide_{TASK}.png").size == (120, 80)
    assert not (out / f"broken_{TASK}.png").exists()
    assert "37×91" in result.stdout


def test_cli_with_corrupt_weights_exits_2(model_copy, tmp_path, capsys):
    from pix2pix_demo.__main__ import main

    (model_copy / "model.safetensors").write_bytes(b"garbage" * 100)
    _drawing(20, 20).save(tmp_path / "in.png")
    rc = main(["predict", "--task", TASK, "--weights", str(model_copy), str(tmp_path / "in.png"),
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines()[-1].startswith("error:")
    assert "model.safetensors" in err and "corrupt" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / f"in_{TASK}.png").exists()


def test_cli_evaluate(trained_model, emoji_dir, tmp_path, capsys):
    from pix2pix_demo.__main__ import main

    report = tmp_path / "results.json"
    rc = main(["evaluate", "--task", TASK, "--data", str(emoji_dir), "--arch", "unet",
               "--weights", f"unet={trained_model}", "--json", str(report)])
    out = capsys.readouterr().out
    assert rc == 0
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    assert lines[0].startswith("| task | generator | L1")
    assert lines[1].startswith("|---")
    assert lines[2].startswith(f"| {TASK} | unet |")
    assert len(lines) == 3
    results = json.loads(report.read_text())[TASK]["unet"]
    for key in ("l1", "psnr", "ssim"):
        assert np.isfinite(results[key])
    assert results["n"] > 0 and results["params"] > 0
    assert f"{results['l1']:.4f}" in lines[2]
    assert "hue concentration" in lines[0] and "grid (target)" in lines[0]
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|")  # every column filled
    assert results["grid"] >= 0 and results["grid_target"] >= 0 and f"{results['grid']:.1f}" in lines[2]


def test_cli_evaluate_with_bad_data_exits_2(trained_model, tmp_path, capsys):
    from pix2pix_demo.__main__ import main

    rc = main(["evaluate", "--task", TASK, "--data", str(tmp_path / "missing"), "--arch", "unet",
               "--weights", f"unet={trained_model}"])
    err = capsys.readouterr().err
    assert rc == 2 and "error:" in err and "does not exist" in err


def test_evaluate_in_process_matches_the_model_metrics(trained_model, session_train_config):
    """``evaluate`` on the training data's validation split reproduces the metrics saved at export."""
    from pix2pix_demo.evaluation import evaluate
    from pix2pix_demo.tasks import get_task

    results = evaluate(get_task(TASK), session_train_config.data, ["unet"], {"unet": str(trained_model)},
                       val_fraction=session_train_config.val_fraction)
    saved = json.loads((trained_model / "metrics.json").read_text())
    # The export stores float16 weights: metrics agree to a small tolerance.
    assert abs(results["unet"]["l1"] - saved["l1"]) < 0.01
    assert abs(results["unet"]["ssim"] - saved["ssim"]) < 0.03


# ---------------------------------------------------------------------------------------------------- Hub
HUB_SCRIPT = textwrap.dedent("""
    import sys
    import pix2pix_demo
    from pix2pix_demo.hub import HubError

    t = pix2pix_demo.load(sys.argv[1], "unet", weights="hf://someone/p2p-tiny")
    print("FOLDER", t.folder)
    print("SIZE", t(sys.argv[2]).size)
    for uri in ("hf://someone/not-cached", "hf://someone/p2p-tiny@v9"):
        try:
            pix2pix_demo.load(sys.argv[1], "unet", weights=uri)
        except HubError as err:
            print("HUBERROR", err)

    # The same on the command line: a clear message and exit code 2.
    import contextlib, io
    from pix2pix_demo.__main__ import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["predict", "--task", sys.argv[1], "--weights", "hf://someone/not-cached", sys.argv[2],
                   "--out", sys.argv[3]])
    print("CLI_RC", rc)
    print("CLI_ERR", err.getvalue().strip().replace("\\n", " | "))
""")


def test_hf_uri_loads_from_an_offline_cache(trained_model, tmp_path):
    hf_home = tmp_path / "hf"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_home / "hub" / "models--someone--p2p-tiny"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(trained_model, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    script = tmp_path / "hub_load.py"
    script.write_text(HUB_SCRIPT)
    _drawing(50, 30).save(tmp_path / "in.png")
    env = cli_env(HF_HOME=hf_home, HF_HUB_OFFLINE=1)
    env.pop("HF_HUB_CACHE", None)
    result = subprocess.run([sys.executable, str(script), TASK, str(tmp_path / "in.png"), str(tmp_path / "out")],
                            cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"FOLDER {snapshot}" in out
    assert "SIZE (50, 30)" in out
    errors = [ln for ln in out.splitlines() if ln.startswith("HUBERROR")]
    assert len(errors) == 2
    assert "someone/not-cached" in errors[0] and "HF_HUB_OFFLINE=1" in errors[0]
    assert "someone/p2p-tiny@v9" in errors[1]

    assert "CLI_RC 2" in out
    cli_err = next(ln for ln in out.splitlines() if ln.startswith("CLI_ERR"))
    assert "error:" in cli_err and "someone/not-cached" in cli_err and "Traceback" not in cli_err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("uri", ["someone/repo", "hf://just-a-name", "hf://a/b/c", "hf:///name"])
def test_bad_hub_addresses(uri):
    from pix2pix_demo.hub import HubError, parse_uri

    with pytest.raises(HubError):
        parse_uri(uri)


def test_hub_address_parsing():
    from pix2pix_demo.hub import parse_uri

    assert parse_uri("hf://owner/name") == ("owner/name", None)
    assert parse_uri("hf://owner/name@v1.0") == ("owner/name", "v1.0")


def test_hub_push_uploads_model_files_and_a_card(trained_model, monkeypatch):
    import huggingface_hub

    from pix2pix_demo.hub import push

    calls = {}

    class FakeApi:
        def __init__(self, *args, **kwargs):
            pass

        def create_repo(self, repo_id, private=False, exist_ok=False, **kwargs):
            calls["create_repo"] = dict(repo_id=repo_id, private=private, exist_ok=exist_ok)

        def upload_folder(self, folder_path, repo_id, **kwargs):
            folder = Path(folder_path)
            calls["upload"] = dict(repo_id=repo_id, files=sorted(p.name for p in folder.iterdir()),
                                   card=(folder / "README.md").read_text(), kwargs=kwargs)
            return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push(trained_model, "me/p2p-sketch", private=True)
    assert url == "https://huggingface.co/me/p2p-sketch/commit/abc"
    assert calls["create_repo"] == dict(repo_id="me/p2p-sketch", private=True, exist_ok=True)
    up = calls["upload"]
    assert up["repo_id"] == "me/p2p-sketch"
    assert {"README.md", "config.json", "model.safetensors", "metrics.json"} <= set(up["files"])
    card = up["card"]
    assert card.startswith("---") and "pipeline_tag: image-to-image" in card
    assert "pix2pix sketch" in card and '"image_size": 32' in card
    metrics = json.loads((trained_model / "metrics.json").read_text())
    assert f"| l1 | {metrics['l1']} |" in card
    assert not (trained_model / "README.md").exists()  # the card is staged, the model folder is untouched


def test_hub_push_failure_is_a_hub_error(trained_model, monkeypatch, tmp_path):
    import huggingface_hub

    from pix2pix_demo.hub import HubError, push

    class FailingApi:
        def create_repo(self, *args, **kwargs):
            raise RuntimeError("401 Unauthorized")

    monkeypatch.setattr(huggingface_hub, "HfApi", FailingApi)
    with pytest.raises(HubError, match="me/repo.*401 Unauthorized.*hf auth login"):
        push(trained_model, "me/repo")
    with pytest.raises(HubError, match="not a model folder"):
        push(tmp_path, "me/repo")


# ------------------------------------------------------------------------------------------- back-ends
def test_tflite_backend_matches_tensorflow(model_copy):
    from pix2pix_demo.export import TFLITE
    from pix2pix_demo.zoo import write_tflite

    tf_only = pix2pix_demo.load(TASK, "unet", weights=model_copy)
    assert tf_only.backend == "tf"  # no model.tflite yet
    write_tflite(model_copy)
    assert (model_copy / TFLITE).stat().st_size > 0
    lite = pix2pix_demo.load(TASK, "unet", weights=model_copy)
    assert lite.backend == "tflite"
    assert pix2pix_demo.load(TASK, "unet", weights=model_copy, backend="tf").backend == "tf"
    x, _ = lite.task.prepare(_drawing(64, 48), lite.config.image_size)
    batch = np.stack([x, -x])
    got, want = lite.forward(batch), tf_only.forward(batch)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 1e-2
    assert np.abs(got[0] - got[1]).mean() > 1e-3  # each batch item ran separately
    # A skip ablation needs the TensorFlow graph: it must still switch the skips.
    off = lite.forward(x[None], [False] * lite.num_skips)
    np.testing.assert_allclose(off, tf_only.forward(x[None], [False] * lite.num_skips), atol=1e-5)
    assert np.abs(off - got[:1]).max() > 1e-4
    np.testing.assert_array_equal(np.asarray(lite(_drawing(50, 40))).shape, (40, 50, 3))


def test_backend_choice_is_checked(model_copy):
    with pytest.raises(WeightsError, match="model.tflite"):
        pix2pix_demo.load(TASK, "unet", weights=model_copy, backend="tflite")
    with pytest.raises(ValueError, match="backend"):
        pix2pix_demo.load(TASK, "unet", weights=model_copy, backend="onnx")
