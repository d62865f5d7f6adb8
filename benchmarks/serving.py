"""Sections 2, 3 and 5: the app's own handlers (sketch pad, full-resolution photos) and the served app; and the
client side the benchmarks and the app tests share: a free port, waiting for the app, one event over the queue."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .browser import settled_median, stroke_latencies
from .common import ROOT, PeakRSS, Section, Target, median_ms, percentile, private_env, rss_mb
from .local_cluster import free_ports

SKETCH_HANDLER_MS = 30.0
STROKE_MS = 150.0
PHOTO_12MP_MS = 1500.0
STARTUP_S = 15.0
APP_RSS_MB = 1536.0
LEAK_MB = 64.0  # RSS growth allowed between the 100th and the 500th request

DRAWING = ROOT / "examples" / "sketch" / "cat_face.png"
PHOTO = ROOT / "examples" / "photos" / "meadow.jpg"


def free_port() -> int:
    return free_ports(1)[0]


def wait_http(url: str, timeout: float, proc=None) -> None:
    import httpx

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the app exited with status {proc.returncode} before serving")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class QueueAnswer:
    """What one event run over Gradio's queue protocol came back with."""

    success: bool
    data: list | None  # the outputs as the server sent them
    error: str  # the error message, "" when none; the response text when the server refused the join
    messages: list[dict] = field(default_factory=list)  # every ``data:`` message of the stream, decoded
    raw: str = ""  # every line of the stream as received (the refused join's response text)
    ms: float = 0.0  # from the first upload (or the join) to the answer: what a browser waits for


