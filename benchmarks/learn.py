"""Section 8: Watch them learn. After a minute of live training on the built-in examples, is the U-Net's held-out
L1 below the encoder-decoder's? And while a training runs, does the sketch pad keep its latency, and do the app and
its trainer stay within the app's memory budget?

The quality runs train beside this process' app, where the L1 values are read from the run itself. The pad and the
memory are measured on the app as it is deployed: ``python app.py`` in a process of its own, the run started through
``/learn`` and the strokes drawn in Chromium. In this process the app's RSS would also hold the harness (the browser
driver, the other sections' leftovers) and miss what ``app.py`` sets up for the server (its malloc settings).

Memory of the two together: the union of the resident pages of the app and of every process below it (the trainer,
the fork server it is forked from, or multiprocessing's resource tracker), counted by physical frame
(``/proc/PID/pagemap``, which shows frame numbers to root only); elsewhere the app's RSS plus the others' private
memory, which came within 5 MB of it here. Not the sum of PSS: PSS splits TensorFlow's library pages with every other
process that maps them (another training on the machine), and so counts less than the two take.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .browser import settled_median, stroke_latencies
from .common import ROOT, Section, Target, private_env
from .serving import APP_RSS_MB, STROKE_MS, InProcessApp, free_port, stop, wait_http

LEARN_S = 60
SERVED_S = 45
EXAMPLES = [ROOT / "examples" / "photos" / n for n in ("cat.jpg", "coffee.jpg", "meadow.jpg")]
TINY = {"image_size": 32, "base_filters": 8, "max_filters": 32, "disc_filters": 8, "batch_size": 4,
        "report_every": 1.0, "pool": 24}
ZERO = {"rss": 0.0, "pss": 0.0, "uss": 0.0}


# ---------------------------------------------------------------------------------------------- memory
def smaps_mb(pid="self") -> dict[str, float]:
    """RSS, PSS (shared pages split among the processes that map them) and private memory (USS: what the process
    alone costs) of a process in MB, from /proc/PID/smaps_rollup."""
    got = {"rss": 0, "pss": 0, "uss": 0}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("Rss", "Pss"):
                got[key.lower()] += int(line.split()[1])
            elif key in ("Private_Clean", "Private_Dirty"):
                got["uss"] += int(line.split()[1])
    return {k: v / 1024 for k, v in got.items()}


def resident_frames(pid):
    """The physical frame numbers of a process' resident pages (a sorted numpy array), or None where the kernel
    hides them (frame numbers need root)."""
    import numpy as np

    page = os.sysconf("SC_PAGE_SIZE")
    frames = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            if line.rstrip().endswith("[vsyscall]"):
                continue
            lo, hi = (int(a, 16) for a in line.split(None, 1)[0].split("-"))
            pagemap.seek(lo // page * 8)
            entries = np.frombuffer(pagemap.read((hi - lo) // page * 8), np.uint64)
            present = entries[(entries >> np.uint64(63)).astype(bool)]
            frames.append(present & np.uint64((1 << 55) - 1))
    frames = np.unique(np.concatenate(frames)) if frames else np.zeros(0, np.uint64)
    return None if len(frames) and not frames.any() else frames


def union_mb(pids) -> float | None:
    """The physical memory of ``pids`` together (each resident page once), in MB; None where frames are hidden.
    Raises OSError when a process has just exited."""
    import numpy as np

    frames = [resident_frames(p) for p in pids]
    if any(f is None for f in frames):
        return None
    return len(np.unique(np.concatenate(frames))) * os.sysconf("SC_PAGE_SIZE") / 2**20


def children(pid: int) -> list[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            kids += [int(k) for k in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:  # it has just exited
        pass
    return kids


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: its children, theirs, and so on."""
    found, todo = [], children(pid)
    while todo:
        found.append(todo.pop())
        todo += children(found[-1])
    return found


