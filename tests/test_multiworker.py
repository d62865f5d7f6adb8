"""Training across workers: TF_CONFIG and --cluster, and a real two-worker cluster on 127.0.0.1 (one core each):
identical weights on both workers, the chief alone writes the run, a SIGKILLed chief or worker, and --resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.local_cluster import free_ports, local_addresses, start_pinned
from conftest import REPO, cli_env

TINY = ["--image-size", "32", "--base-filters", "4", "--max-filters", "16", "--disc-filters", "4",
        "--batch-size", "4", "--log-every", "1000", "--val-fraction", "0.3"]


# -------------------------------------------------------------------------------------------- TF_CONFIG
def test_cluster_flag_writes_the_standard_tf_config():
    from pix2pix_demo.cluster import from_env, tf_config

    value = tf_config("10.0.0.1:2222, 10.0.0.2:2222", 1)
    assert json.loads(value) == {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                                 "task": {"type": "worker", "index": 1}}
    cluster = from_env({"TF_CONFIG": value})
    assert cluster.count == 2 and cluster.rank == 1 and not cluster.is_chief
    assert cluster.name() == "worker 1 at 10.0.0.2:2222" and cluster.name(0) == "worker 0 at 10.0.0.1:2222"
    for bad, index, message in [("10.0.0.1", 0, "host:port"), ("a:1,b:x", 0, "host:port"), ("a:1,b:2", 2, "0 to 1"),
                                ("a:1,a:1", 0, "twice"), ("a:1,b:70000", 0, "host:port")]:
        with pytest.raises(ValueError, match=message):
            tf_config(bad, index)


def test_tf_config_as_kubeflow_writes_it():
    from pix2pix_demo.cluster import from_env

    assert from_env({}) is None and from_env({"TF_CONFIG": ""}) is None
    one = {"cluster": {"worker": ["w0:2222"]}, "task": {"type": "worker", "index": 0}}
    assert from_env({"TF_CONFIG": json.dumps(one)}) is None  # a single task trains as one process
    tfjob = {"cluster": {"chief": ["c:2222"], "worker": ["w0:2222", "w1:2222"]}, "task": {"type": "worker", "index": 1}}
    cluster = from_env({"TF_CONFIG": json.dumps(tfjob)})
    assert cluster.count == 3 and cluster.rank == 2  # the chief comes first, as MultiWorkerMirroredStrategy orders
    assert from_env({"TF_CONFIG": json.dumps(tfjob | {"task": {"type": "chief", "index": 0}})}).is_chief
    with pytest.raises(ValueError, match="ps"):
        from_env({"TF_CONFIG": json.dumps({"cluster": tfjob["cluster"] | {"ps": ["p:1"]}, "task": tfjob["task"]})})
    with pytest.raises(ValueError, match="not one of"):
        from_env({"TF_CONFIG": json.dumps(tfjob | {"task": {"type": "worker", "index": 5}})})
    with pytest.raises(ValueError, match="JSON"):
        from_env({"TF_CONFIG": "{not json"})


def test_cli_rejects_bad_cluster_flags(tmp_path, capsys):
    from pix2pix_demo.__main__ import main

    base = ["train", "--task", "sketch", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    before = os.environ.get("TF_CONFIG")
    assert main([*base, "--cluster", "127.0.0.1:1,127.0.0.1:2", "--worker-index", "2"]) == 2
    assert "--worker-index must be 0 to 1" in capsys.readouterr().err
    assert main([*base, "--worker-index", "1"]) == 2
    assert "--worker-index needs --cluster" in capsys.readouterr().err
    assert os.environ.get("TF_CONFIG") == before  # rejected flags write nothing


# ------------------------------------------------------------------------------------------ two workers
class Worker:
    """One ``python -m pix2pix_demo train`` worker process, pinned to one core, with its own TMPDIR."""

    def __init__(self, index: int, addresses: list[str], args: list[str], folder: Path, name: str,
                 tmp: Path | None = None):
        self.index, self.tmp = index, tmp or folder / f"{name}-tmp{index}"
        self.tmp.mkdir(parents=True, exist_ok=tmp is not None)
        self.out, self.err = folder / f"{name}-{index}.out", folder / f"{name}-{index}.err"
        self.proc = start_pinned(
            [sys.executable, "-m", "pix2pix_demo", *args, "--cluster", ",".join(addresses), "--worker-index",
             str(index), "--cluster-timeout", "90"], index, self.out, self.err, cli_env(TMPDIR=self.tmp), REPO)

    def log(self) -> str:
        return self.err.read_text()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"worker {self.index} did not finish in {timeout} s:\n{self.log()[-3000:]}")


def _cluster(args, folder: Path, name: str) -> list[Worker]:
    addresses = local_addresses(2)
    return [Worker(i, addresses, args, folder, name) for i in range(2)]


def _finish(workers: list[Worker], timeout: float = 150) -> list[int]:
    deadline = time.monotonic() + timeout
    return [w.wait(max(1.0, deadline - time.monotonic())) for w in workers]


def _latest_step(run: Path) -> int | None:
    try:
        text = (run / "checkpoints" / "checkpoint").read_text()
    except OSError:
        return None
    found = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', text, re.MULTILINE)
    return int(found.group(1)) if found else None


def _two_checkpoints_in(args: list[str], run: Path, folder: Path) -> list[Worker]:
    """Two workers running ``args`` towards ``run``, once the chief has written its checkpoint of step 10."""
    workers = _cluster(args, folder, "first")
    deadline = time.monotonic() + 150
    while (_latest_step(run) or 0) < 10:
        assert time.monotonic() < deadline, workers[0].log()[-3000:]
        for w in workers:
            assert w.proc.poll() is None, f"worker {w.index} exited early:\n{w.log()[-3000:]}"
        time.sleep(0.1)
    return workers


def _kill(workers: list[Worker], index: int) -> None:
    """SIGKILL worker ``index`` of two: the other notices, says so in its last line and exits with 1 (no hang)."""
    victim, other = workers[index], workers[1 - index]
    victim.proc.send_signal(signal.SIGKILL)
    assert victim.wait(30) == -signal.SIGKILL
    assert other.wait(90) == 1, other.log()[-3000:]
    assert re.fullmatch(rf"error: worker {other.index} at 127\.0\.0\.1:\d+ lost contact with worker {index} at "
                        r"127\.0\.0\.1:\d+ .*", _last_line(other.log())), other.log()[-3000:]  # no TF logs after it


def _last_line(text: str) -> str:
    lines = text.rstrip().splitlines()
    return lines[-1] if lines else ""


def _digests(workers: list[Worker]) -> list[str]:
    found = [re.findall(r"final weights sha256 ([0-9a-f]+)", w.log()) for w in workers]
    assert all(len(f) == 1 for f in found), [w.log()[-2000:] for w in workers]
    return [f[0] for f in found]


@pytest.mark.timeout(300)
def test_two_workers_train_identically_and_resume_after_the_chief_is_killed(emoji_dir, tmp_path):
    """Two workers on 127.0.0.1 (TF_CONFIG through --cluster), one core each, two sessions:

    1. train towards 400 steps and SIGKILL the chief after two checkpoints: the other worker stops by itself,
       naming the chief's address, and the run is left at the chief's last checkpoint;
    2. restart both with --resume and a near target: training continues from that checkpoint, not from 0; both
       workers end with identical weights; the chief alone wrote the run folder and exported a model that loads;
       the other worker's temporary folder is gone.
    """
    from pix2pix_demo.export import load_model

    run = tmp_path / "run"
    args = ["train", "--task", "sketch", "--data", str(emoji_dir), "--out", str(run), "--steps", "400",
            "--checkpoint-every", "5", "--sample-every", "5", *TINY]

    # 1. SIGKILL the chief once it has written two checkpoints.
    workers = _two_checkpoints_in(args, run, tmp_path)
    _kill(workers, 0)
    for w in workers:  # each worker trains on its own half of the data, and its half of each batch
        assert "10 of the 20 training items, 2 of the 4 images of each step" in w.log()
    killed_at = _latest_step(run)
    assert killed_at >= 10 and killed_at % 5 == 0
    assert not (run / "model").exists()

    # 2. Restart the cluster: it goes on from the chief's last checkpoint to a new, near target.
    target = killed_at + 4
    workers = _cluster(["train", "--out", str(run), "--resume", "--steps", str(target)], tmp_path, "second")
    codes = _finish(workers)
    assert codes == [0, 0], [w.log()[-3000:] for w in workers]
    assert re.search(rf"resumed from \S*ckpt-{killed_at}\b", workers[0].log()), workers[0].log()[-3000:]
    assert f"continues from the chief's step {killed_at}" in workers[1].log()
    digests = _digests(workers)
    assert digests[0] == digests[1], "the two workers ended with different weights"
    history = json.loads((run / "run_history.json").read_text())
    assert [(h["from_step"], h["to_step"]) for h in history] == [(killed_at, target)]
    assert _latest_step(run) == target
    for w in workers:
        assert f"model: {run / 'model'}" in w.out.read_text()
    generator, config = load_model(run / "model")
    assert generator.count_params() > 0 and config["training"]["steps"] == target
    assert json.loads((run / "model" / "metrics.json").read_text())["training_steps"] == target
    samples = sorted(int(p.stem.split("_")[1]) for p in (run / "samples").iterdir())
    assert samples[0] == 5 and samples[-1] == target - target % 5
    assert len(list((run / "logs").glob("events.out.tfevents.*"))) == 2  # the chief's, one per session
    for w in workers:
        assert not list(w.tmp.iterdir()), f"worker {w.index} left temporary files behind"


@pytest.mark.timeout(300)
def test_a_sigkilled_worker_leaves_its_temporary_folder_to_its_next_start(emoji_dir, tmp_path):
    """SIGKILL the other worker (not the chief) after two checkpoints: the chief stops, naming it, and the killed
    worker's temporary folder is left behind (nothing runs in a SIGKILLed process); both restarted with --resume
    (the same temporary directories), the worker removes it first, and its own at the end."""
    run = tmp_path / "run"
    args = ["train", "--task", "sketch", "--data", str(emoji_dir), "--out", str(run), "--steps", "400",
            "--checkpoint-every", "5", "--sample-every", "1000", *TINY]
    workers = _two_checkpoints_in(args, run, tmp_path)
    _kill(workers, 1)
    ours = [p for p in workers[1].tmp.iterdir() if p.name.startswith("pix2pix-")]
    assert len(ours) == 1 and ours[0].name.startswith("pix2pix-worker1-"), ours
    assert any(ours[0].rglob("*")), "the killed worker's copy of the run"
    # TensorFlow's own leftovers (AutoGraph's generated __autograph_generated_file*.py) are not ours to remove
    theirs = [{p.name for p in w.tmp.iterdir() if not p.name.startswith("pix2pix-")} for w in workers]

    addresses = local_addresses(2)  # the same TMPDIRs, as when the same machines start again
    workers = [Worker(i, addresses, ["train", "--out", str(run), "--resume", "--steps", str(_latest_step(run) + 2)],
                      tmp_path, "again", tmp=w.tmp) for i, w in enumerate(workers)]
    assert _finish(workers) == [0, 0], [w.log()[-3000:] for w in workers]
    assert [{p.name for p in w.tmp.iterdir()} for w in workers] == theirs, "the killed worker's folder is gone"


def test_worker_scratch_is_one_folder_per_run_and_worker_emptied_on_each_start(tmp_path, monkeypatch):
    from pix2pix_demo.cluster import worker_scratch

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    first = worker_scratch(tmp_path / "run", 1)
    (first / "checkpoints").mkdir()
    (first / "checkpoints" / "ckpt-5.index").write_text("left by a killed worker")
    again = worker_scratch(tmp_path / "run", 1)
    assert again == first and not any(again.iterdir())
    assert worker_scratch(tmp_path / "run", 2) != first and worker_scratch(tmp_path / "other", 1) != first
    first.rmdir()
    first.write_text("not ours to remove")  # the name taken (another user's): a fresh folder of its own instead
    elsewhere = worker_scratch(tmp_path / "run", 1)
    assert elsewhere != first and elsewhere.is_dir() and first.read_text() == "not ours to remove"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("index", [0, 1])
def test_a_worker_alone_fails_in_time_naming_the_address_it_waited_for(emoji_dir, tmp_path, index):
    """Worker 0 (which hosts the coordination service) and worker 1 alike: our one-line error, then nothing (none
    of TensorFlow's C++ logs about the failed barrier, before it or at exit)."""
    ports = free_ports(2)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pix2pix_demo", "train", "--task", "sketch", "--data", str(emoji_dir), "--out",
         str(tmp_path / "run"), "--cluster", ",".join(f"127.0.0.1:{p}" for p in ports), "--worker-index",
         str(index), "--cluster-timeout", "3", *TINY],
        cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=100)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert _last_line(proc.stderr).startswith(
        f"error: worker {index} at 127.0.0.1:{ports[index]} could not form the cluster of 2 workers within 3 s: "
        f"no answer from worker {1 - index} at 127.0.0.1:{ports[1 - index]}"), proc.stderr[-3000:]
    assert [line for line in proc.stderr.splitlines() if not line.startswith("INFO ")] == \
        [_last_line(proc.stderr)], proc.stderr[-3000:]
    assert time.monotonic() - t0 < 90
    assert not (tmp_path / "run").exists()
