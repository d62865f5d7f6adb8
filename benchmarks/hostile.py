"""Section 6: hostile load. Ten clients upload a 99-megapixel PNG of a few hundred KB at once, while a pad keeps
drawing; the served app's memory is sampled throughout and 30 s after the burst."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw

from .common import ROOT, Section, Target, percentile, private_env, rss_mb
from .serving import free_port, queue_call, wait_http
from .serving import stop as stop_app  # `stop` here is the drawer's event

PEAK_RSS_MB = 3072.0
AFTER_RSS_MB = 1536.0
STROKE_MS = 1000.0
SETTLE_S = 30.0


def big_png(path: Path, size: tuple[int, int]) -> Path:
    """A large RGB PNG that compresses to a few hundred KB: flat colour with a few shapes."""
    img = Image.new("RGB", size, (90, 140, 200))
    d = ImageDraw.Draw(img)
    w, h = size
    for i in range(8):
        d.ellipse((i * w // 9, h // 4, i * w // 9 + w // 10, h // 4 + w // 10), fill=(200, 60 + 20 * i, 40))
    img.save(path, "PNG", compress_level=9)
    return path


def call(url: str, api_name: str, data: list, timeout: float = 300) -> tuple[bool, str, float]:
    """One event over the queue protocol: (success, error text, ms from upload to answer). Files are
    ``{"upload": path}``."""
    answer = queue_call(url, api_name, data, timeout)
    return answer.success, answer.error, answer.ms


def _pad_url() -> str:
    img = Image.open(ROOT / "examples" / "sketch" / "cat_face.png").convert("RGB").resize((512, 512))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def hostile(weights: Path, quick: bool) -> Section:
    sec = Section("6. Hostile load: concurrent huge uploads, memory and the pad")
    base = Path(tempfile.mkdtemp(prefix="p2p-bench-hostile-"))
    n, size = (3, (4000, 3000)) if quick else (10, (10000, 9900))
    png = big_png(base / "huge.png", size)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--weights", str(weights)], cwd=ROOT,
                            env=dict(os.environ, **private_env(base)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            try:
                samples.append(rss_mb(proc.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.02)

    try:
        wait_http(url, 180, proc)
        pad = _pad_url()
        for _ in range(3):  # the models' first traces happen in the background; let them finish
            call(url, "sketch_live", [pad])
        time.sleep(5 if quick else 20)
        rss_before = rss_mb(proc.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        endpoints = [("colorize", lambda: [{"upload": png}]), ("day_night", lambda: [{"upload": png}, "day2night"]),
                     ("compare", lambda: ["colorize", {"upload": png}, None]), ("sketch", lambda: [{"upload": png}])]
        burst_done = threading.Event()
        strokes = []

        def draw():  # at least one stroke, then one every 0.3 s until the burst is over
            while True:
                ok, error, ms = call(url, "sketch_live", [pad])
                strokes.append(ms if ok else float("inf"))
                if burst_done.wait(0.3):
                    return

        drawer = threading.Thread(target=draw, daemon=True)
        drawer.start()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(lambda i: call(url, endpoints[i % len(endpoints)][0],
                                                   endpoints[i % len(endpoints)][1]()), range(n)))
        burst_s = time.perf_counter() - t0
        burst_done.set()
        drawer.join()
        peak = max(samples)
        time.sleep(SETTLE_S)
        rss_after = rss_mb(proc.pid)
    finally:
        stop.set()
        stop_app(proc)
    ok = sum(1 for a in answers if a[0])
    busy = sum(1 for a in answers if "busy" in a[1])
    other = [a[1] for a in answers if not a[0] and "busy" not in a[1]]
    mp = size[0] * size[1] / 1e6
    sec.table(["measure", "value"], [
        ["upload", f"{size[0]}×{size[1]} RGB PNG ({mp:.0f} MP), {png.stat().st_size / 1024:.0f} KB"],
        ["concurrent requests (colorize, day_night, compare, sketch in turn)", n],
        ["answered with a picture / told the server is busy / other", f"{ok} / {busy} / {len(other)}"],
        ["burst wall time", f"{burst_s:.1f} s"],
        ["RSS before → peak → 30 s after", f"{rss_before:.0f} → {peak:.0f} → {rss_after:.0f} MB"],
        ["pad strokes during the burst: n, median, max", f"{len(strokes)}, {percentile(strokes, .5):.0f} ms, "
                                                         f"{max(strokes, default=float('nan')):.0f} ms"],
    ])
    for message in other[:3]:
        sec.notes.append(f"Other answer: {message[:200]}")
    sec.notes.append("Uploads larger than 24 MP are scaled down while decoding (JPEG at 1/2–1/8 scale; other formats "
                     "right after decoding) within an app-wide memory budget, on low-priority threads; the pad has "
                     "its own queue group, runs at normal priority and never waits for that budget.")
    sec.targets += [Target(f"hostile: peak RSS, {n} × {mp:.0f} MP at once", peak, PEAK_RSS_MB, "<=", "MB"),
                    Target("hostile: RSS 30 s after the burst", rss_after, AFTER_RSS_MB, "<=", "MB"),
                    Target("hostile: slowest pad stroke during the burst", max(strokes, default=float("inf")),
                           STROKE_MS, "<=", "ms"),
                    Target("hostile: answers that are neither a picture nor 'busy'", float(len(other)), 0.0, "<=")]
    sec.data = {"n": n, "size": size, "png_kb": png.stat().st_size / 1024, "ok": ok, "busy": busy,
                "other": other, "burst_s": burst_s, "rss_before_mb": rss_before, "rss_peak_mb": peak,
                "rss_after_mb": rss_after, "strokes_ms": strokes}
    return sec
