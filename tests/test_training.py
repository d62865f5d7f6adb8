"""Training: it learns, it writes a complete run folder, it survives SIGTERM and SIGKILL, and it distributes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SESSION_STEPS, cli_env

TINY_ARGS = ["--image-size", "32", "--base-filters", "8", "--max-filters", "32", "--disc-filters", "8",
             "--batch-size", "2", "--log-every", "1000"]


# --------------------------------------------------------------------------------------- in-process run
def test_short_training_lowers_validation_l1(trained_run, session_train_config):
    """The session model (SESSION_STEPS steps at 32 px) beats the same network freshly initialised, on held-out
    images."""
    from pix2pix_demo import data as D
    from pix2pix_demo.evaluation import predict
    from pix2pix_demo.export import load_model
    from pix2pix_demo.models import build_generator
    from pix2pix_demo.tasks import get_task

    cfg = session_train_config
    task = get_task(cfg.task)
    ds = D.find_dataset(cfg.data)
    train_items, val_items = D.split(ds, cfg.val_fraction)
    assert val_items, "the fixture's split must hold out some images"
    x, y = D.validation_arrays(task, ds, val_items, cfg.image_size)

    trained, config = load_model(trained_run / "model")
    fresh = build_generator(trained.config)
    assert fresh.count_params() == trained.count_params()
    before = float(np.mean(np.abs(predict(fresh, x) - y)))
    after = float(np.mean(np.abs(predict(trained, x) - y)))
    assert np.isfinite(after)
    assert after < 0.85 * before, f"validation L1 {before:.4f} → {after:.4f}: training did not help"
    assert config["training"]["steps"] == cfg.steps


def test_run_folder_is_complete(trained_run, session_train_config):
    model = trained_run / "model"
    for name in ("config.json", "model.safetensors", "metrics.json"):
        assert (model / name).is_file() and (model / name).stat().st_size > 0
    assert not list(model.glob("*.tmp"))  # atomic writes leave no temporary files

    metrics = json.loads((model / "metrics.json").read_text())
    for key in ("l1", "psnr", "ssim"):
        assert isinstance(metrics[key], float) and np.isfinite(metrics[key])
    assert 0 <= metrics["l1"] <= 1 and -1 <= metrics["ssim"] <= 1 and metrics["psnr"] > 0
    assert metrics["training_steps"] == session_train_config.steps
    assert metrics["params"] > 0

    config = json.loads((model / "config.json").read_text())
    assert config["task"] == "sketch"
    assert config["generator"]["image_size"] == 32 and config["generator"]["in_channels"] == 1

    samples = sorted((trained_run / "samples").glob("step_*.png"))
    half = SESSION_STEPS // 2
    assert [p.name for p in samples] == [f"step_{half:06d}.png", f"step_{SESSION_STEPS:06d}.png"]
    from PIL import Image

    grid = Image.open(samples[-1])
    assert grid.width == 3 * 32 and grid.height % 32 == 0  # input | output | target rows

    assert list((trained_run / "logs").glob("events.out.tfevents.*"))
    run = json.loads((trained_run / "run.json").read_text())
    assert run["steps"] == session_train_config.steps and run["task"] == "sketch"
    import tensorflow as tf

    assert tf.train.latest_checkpoint(str(trained_run / "checkpoints")).endswith(f"ckpt-{SESSION_STEPS}")


def test_resume_of_a_finished_run_does_not_train_again(trained_run, tmp_path):
    """--resume on a complete run restores its last step and re-exports without another step."""
    import shutil

    from pix2pix_demo.training import TrainConfig, train

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    shutil.rmtree(run / "model")
    folder = train(TrainConfig(task="sketch", steps=0), run, resume=True, verbose=False)
    assert folder == run / "model"
    history = json.loads((run / "run_history.json").read_text())
    assert history[-1]["from_step"] == history[-1]["to_step"] == SESSION_STEPS
    assert json.loads((folder / "metrics.json").read_text())["training_steps"] == SESSION_STEPS


def test_resume_of_a_complete_run_says_so_and_leaves_the_model_alone(trained_run, tmp_path, capsys):
    import shutil

    from pix2pix_demo.__main__ import main
    from pix2pix_demo.training import TrainConfig, train

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = {p.name: p.stat().st_mtime_ns for p in (run / "model").iterdir()}
    history = (run / "run_history.json").read_text()
    assert main(["train", "--out", str(run), "--resume"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (f"run {run} is already complete ({SESSION_STEPS}/{SESSION_STEPS} steps); "
                           f"model in {run / 'model'}")
    assert train(TrainConfig(task="sketch", steps=0), run, resume=True, verbose=False) == run / "model"
    assert {p.name: p.stat().st_mtime_ns for p in (run / "model").iterdir()} == before  # not re-exported
    assert (run / "run_history.json").read_text() == history  # no new session either


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    from pix2pix_demo.training import TrainConfig, train

    with pytest.raises(FileNotFoundError, match="Nothing to resume"):
        train(TrainConfig(task="sketch"), tmp_path / "empty", resume=True)


def test_the_package_has_no_import_cycles():
    """No module imports, even lazily inside a function, one that imports it back (evaluation used to import
    training's ``predict`` while training imported evaluation's ``evaluate_arrays``)."""
    import ast
    import graphlib

    graph = {}
    for path in (REPO / "pix2pix_demo").glob("*.py"):
        imports = [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)]
        graph[path.stem] = {node.module.split(".")[0] if node.module else alias.name
                            for node in imports if node.level == 1 for alias in node.names}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the cycle
    assert "training" not in graph["evaluation"]


# ------------------------------------------------------------------------------------------ subprocesses
def _start(args, log_dir: Path, name: str) -> tuple[subprocess.Popen, Path, Path]:
    out, err = log_dir / f"{name}.out", log_dir / f"{name}.err"
    proc = subprocess.Popen([sys.executable, "-m", "pix2pix_demo", *args], cwd=REPO, env=cli_env(),
                            stdout=out.open("w"), stderr=err.open("w"))
    return proc, out, err


def _wait_for(condition, proc: subprocess.Popen, err: Path, timeout: float = 150.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"training exited early (rc={proc.returncode}):\n{err.read_text()[-3000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for training progress:\n{err.read_text()[-3000:]}")


def _latest_step(run: Path) -> int | None:
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else None


def _finish(proc: subprocess.Popen, timeout: float = 200.0) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("training did not finish in time")


def test_sigkill_and_sigterm_then_resume_to_the_end(photo_dir, tmp_path):
    """One run, interrupted twice (three processes, to keep the suite fast):

    1. SIGKILL after checkpoints appear: the run is left at its last periodic checkpoint (a multiple of N);
    2. ``--resume`` restarts from exactly that checkpoint; SIGTERM then stops it cleanly with a checkpoint at the
       step where it stopped (exit code 130, no model exported);
    3. ``--resume`` continues from that step, not 0, to the end, and exports the model.
    """
    run = tmp_path / "run"
    every, total = 10, 100
    args = ["train", "--task", "day2night", "--data", str(photo_dir), "--out", str(run), "--steps", str(total),
            "--checkpoint-every", str(every), "--sample-every", "25", *TINY_ARGS]

    # 1. SIGKILL: no handler can run.
    proc, _, err = _start(args, tmp_path, "first")
    _wait_for(lambda: (_latest_step(run) or 0) >= 2 * every, proc, err)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = _latest_step(run)
    assert killed_at is not None and killed_at % every == 0 and 2 * every <= killed_at < total
    assert not (run / "model").exists()
    assert not (run / "run_history.json").exists()  # the killed session never got to write it

    # 2. Resume (no --steps: the run's own target), then SIGTERM once it has made progress.
    proc, _, err = _start(["train", "--out", str(run), "--resume"], tmp_path, "second")
    _wait_for(lambda: (_latest_step(run) or 0) > killed_at, proc, err)
    proc.send_signal(signal.SIGTERM)
    rc = _finish(proc, 60)
    log = err.read_text()
    assert rc == 130, log[-3000:]  # a clean, resumable stop
    assert "Traceback" not in log
    assert re.search(rf"resumed from \S*ckpt-{killed_at}\b", log), log[-3000:]
    stopped = re.search(r"stopped at step (\d+) of (\d+)", log)
    assert stopped, log[-3000:]
    step = int(stopped.group(1))
    assert killed_at + every <= step < total and int(stopped.group(2)) == total
    assert _latest_step(run) == step  # checkpointed at the very step where it stopped
    assert not (run / "model").exists()
    assert "--resume" in log
    history = json.loads((run / "run_history.json").read_text())
    assert [(h["from_step"], h["to_step"]) for h in history] == [(killed_at, step)]

    # 3. Resume to the end.
    proc, out, err = _start(["train", "--out", str(run), "--resume"], tmp_path, "third")
    rc = _finish(proc)
    log = err.read_text()
    assert rc == 0, log[-3000:]
    assert re.search(rf"resumed from \S*ckpt-{step}\b", log), log[-3000:]
    history = json.loads((run / "run_history.json").read_text())
    assert [(h["from_step"], h["to_step"]) for h in history] == [(killed_at, step), (step, total)]
    model = run / "model"
    assert (model / "config.json").exists() and (model / "model.safetensors").exists()
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["training_steps"] == total
    assert _latest_step(run) == total
    assert str(model) in out.read_text()
    # The progress bar, written to a file, is a line per tenth of the run, not one per step.
    bar = [ln for ln in log.splitlines() if re.match(r"\d+/\d+ \[", ln)]
    assert 1 <= len(bar) <= 10 and bar[-1].startswith(f"{total}/{total} ["), log[-3000:]
    assert "\b" not in log and "\r" not in log
    assert json.loads((run / "run.json").read_text())["steps"] == total  # --resume kept the run's own target
    samples = sorted(int(p.stem.split("_")[1]) for p in (run / "samples").glob("step_*.png"))
    assert samples[-1] == total


def test_resume_with_more_steps_extends_the_run(trained_run, tmp_path):
    import shutil

    from pix2pix_demo.training import TrainConfig, train

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    more = SESSION_STEPS + 6
    folder = train(TrainConfig(task="sketch", steps=more), run, resume=True, verbose=False)
    assert folder == run / "model"
    assert json.loads((run / "run.json").read_text())["steps"] == more
    assert json.loads((run / "run.json").read_text())["base_filters"] == 8  # the rest comes from the saved run
    assert json.loads((folder / "metrics.json").read_text())["training_steps"] == more
    assert json.loads((run / "run_history.json").read_text())[-1]["from_step"] == SESSION_STEPS


def test_cli_train_reports_bad_data_without_traceback(tmp_path, capsys):
    from pix2pix_demo.__main__ import main

    (tmp_path / "empty").mkdir()
    rc = main(["train", "--task", "sketch", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run"),
               *TINY_ARGS])
    err = capsys.readouterr().err
    assert rc == 2
    assert "error:" in err and "No images found" in err
    assert "Traceback" not in err
    rc = main(["train", "--out", str(tmp_path / "nothing"), "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and "Nothing to resume" in err


# ------------------------------------------------------------------------------------------ distributed
DISTRIBUTED_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import pix2pix_demo.gan as G
    import pix2pix_demo.training as T

    # Watch train(devices=2) from the outside: the strategy it picks, the networks it builds (with their initial
    # weights) and the losses the callbacks see.
    seen = {"nets": [], "logs": []}
    _strategy, _build_g, _build_d, _act = T._strategy, G.build_generator, G.build_discriminator, T.Checkpointer.act

    def strategy(devices):
        s = _strategy(devices)
        seen["replicas"], seen["devices"] = s.num_replicas_in_sync, list(s.extended.worker_devices)
        return s

    def recorded(build):
        def wrapper(*args, **kwargs):
            net = build(*args, **kwargs)
            seen["nets"].append((net, [w.numpy().copy() for w in net.trainable_weights]))
            return net
        return wrapper

    def act(self, logs):
        seen["logs"].append({k: float(v) for k, v in (logs or {}).items()})
        return _act(self, logs)

    T._strategy, G.build_generator, G.build_discriminator = strategy, recorded(_build_g), recorded(_build_d)
    T.Checkpointer.act = act

    cfg = T.TrainConfig(task="day2night", data=sys.argv[1], steps=3, batch_size=4, image_size=32, base_filters=4,
                        max_filters=16, disc_filters=4, checkpoint_every=1000, sample_every=1000, log_every=1000)
    folder = T.train(cfg, sys.argv[2], devices=2, verbose=False)
    changed = [[not np.allclose(a, w.numpy()) for a, w in zip(init, net.trainable_weights)]
               for net, init in seen["nets"]]
    result = {"replicas": seen["replicas"], "devices": seen["devices"], "logs": seen["logs"],
              "changed": [sum(c) for c in changed], "variables": [len(c) for c in changed],
              "metrics": json.loads((folder / "metrics.json").read_text())}
    print("RESULT " + json.dumps(result))
""")