def stop(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """End an app process: ask it to stop, and kill it if it has not within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def queue_call(url: str, event: str | int, data: list, timeout: float = 60) -> QueueAnswer:
    """Run one event as the browser does: upload its files, join the queue, read the event stream to the end.

    ``event`` is an ``api_name`` or a ``fn_index`` (the app's private events have no API name). Files in ``data``
    are given as ``{"upload": path}`` and uploaded first; every other value is sent as it is, crafted
    ``{"path": …}`` payloads included. gradio_client is not used: it checks payloads and keeps only the latest
    status, so it cannot send hostile values nor show gr.Warning ("log") messages.
    """
    import httpx

    api = url + "gradio_api/"
    with httpx.Client(timeout=timeout) as http:
        if isinstance(event, str):
            config = http.get(url + "config").json()
            event = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == event)
        t0 = time.perf_counter()
        payload = []
        for item in data:
            if isinstance(item, dict) and "upload" in item:
                p = Path(item["upload"])
                path = http.post(api + "upload", files={"files": (p.name, p.read_bytes())}).json()[0]
                item = {"path": path, "orig_name": p.name, "meta": {"_type": "gradio.FileData"}}
            payload.append(item)
        session = uuid.uuid4().hex
        joined = http.post(api + "queue/join", json={"data": payload, "fn_index": event, "session_hash": session,
                                                     "event_data": None, "trigger_id": None})
        if joined.status_code != 200:
            return QueueAnswer(False, None, joined.text, raw=joined.text, ms=(time.perf_counter() - t0) * 1000)
        raw, messages = [], []
        with http.stream("GET", api + "queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                raw.append(line)
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                messages.append(msg)
                if msg.get("msg") == "process_completed":
                    out = msg.get("output") or {}
                    return QueueAnswer(bool(msg.get("success")), out.get("data"), str(out.get("error") or ""),
                                       messages, "\n".join(raw), (time.perf_counter() - t0) * 1000)
    return QueueAnswer(False, None, "no answer", messages, "\n".join(raw), (time.perf_counter() - t0) * 1000)


class InProcessApp:
    """The real Gradio app, built and served in this process: its handlers can be timed directly."""

    def __init__(self, weights: Path, serve: bool):
        from pix2pix_demo.ui import build_app, launch

        self.demo = build_app(weights)
        self.demo.zoo.warmed.wait(600)  # time the handlers, not the first trace of each model
        self.url = None
        if serve:
            port = free_port()
            launch(self.demo, port=port, prevent_thread_lock=True, quiet=True)
            self.url = f"http://127.0.0.1:{port}/"
            wait_http(self.url, 120)

    def handler(self, api_name: str):
        for block_fn in self.demo.fns.values():
            if block_fn.api_name == api_name:
                return block_fn.fn
        raise KeyError(api_name)

    def close(self):
        if self.url:
            self.demo.close()


def _pad_data_url(size: int = 512) -> str:
    """What the pad sends: a PNG data URL of the canvas (here an example drawing at the pad's size)."""
    img = Image.open(DRAWING).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# ---------------------------------------------------------------------------------------------- 2. sketch
def sketch(app: InProcessApp, weights: Path, quick: bool) -> Section:
    from pix2pix_demo import load
    from pix2pix_demo.ui import PAD_SIZE, Results, decode_data_url, load_upload
    from pix2pix_demo.ui.model_zoo import BACKENDS

    sec = Section("2. Sketch path: the live pad's handler and the browser round trip")
    repeats = 5 if quick else 40
    url = _pad_data_url(PAD_SIZE)
    handler = app.handler("sketch_live")
    total, _ = median_ms(lambda: handler(url), repeats, warmup=3)
    tr = load("sketch", "unet", weights / "sketch" / "unet", backend=BACKENDS.get("unet", "auto"))  # as the app
    results = Results(tempfile.mkdtemp(prefix="p2p-bench-"))
    img = load_upload(decode_data_url(url))
    x, ctx = tr.encode(img)  # the canonical strokes, and the (empty) hint channels of a hint-aware model
    y = tr.forward(x[None])[0]
    picture = tr.task.finish(y, ctx)
    parts = {
        "decode the PNG": median_ms(lambda: load_upload(decode_data_url(url)), repeats)[0],
        "canonical strokes and hint channels (encode)": median_ms(lambda: tr.encode(img), repeats)[0],
        f"model ({tr.backend})": median_ms(lambda: tr.forward(x[None]), repeats)[0],
        "finish": median_ms(lambda: tr.task.finish(y, ctx), repeats)[0],
        "encode the picture (JPEG)": median_ms(lambda: results.save(picture, "p", jpeg=True, quality=92),
                                               repeats)[0],
    }
    rows = [[k, v] for k, v in parts.items()] + [["**handler, end to end**", total]]
    sec.table(["sketch pad handler step", "median ms"], rows)
    sec.targets.append(Target("sketch handler: drawing → picture", total, SKETCH_HANDLER_MS, "<=", "ms"))
    sec.data = {"handler_ms": total, "parts_ms": parts, "backend": tr.backend, "repeats": repeats}
    if app.url:
        lat = stroke_latencies(app.url, strokes=4 if quick else 14)
        med = settled_median(lat)
        sec.data["stroke_to_picture_ms"] = {"median": med, "all": lat}
        sec.targets.append(Target("browser: stroke end → new picture (Chromium)", med, STROKE_MS, "<=", "ms"))
        sec.notes.append(f"Browser round trip over {len(lat)} strokes: median {med:.0f} ms, min {min(lat):.0f}, "
                         f"max {max(lat):.0f} (from the canvas' pointerup to the new picture's load event).")
    return sec


# ---------------------------------------------------------------------------------------------- 3. photos
def _photo_of(mp: float, folder: Path, limit: int) -> Path:
    w = int((mp * 1e6 * 4 / 3) ** 0.5)
    h = int(w * 3 / 4)
    while w * h > limit:
        w, h = w - 4, h - 3
    path = folder / f"photo_{mp:g}mp.jpg"
    Image.open(PHOTO).convert("RGB").resize((w, h), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def photos(app: InProcessApp, quick: bool) -> Section:
    from pix2pix_demo.ui import MAX_UPLOAD_PIXELS

    sec = Section("3. Full-resolution photos end to end (decode → model → full-size finish → JPEG), and compare")
    sizes = [1] if quick else [1, 4, 12, 24]
    repeats = 1 if quick else 3
    folder = Path(tempfile.mkdtemp(prefix="p2p-bench-photos-"))
    handlers = {"day2night": (lambda p: app.handler("day_night")(str(p), "day2night")),
                "colorize": (lambda p: app.handler("colorize")(str(p)))}
    rows, data = [], []
    files = {mp: _photo_of(mp, folder, MAX_UPLOAD_PIXELS) for mp in sizes}
    for task, run in handlers.items():
        for mp, path in files.items():
            with Image.open(path) as im:
                w, h = im.size
            run(path)  # warm-up: compiles the kernels for this width
            with PeakRSS() as mem:
                ms, runs = median_ms(lambda: run(path), repeats, warmup=0)
            mpx = w * h / 1e6
            rows.append([task, f"{w}×{h}", mpx, ms, ms / mpx, mem.peak, mem.peak - mem.start])
            data.append({"task": task, "width": w, "height": h, "megapixels": mpx, "median_ms": ms,
                         "ms_per_mp": ms / mpx, "peak_rss_mb": mem.peak, "rss_increase_mb": mem.peak - mem.start})
            if mp == 12:
                sec.targets.append(Target(f"{task}: 12 MP end to end", ms, PHOTO_12MP_MS, "<=", "ms"))
    sec.table(["task", "size", "MP", "median ms", "ms per MP", "peak RSS MB", "RSS increase MB"], rows)
    for task in handlers:
        pts = [(d["megapixels"], d["median_ms"]) for d in data if d["task"] == task]
        if len(pts) > 2:
            mp_, ms_ = np.array(pts).T
            slope, icept = np.polyfit(mp_, ms_, 1)
            r2 = 1 - ((ms_ - (slope * mp_ + icept)) ** 2).sum() / max(((ms_ - ms_.mean()) ** 2).sum(), 1e-9)
            sec.notes.append(f"{task}: time ≈ {icept:.0f} ms + {slope:.0f} ms per megapixel (R² = {r2:.3f}); "
                             f"peak RSS grows with the pixel count, see the table.")
            sec.data[f"{task}_fit"] = {"intercept_ms": icept, "ms_per_mp": slope, "r2": r2}
    sec.data["runs"] = data
    sec.data["repeats"] = repeats
    compare = app.handler("compare")
    decorate = app.handler("compare_features")
    cmp_rows = []
    for task, src in (("sketch", DRAWING), ("day2night", PHOTO)):
        def both():
            return decorate(compare(task, str(src), list(range(1, 9)))[-1])

        with Image.open(src) as im:
            size = f"{im.width}×{im.height}"
        ms, _ = median_ms(both, repeats + 2, warmup=1)
        cmp_rows.append([task, size, ms])
        sec.data[f"compare_{task}_ms"] = ms
    sec.tables.append("Compare view (three generators, then the U-Net's feature maps), handler time:")
    sec.table(["task", "input", "median ms"], cmp_rows)
    return sec


# ------------------------------------------------------------------------------------------------- 5. app
def _requests(client_factory, n: int, workers: int, on_done=None) -> tuple[list[float], int]:
    """Send ``n`` mixed requests from ``workers`` clients; returns (latencies ms, the failures' messages)."""
    from gradio_client import handle_file

    kinds = [
        lambda c: c.predict(handle_file(str(DRAWING)), api_name="/sketch"),
        lambda c: c.predict(handle_file(str(PHOTO)), "day2night", api_name="/day_night"),
        lambda c: c.predict(handle_file(str(PHOTO)), api_name="/colorize"),
        lambda c: c.predict("sketch", handle_file(str(DRAWING)), [], api_name="/compare"),
        lambda c: c.predict(handle_file(str(PHOTO)), "night2day", api_name="/day_night"),
    ]
    lat, failures, lock = [], [], threading.Lock()
    counter = iter(range(n))

    def worker(_):
        client = client_factory()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.perf_counter()
            error = None
            try:
                kinds[i % len(kinds)](client)
            except Exception as err:  # any failure counts
                error = f"request {i} ({i % len(kinds)}): {type(err).__name__}: {err}"
            with lock:
                lat.append((time.perf_counter() - t0) * 1000)
                if error:
                    failures.append(error)
                if on_done:
                    on_done(len(lat))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    return lat, failures


def app(weights: Path, quick: bool) -> Section:
    from gradio_client import Client

    sec = Section("5. The app: start-up, memory, a leak check and load")
    base = Path(tempfile.mkdtemp(prefix="p2p-bench-app-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--weights", str(weights)], cwd=ROOT,
                            env=dict(os.environ, **private_env(base)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    warm, server_errors = {}, []

    def watch_log():  # the app logs "warmed up N models" once every model has been traced in the background
        for line in proc.stderr:
            if ("ERROR" in line or "Traceback" in line or "Exception" in line) and len(server_errors) < 20:
                server_errors.append(line.strip())
            if "warmed up" in line and "s" not in warm:
                warm["s"] = time.perf_counter() - t0

    threading.Thread(target=watch_log, daemon=True).start()
    try:
        wait_http(url, 180, proc)
        startup = time.perf_counter() - t0
        end = time.monotonic() + 300
        while "s" not in warm and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.05)
        rss_ready = rss_mb(proc.pid)
        downloads = base / "downloads"

        def client():
            return Client(url, verbose=False, download_files=str(downloads))

        n_mixed = 20 if quick else 500
        marks = {}
        every = max(1, n_mixed // 5)

        def mark(done):
            if done % every == 0:
                marks[done] = rss_mb(proc.pid)

        t1 = time.perf_counter()
        lat_mixed, errors_mixed = _requests(client, n_mixed, workers=4, on_done=mark)
        mixed_s = time.perf_counter() - t1
        clients, per = (2, 2) if quick else (16, 10)
        t2 = time.perf_counter()
        lat, errors_load = _requests(client, clients * per, workers=clients)
        load_s = time.perf_counter() - t2
        rss_end = rss_mb(proc.pid)
    finally:
        stop(proc)
    fail_mixed, failures = len(errors_mixed), len(errors_load)
    for message in (errors_mixed + errors_load)[:5]:
        sec.notes.append(f"Failed: {message[:300]}")
    if errors_mixed or errors_load:
        sec.notes += [f"Server log: {line[:300]}" for line in server_errors[:5]]
    first = marks.get(every, rss_ready)
    last = marks.get(max(marks) if marks else every, rss_end)
    sec.table(["measure", "value"], [
        ["`python app.py` → page served", f"{startup:.1f} s"],
        ["`python app.py` → every model warmed up (in the background)", f"{warm.get('s', float('nan')):.1f} s"],
        ["RSS with every model loaded", f"{rss_ready:.0f} MB"],
        [f"RSS after each {every} of {n_mixed} mixed requests (4 clients)",
         ", ".join(f"{v:.0f}" for _, v in sorted(marks.items())) + " MB"],
        ["mixed requests: p50 / p95, failures", f"{percentile(lat_mixed, .5):.0f} / {percentile(lat_mixed, .95):.0f} "
                                                 f"ms, {fail_mixed} failed, {n_mixed / mixed_s:.1f} req/s"],
        [f"load: {clients} clients × {per} requests, p50 / p95",
         f"{percentile(lat, .5):.0f} / {percentile(lat, .95):.0f} ms"],
        ["load: throughput, failures", f"{clients * per / load_s:.1f} req/s, {failures} failed"],
    ])
    sec.notes.append("Mixed requests cycle through /sketch (a drawing), /day_night both ways and /colorize (a "
                     "640×427 photo) and /compare (a drawing, three generators).")
    sec.targets += [Target("start-up: `python app.py` → served", startup, STARTUP_S, "<=", "s"),
                    Target("RSS with every model loaded", rss_ready, APP_RSS_MB, "<=", "MB"),
                    Target(f"RSS growth, request {every} → {max(marks) if marks else n_mixed}", last - first,
                           LEAK_MB, "<=", "MB"),
                    Target("failed requests (mixed + load)", float(fail_mixed + failures), 0.0, "<=")]
    sec.data = {"startup_s": startup, "warm_s": warm.get("s"), "rss_ready_mb": rss_ready, "rss_marks_mb": marks,
                "rss_end_mb": rss_end,
                "mixed": {"n": n_mixed, "p50_ms": percentile(lat_mixed, .5), "p95_ms": percentile(lat_mixed, .95),
                          "failures": fail_mixed, "req_per_s": n_mixed / mixed_s},
                "load": {"clients": clients, "requests_each": per, "p50_ms": percentile(lat, .5),
                         "p95_ms": percentile(lat, .95), "req_per_s": clients * per / load_s, "failures": failures}}
    return sec