def trainer_pid(app_pid: int) -> int | None:
    """The app's training process: a child of the app's fork server (``app.py``), or else the app's child
    started by multiprocessing's spawn (not its resource tracker)."""
    for kid in children(app_pid):
        grandchildren = children(kid)
        if grandchildren:
            return grandchildren[0]
        try:
            if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                return kid
        except OSError:
            pass
    return None


class Memory:
    """Peak memory of the app (``app_pid``) and of its trainer (``trainer()`` gives its pid, or None while there is
    none), sampled every ``interval`` s until :meth:`stop`."""

    def __init__(self, app_pid=None, trainer=None, interval: float = 1.0):
        self.app_pid, self.trainer, self.interval = app_pid or os.getpid(), trainer, interval
        self.app, self.trainer_mb = dict(ZERO), dict(ZERO)
        self.sum = 0.0  # app RSS + the private memory of its other processes, sampled at the same moment
        self.union: float | None = 0.0  # all the app's processes together, each page once (None: frames hidden)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.is_set():
            pid = self.trainer() if self.trainer else None
            others = descendants(self.app_pid)  # the trainer, the fork server or multiprocessing's resource tracker
            try:
                app = smaps_mb(self.app_pid)
                trainer = smaps_mb(pid) if pid else dict(ZERO)
                helpers = sum(smaps_mb(p)["uss"] for p in others if p != pid)
            except OSError:  # the trainer has just exited
                time.sleep(self.interval)
                continue
            for peak, now in ((self.app, app), (self.trainer_mb, trainer)):
                for k in peak:
                    peak[k] = max(peak[k], now[k])
            self.sum = max(self.sum, app["rss"] + trainer["uss"] + helpers)
            if self.union is not None:
                try:
                    both = union_mb([self.app_pid] + others)
                    self.union = None if both is None else max(self.union, both)
                except OSError:  # the trainer has just exited
                    pass
            time.sleep(self.interval)

    @property
    def together(self) -> float:
        """The two together: the union of their pages where it can be read, else app RSS + trainer private."""
        return self.union if self.union else self.sum

    def stop(self):
        self._stop.set()
        self._thread.join()

    def report(self) -> dict:
        return {"app_mb": _mb(self.app), "trainer_mb": _mb(self.trainer_mb), "together_mb": round(self.together),
                "app_rss_plus_trainer_private_mb": round(self.sum),
                "union_mb": None if self.union is None else round(self.union)}


def _mb(d: dict) -> dict:
    return {k: round(v) for k, v in d.items()}


# ------------------------------------------------------------------------------------------ quality runs
def _run(task: str, seconds: float, quick: bool):
    """One run on the examples beside this process' app; returns (run, setup seconds)."""
    from PIL import Image

    from pix2pix_demo import live_run as live

    images = [Image.open(p).convert("RGB") for p in EXAMPLES]
    spec = live.LiveSpec(task=task, seconds=seconds, **(TINY if quick else {}))
    t0 = time.monotonic()
    run = live.start_exclusive(spec, images)
    while run.state not in ("training", "done", "error"):
        run.poll(1.0)
    setup = time.monotonic() - t0
    run.wait(seconds + 300)
    if run.state != "done":
        raise RuntimeError(f"the live run failed: {run.error}")
    return run, setup


# ------------------------------------------------------------------------------------------ the served app
def _settle(pid: int, timeout: float = 300.0) -> None:
    """Wait until the app's RSS has stopped growing (its models load and warm up in the background)."""
    end, last, still = time.monotonic() + timeout, 0.0, 0
    while still < 5 and time.monotonic() < end:
        time.sleep(1.0)
        rss = smaps_mb(pid)["rss"]
        still, last = (still + 1 if abs(rss - last) < 2 else 0), rss