def test_distributed_training_on_two_logical_cpus(photo_dir, tmp_path):
    """train(devices=2) runs Pix2Pix.train_step under MirroredStrategy on two logical CPUs: finite losses, and
    every weight of both networks moves."""
    script = tmp_path / "distributed.py"
    script.write_text(DISTRIBUTED_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(photo_dir), str(tmp_path / "run")], cwd=REPO,
                            env=cli_env(), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    assert r["replicas"] == 2
    assert [d.rsplit(":", 2)[-2:] for d in r["devices"]] == [["CPU", "0"], ["CPU", "1"]]
    assert len(r["variables"]) == 2  # one generator, one discriminator
    assert r["changed"] == r["variables"], "every trainable variable should move"
    logs = r["logs"][-1]  # what the callbacks saw at the last step
    assert set(logs) == {"g_loss", "g_gan", "l1", "d_loss"}
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert logs["l1"] > 0 and logs["d_loss"] > 0 and logs["g_loss"] > logs["g_gan"]
    m = r["metrics"]
    assert m["training_steps"] == 3
    assert all(np.isfinite(m[k]) for k in ("l1", "psnr", "ssim"))


def test_batchnorm_recalibration_makes_inference_match_batch_statistics():
    """After precise-BN on one repeated batch, inference mode reproduces training mode (dropout off) on it."""
    import keras
    import tensorflow as tf

    from pix2pix_demo.models import build_generator
    from pix2pix_demo.training import recalibrate_batchnorm

    keras.utils.set_random_seed(3)
    g = build_generator("unet", image_size=32, in_channels=1, base_filters=4, max_filters=16, dropout=0.0)
    x = tf.random.uniform((4, 32, 32, 1), -1, 1)
    before = float(tf.reduce_mean(tf.abs(g(x, training=False) - g(x, training=True))))
    used = recalibrate_batchnorm(g, tf.data.Dataset.from_tensors((x, x)).repeat(5), batches=5)
    after = float(tf.reduce_mean(tf.abs(g(x, training=False) - g(x, training=True))))
    assert used == 5
    assert after < 0.05 * before, (before, after)


