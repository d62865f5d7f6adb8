"""The live trainer's fork server (``pix2pix_demo.forkserver``), as ``python app.py`` uses it: forked before the app
runs TensorFlow, each training a fork of it that shares the app's imports. Every check runs in a fresh interpreter
(this test process has long run TensorFlow, and must never fork)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[1]

APP_LIKE = r"""
import json, os, sys, time
from pathlib import Path
from PIL import Image
from pix2pix_demo import forkserver, live_run
import pix2pix_demo

out = {"started": live_run.start_fork_server(), "app": os.getpid(), "server": forkserver._server.pid}
import tensorflow as tf
out["app_ran_tf"] = float(tf.reduce_sum(tf.ones(3)))  # the app runs TensorFlow after the fork, as it does
TINY = dict(image_size=32, base_filters=8, max_filters=32, disc_filters=8, batch_size=4, report_every=1.0, pool=24)
photos = [Image.open(f"examples/photos/{n}").convert("RGB") for n in ("cat.jpg", "coffee.jpg")]
run = live_run.start_exclusive(live_run.LiveSpec(task="day2night", seconds=120, export_dir=sys.argv[1], **TINY), photos)
progress = 0
while progress < 3 and run.state != "error":
    progress += sum(m["kind"] == "progress" for m in run.poll(1.0))
pid = run.pid
out["trainer"] = pid
out["trainer_parent"] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
out["trainer_nice"] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
smaps = dict(l.split(":", 1) for l in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
out["trainer_shared_dirty_mb"] = int(smaps["Shared_Dirty"].split()[0]) / 1024
assert live_run.stop_run(run.token)
run.wait(120)
out["state"], out["reason"], out["steps"] = run.state, run.result and run.result["reason"], run.result["step"]
out["running_after"] = run.running
out["loads"] = pix2pix_demo.load("day2night", "unet", weights=sys.argv[1])(photos[0]).size == photos[0].size
# a worker that overstays is killed, and the app hears it has gone
run = live_run.start_exclusive(live_run.LiveSpec(task="colorize", archs=("unet",), seconds=120, **TINY), photos)
while run.state == "setup":
    run.poll(1.0)
run.kill()
end = time.monotonic() + 30
while run.running and time.monotonic() < end:
    time.sleep(0.2)
out["killed_running"] = run.running
while run.state not in ("done", "error") and time.monotonic() < end + 30:
    run.poll(0.5)
out["killed_state"], out["killed_error"] = run.state, run.error
print("RESULT " + json.dumps(out))
"""


def _python(code: str, *args, timeout: float = 500) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server runs on Linux only")
def test_a_run_forks_from_the_server_shares_the_apps_imports_stops_exports_and_dies_with_the_app(tmp_path):
    done = _python(APP_LIKE, tmp_path)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["started"] and out["app_ran_tf"] == 3.0
    assert out["trainer_parent"] == out["server"] != out["app"], "the trainer is a child of the fork server"
    assert out["trainer_nice"] >= 10, "the trainer runs at low priority"
    # Shared dirty pages come from a fork: a spawned process shares only clean library pages with the app.
    assert out["trainer_shared_dirty_mb"] > 100, f"the trainer shares the app's imports ({out})"
    assert out["state"] == "done" and out["reason"] == "stopped" and out["steps"] > 0 and not out["running_after"]
    assert out["loads"], "the exported generator opens with pix2pix_demo.load"
    assert not out["killed_running"] and out["killed_state"] == "error"
    assert "ended unexpectedly" in out["killed_error"]
    end = time.monotonic() + 10
    while _alive(out["server"]) and time.monotonic() < end:
        time.sleep(0.2)
    assert not _alive(out["server"]), "the fork server ends with the app"


def test_no_fork_server_in_a_process_that_has_run_tensorflow():
    done = _python("import tensorflow as tf; tf.constant(1.0) + 1\n"
                   "from pix2pix_demo import forkserver, live_run\n"
                   "print('RESULT', forkserver.tensorflow_started(), live_run.start_fork_server(), "
                   "forkserver.running())")
    assert "RESULT True False False" in done.stdout, done.stderr[-2000:]