def served(weights: Path, task: str, seconds: float, strokes: int, isolation: str = "process") -> dict:
    """``python app.py`` in its own process; a ``task`` run of ``seconds`` started through ``/learn``; ``strokes``
    pad strokes in Chromium before the run and while it trains; the memory of the app and its trainer throughout."""
    from gradio_client import Client

    from pix2pix_demo.live_run import DEFAULT_ARCHS

    base = Path(tempfile.mkdtemp(prefix="p2p-bench-learn-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, **private_env(base), P2P_LEARN_ISOLATION=isolation)
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--weights", str(weights)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: dict = {"isolation": isolation, "task": task, "seconds": seconds}
    try:
        wait_http(url, 240, proc)
        _settle(proc.pid)
        out["ready_mb"] = _mb(smaps_mb(proc.pid))
        union = union_mb([proc.pid] + descendants(proc.pid))  # with its fork server
        out["ready_union_mb"] = None if union is None else round(union)
        if strokes:
            out["stroke_ms_idle"] = stroke_latencies(url, strokes)
        job = Client(url, verbose=False).submit(task, None, None, None, seconds, list(DEFAULT_ARCHS),
                                                api_name="/learn")
        seen = {"status": "", "last": None}

        def follow():  # read the stream to its end (a run nobody reads stops itself)
            for update in job:
                seen["last"] = update
                if isinstance(update[7], str):
                    seen["status"] = update[7]

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        mem = Memory(proc.pid, (lambda: trainer_pid(proc.pid)) if isolation == "process" else None)
        t0 = time.monotonic()
        while "**Training**" not in seen["status"] and reader.is_alive() and time.monotonic() - t0 < 300:
            time.sleep(0.25)
        out["setup_s"] = time.monotonic() - t0
        if strokes:
            if not reader.is_alive():
                raise RuntimeError(f"the run ended before it trained: {seen['status']}")
            out["stroke_ms"] = stroke_latencies(url, strokes)
            if not reader.is_alive():
                raise RuntimeError("the run ended before the strokes were measured; lengthen it")
        reader.join(seconds + 300)
        mem.stop()
        time.sleep(3)
        out["after_mb"] = _mb(smaps_mb(proc.pid))
        out["memory"] = mem.report()
        out["status"] = seen["status"]
        out["table"] = seen["last"][6] if seen["last"] else None
        if "**Done**" not in seen["status"]:
            raise RuntimeError(f"the served run did not end well: {seen['status']}")
        return out
    finally:
        stop(proc)


# ---------------------------------------------------------------------------------------------- section
def learn(app: InProcessApp, quick: bool) -> Section:
    sec = Section("8. Watch them learn: live training on the examples, beside the app")
    seconds = 20 if quick else LEARN_S
    strokes = (3 if quick else 12) if app.url else 0
    rows, data = [], {}
    for task in (["day2night"] if quick else ["colorize", "day2night"]):
        run, setup = _run(task, seconds, quick)
        gens = run.result["generators"]
        e, u = gens["encoder_decoder"], gens["unet"]
        last3 = {a: [p["l1"] for p in run.history if p["arch"] == a and p["curve"] == "held-out"][-3:]
                 for a in ("encoder_decoder", "unet")}
        rows.append([task, f"{setup:.0f} s", run.result["step"], f"{e['steps_per_s']:.1f} / {u['steps_per_s']:.1f}",
                     f"{e['train_l1']:.4f} / {u['train_l1']:.4f}", f"{e['heldout_l1']:.4f} / {u['heldout_l1']:.4f}",
                     u["heldout_l1"] / e["heldout_l1"]])
        data[task] = {"setup_s": setup, "steps": run.result["step"], "history": run.history,
                      "final": {a: {k: v for k, v in g.items() if k != "picture"} for a, g in gens.items()},
                      "last3_heldout": last3}
        sec.targets.append(Target(f"learn {task}: U-Net / encoder-decoder held-out L1 after {seconds} s",
                                  u["heldout_l1"] / e["heldout_l1"], 1.0, "<=", "", gate=not quick))
    sec.table(["task", "setup", "steps", "steps/s (ED / U-Net)", "train L1 (ED / U-Net)",
               "held-out L1 (ED / U-Net)", "U-Net / ED"], rows)
    sec.notes.append(f"{'Tiny models, ' if quick else ''}{seconds} s of training per task after the setup "
                     "(a fresh TensorFlow in a child process at nice +10 on one core, the generators built and "
                     "traced); "
                     "L1 in the models' output encoding ([-1, 1]; CIELAB ab / 110 for colorize), held-out: the mean "
                     "over 4 crops of the images' far thirds, which no training crop touches.")

    # The deployed app: its memory, with a run and without, and the pad while it trains.
    weights = app.demo.zoo.dir
    res = served(weights, "day2night", 20 if quick else SERVED_S, strokes)
    data["served"] = res
    mem, ready = res["memory"], res["ready_mb"]
    with_server = (f"; with its fork server (the union of their pages) {res['ready_union_mb']} MB"
                   if res.get("ready_union_mb") else "")
    sec.notes.append(f"`python app.py`, every model loaded, before any training: RSS {ready['rss']:.0f} MB (private "
                     f"{ready['uss']:.0f} MB){with_server}.")
    if res.get("stroke_ms_idle"):
        base = res["stroke_ms_idle"]
        sec.notes.append(f"No training: {len(base)} pad strokes, median {settled_median(base):.0f} ms (max "
                         f"{max(base):.0f}).")
    if res.get("stroke_ms"):
        lat = res["stroke_ms"]
        sec.notes.append(f"While day2night trained ({res['seconds']:.0f} s, started through /learn): {len(lat)} pad "
                         f"strokes, median {settled_median(lat):.0f} ms (min {min(lat):.0f}, max {max(lat):.0f}) "
                         f"from pointerup to the new picture.")
        sec.targets.append(Target("learn: stroke end → new picture while training (Chromium)", settled_median(lat),
                                  STROKE_MS, "<=", "ms"))
    how = "the union of their resident pages" if mem["union_mb"] else "app RSS + the others' private memory"
    sec.notes.append(
        f"Memory while day2night trained (peaks): app RSS {mem['app_mb']['rss']} MB; trainer RSS "
        f"{mem['trainer_mb']['rss']} MB, of which {mem['trainer_mb']['uss']} MB private (the rest: pages shared with "
        f"the app: TensorFlow's library and, forked from the app's fork server, its imports); the app's processes "
        f"together (app, trainer, fork server; {how}) {mem['together_mb']} MB (app RSS + the others' private "
        f"memory: {mem['app_rss_plus_trainer_private_mb']} MB); app RSS after the run {res['after_mb']['rss']} MB.")
    sec.targets.append(Target("learn: app RSS while training", mem["app_mb"]["rss"], APP_RSS_MB, "<=", "MB"))
    sec.targets.append(Target("learn: app and trainer together while training (physical memory)",
                              mem["together_mb"], APP_RSS_MB, "<=", "MB"))
    if not quick and strokes:  # the alternative: train in a thread of the app (one TensorFlow, shared pools)
        alt = served(weights, "day2night", SERVED_S, strokes, isolation="thread")
        data["served_thread"] = alt
        med = settled_median(alt["stroke_ms"])
        sec.targets.append(Target("learn, isolation=thread: stroke end → new picture while training", med, STROKE_MS,
                                  "<=", "ms", gate=False))
        sec.targets.append(Target("learn, isolation=thread: app RSS while training", alt["memory"]["app_mb"]["rss"],
                                  APP_RSS_MB, "<=", "MB", gate=False))
        sec.notes.append(f"For comparison, isolation=\"thread\" (`P2P_LEARN_ISOLATION=thread`: training in a thread "
                         f"of the app, day2night, {SERVED_S} s): pad median {med:.0f} ms (max "
                         f"{max(alt['stroke_ms']):.0f}); app RSS {alt['memory']['app_mb']['rss']} MB with no second "
                         f"process, and {alt['after_mb']['rss']} MB after the run.")
    sec.data = data
    return sec