def test_bf16_mixed_precision_training_exports_a_float32_model(photo_dir, tmp_path):
    """--precision mixed_bfloat16: the GAN computes in bfloat16, the losses stay finite, and the exported model
    loads as an ordinary float32 generator that translates."""
    import keras
    from PIL import Image

    import pix2pix_demo
    from pix2pix_demo.training import TrainConfig, train

    cfg = TrainConfig(task="day2night", data=str(photo_dir), steps=3, batch_size=2, image_size=32, base_filters=4,
                      max_filters=16, disc_filters=4, checkpoint_every=100, sample_every=100, log_every=1,
                      bn_recalibration_batches=2, precision="mixed_bfloat16")
    folder = train(cfg, tmp_path / "run", verbose=False)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building the networks
    metrics = json.loads((folder / "metrics.json").read_text())
    assert all(np.isfinite(metrics[k]) for k in ("l1", "psnr", "ssim"))
    assert json.loads((tmp_path / "run" / "run.json").read_text())["precision"] == "mixed_bfloat16"
    tr = pix2pix_demo.load("day2night", "unet", weights=folder)
    out = np.asarray(tr(Image.fromarray(np.full((40, 50, 3), 128, np.uint8))))
    assert out.shape == (40, 50, 3) and out.dtype == np.uint8


def test_native_bfloat16_reads_the_cpu_flags(tmp_path):
    """The trainer warns before an emulated mixed_bfloat16 run: it reads the CPU's flags (x86 and Arm)."""
    from pix2pix_demo.gan import native_bfloat16

    def cpuinfo(text):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        return str(path)

    assert native_bfloat16(cpuinfo("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n")) is False
    assert native_bfloat16(cpuinfo("flags\t\t: avx2 avx512f avx512_bf16\n")) is True
    assert native_bfloat16(cpuinfo("flags\t\t: avx2 amx_bf16 amx_tile\n")) is True
    assert native_bfloat16(cpuinfo("Features\t: fp asimd bf16 i8mm\n")) is True
    assert native_bfloat16(cpuinfo("model name\t: something\n")) is None  # no flags line: unknown
    assert native_bfloat16(str(tmp_path / "missing")) is None
