"""Section 8: Watch them learn. After a minute of live training on the built-in examples, is the U-Net's held-out
L1 below the encoder-decoder's? And while a training runs, does the sketch pad keep its latency, and the app its
memory budget?"""

from __future__ import annotations

import threading
import time

from .browser import settled_median, stroke_latencies
from .common import ROOT, Section, Target
from .serving import APP_RSS_MB, STROKE_MS, InProcessApp

LEARN_S = 60
EXAMPLES = [ROOT / "examples" / "photos" / n for n in ("cat.jpg", "coffee.jpg", "meadow.jpg")]
TINY = {"image_size": 32, "base_filters": 8, "max_filters": 32, "disc_filters": 8, "batch_size": 4,
        "report_every": 1.0, "pool": 24}


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


class Memory:
    """Peak memory of this process (the app) and of the trainer process (if any), sampled while a run goes on."""

    def __init__(self, run):
        self.run = run
        self.app = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
        self.trainer = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
        self.together = 0.0  # app RSS + trainer private, sampled at the same moment: the memory the two take
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.is_set() and self.run.running:
            app, trainer = smaps_mb(), {"rss": 0.0, "pss": 0.0, "uss": 0.0}
            pid = self.run.pid
            if self.run.spec.isolation == "process" and pid:
                try:
                    trainer = smaps_mb(pid)
                except OSError:  # it has just exited
                    pass
            for peak, now in ((self.app, app), (self.trainer, trainer)):
                for k in peak:
                    peak[k] = max(peak[k], now[k])
            self.together = max(self.together, app["rss"] + trainer["uss"])
            time.sleep(0.2)

    def stop(self):
        self._stop.set()
        self._thread.join()


def _run(task: str, seconds: float, quick: bool, url: str | None, strokes: int, isolation: str = "process"):
    """One run on the examples; the strokes (if any) are drawn on the app's pad while it trains."""
    from PIL import Image

    from pix2pix_demo import live_run as live

    images = [Image.open(p).convert("RGB") for p in EXAMPLES]
    spec = live.LiveSpec(task=task, seconds=seconds, isolation=isolation, **(TINY if quick else {}))
    t0 = time.monotonic()
    run = live.start_exclusive(spec, images)
    mem = Memory(run)  # from the start: building and tracing the GAN steps is where the memory goes
    while run.state not in ("training", "done", "error"):
        run.poll(1.0)
    setup = time.monotonic() - t0
    latencies = []
    if url and strokes and run.state == "training":
        result = {}
        reader = threading.Thread(target=lambda: result.update(lat=stroke_latencies(url, strokes)), daemon=True)
        reader.start()
        while reader.is_alive():  # keep reading the run's reports (a run nobody reads stops itself)
            run.poll(0.5)
        latencies = result.get("lat", [])
        if not run.running:
            raise RuntimeError("the run ended before the strokes were measured; lengthen it")
    run.wait(seconds + 300)
    mem.stop()
    if run.state != "done":
        raise RuntimeError(f"the live run failed: {run.error}")
    return run, setup, latencies, mem


def _mb(d: dict) -> dict:
    return {k: round(v) for k, v in d.items()}


def learn(app: InProcessApp, quick: bool) -> Section:
    sec = Section("8. Watch them learn: live training on the examples, beside the app")
    seconds = 20 if quick else LEARN_S
    strokes = 3 if quick else 12
    rows, data = [], {"isolation": "process"}
    ready = smaps_mb()
    data["app_ready_mb"] = _mb(ready)
    sec.notes.append(f"The app with every model loaded, before any training: RSS {ready['rss']:.0f} MB (private "
                     f"{ready['uss']:.0f} MB).")
    if app.url:  # the same strokes with no training going on, for comparison
        base = stroke_latencies(app.url, strokes)
        data["stroke_ms_idle"] = base
        sec.notes.append(f"No training: {len(base)} pad strokes, median {settled_median(base):.0f} ms (max "
                         f"{max(base):.0f}).")
    for task in (["day2night"] if quick else ["colorize", "day2night"]):
        run, setup, lat, mem = _run(task, seconds, quick, app.url, strokes if task == "day2night" else 0)
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
        if lat:
            med = settled_median(lat)
            data["stroke_ms"] = lat
            sec.notes.append(f"While {task} trained: {len(lat)} pad strokes, median {med:.0f} ms "
                             f"(min {min(lat):.0f}, max {max(lat):.0f}) from pointerup to the new picture.")
            sec.targets.append(Target("learn: stroke end → new picture while training (Chromium)", med, STROKE_MS,
                                      "<=", "ms"))
        rss_sum = mem.app["rss"] + mem.trainer["rss"]
        data[f"memory_{task}"] = {"app_mb": _mb(mem.app), "trainer_mb": _mb(mem.trainer),
                                  "together_mb": round(mem.together), "rss_sum_mb": round(rss_sum)}
        sec.notes.append(
            f"Memory while {task} trained (peaks): app RSS {mem.app['rss']:.0f} MB (this benchmark process, every "
            f"model loaded); trainer RSS {mem.trainer['rss']:.0f} MB, of which {mem.trainer['uss']:.0f} MB private "
            f"(the rest: TensorFlow's library pages, shared with the app); together (app RSS + trainer private) "
            f"{mem.together:.0f} MB; the two RSS added, counting the shared pages twice: {rss_sum:.0f} MB.")
        if task == "day2night":  # the app's own RSS stays in budget; the two together do not (README)
            sec.targets.append(Target("learn: app RSS while training", mem.app["rss"], APP_RSS_MB, "<=", "MB"))
            sec.targets.append(Target("learn: app RSS + trainer private memory while training", mem.together,
                                      APP_RSS_MB, "<=", "MB", gate=False))
    if not quick and app.url:  # the alternative: train in a thread of the app (one TensorFlow, shared pools)
        run, setup, lat, mem = _run("day2night", 40, quick, app.url, strokes, isolation="thread")
        after = smaps_mb()
        med = settled_median(lat)
        data["thread"] = {"stroke_ms": lat, "app_mb": _mb(mem.app), "app_after_mb": _mb(after),
                          "steps": run.result["step"], "setup_s": setup}
        sec.targets.append(Target("learn, isolation=thread: stroke end → new picture while training", med, STROKE_MS,
                                  "<=", "ms", gate=False))
        sec.targets.append(Target("learn, isolation=thread: app RSS while training", mem.app["rss"], APP_RSS_MB,
                                  "<=", "MB", gate=False))
        sec.notes.append(f"For comparison, isolation=\"thread\" (training in a thread of the app, day2night, 40 s, "
                         f"{run.result['step']} steps): pad median {med:.0f} ms (max {max(lat):.0f}); app RSS "
                         f"{mem.app['rss']:.0f} MB with no second process, and still {after['rss']:.0f} MB after "
                         f"the run (TensorFlow and malloc keep what the training took). The default stays "
                         f"\"process\": its pad median was {settled_median(data.get('stroke_ms') or lat):.0f} ms, "
                         f"and its memory comes back when a run ends.")
    sec.table(["task", "setup", "steps", "steps/s (ED / U-Net)", "train L1 (ED / U-Net)",
               "held-out L1 (ED / U-Net)", "U-Net / ED"], rows)
    sec.notes.append(f"{'Tiny models, ' if quick else ''}{seconds} s of training per task after the setup "
                     "(a fresh TensorFlow in a child process at nice +10 on one core, the generators built and "
                     "traced); "
                     "L1 in the models' output encoding ([-1, 1]; CIELAB ab / 110 for colorize), held-out: the mean "
                     "over 4 crops of the images' far thirds, which no training crop touches.")
    sec.data = data
    return sec
