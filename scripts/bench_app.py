"""Time the app end to end: stroke → picture in the browser, a 12 MP photo on each photo tab, the compare tab.

    python scripts/bench_app.py [--weights weights] [--megapixels 12] [--repeats 3] [--json out.json]

Serves the app in-process on a free port (temporary HOME/TMPDIR/GRADIO_TEMP_DIR, HF_HUB_OFFLINE=1). Without
--weights it times tiny random 64 px models (so the photo numbers are mostly pre/post-processing). Photo and
compare times are client-side (gradio_client: upload, queue, processing, download); the stroke latency is
measured in Chromium (/usr/bin/chromium) from the pointerup of a stroke to the new picture's `load` event.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _isolate() -> Path:
    base = Path(tempfile.mkdtemp(prefix="p2p-bench-"))
    for sub in ("home", "tmp", "gradio"):
        (base / sub).mkdir()
    os.environ.update({"HOME": str(base / "home"), "TMPDIR": str(base / "tmp"),
                       "GRADIO_TEMP_DIR": str(base / "gradio"), "HF_HUB_OFFLINE": "1",
                       "GRADIO_ANALYTICS_ENABLED": "False", "TF_CPP_MIN_LOG_LEVEL": "2"})
    tempfile.tempdir = None
    return base


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), times


def stroke_latency(url: str, strokes: int = 12) -> list[float]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests"))
    from test_app_browser import ARM_LATENCY  # the same measurement as the browser test

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#sketch-pad canvas")
        box = page.locator("#sketch-pad canvas").bounding_box()
        for k in range(strokes):
            page.evaluate(ARM_LATENCY)
            x = box["x"] + box["width"] * (0.15 + 0.06 * k)
            page.mouse.move(x, box["y"] + box["height"] * 0.15)
            page.mouse.down()
            for i in range(1, 11):
                page.mouse.move(x + 3 * i, box["y"] + box["height"] * (0.15 + 0.07 * i))
            page.mouse.up()
            page.wait_for_function("window.__lat !== null", timeout=60_000)
            out.append(page.evaluate("window.__lat"))
        browser.close()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", help="weights folder (default: tiny random models made for the run)")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    base = _isolate()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from PIL import Image
    from gradio_client import Client, handle_file

    from app_fixtures import make_weights, serve

    try:
        weights = Path(args.weights) if args.weights else make_weights(base / "weights")
        t0 = time.perf_counter()
        demo, url = serve(weights)
        startup = time.perf_counter() - t0
        client = Client(url, verbose=False, download_files=str(base / "downloads"))

        w = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
        h = int(round(w * 3 / 4))
        big = base / "big.jpg"
        Image.open(ROOT / "examples" / "photos" / "meadow.jpg").convert("RGB").resize(
            (w, h), Image.Resampling.BICUBIC).save(big, quality=90)
        results = {"weights": str(args.weights or "tiny random 64 px models"), "startup_s": round(startup, 1),
                   "photo": f"{w}x{h} JPEG ({w * h / 1e6:.1f} MP)"}

        def timed(name, fn):
            client_warm = fn()  # warm-up (also checks it works)
            med, all_ms = _median_time(fn, args.repeats)
            results[name] = {"median_ms": round(med), "runs_ms": [round(t) for t in all_ms]}
            print(f"{name:34s} {med:8.0f} ms   {[round(t) for t in all_ms]}", flush=True)
            return client_warm

        drawing = ROOT / "examples" / "sketch" / "cat_face.png"
        timed("/sketch (256 px drawing)", lambda: client.predict(handle_file(str(drawing)), api_name="/sketch"))
        out = timed(f"/day_night ({w * h / 1e6:.0f} MP)",
                    lambda: client.predict(handle_file(str(big)), "day2night", api_name="/day_night"))
        assert Image.open(out).size == (w, h)
        out = timed(f"/colorize ({w * h / 1e6:.0f} MP)",
                    lambda: client.predict(handle_file(str(big)), api_name="/colorize"))
        assert Image.open(out).size == (w, h)
        timed("/compare sketch (256 px drawing)",
              lambda: client.predict("sketch", handle_file(str(drawing)), api_name="/compare"))
        meadow = ROOT / "examples" / "photos" / "meadow.jpg"
        timed("/compare day2night (640 px photo)",
              lambda: client.predict("day2night", handle_file(str(meadow)), api_name="/compare"))

        lat = stroke_latency(url)
        results["stroke_to_picture_ms"] = {"median": round(statistics.median(lat[2:])),
                                           "all": [round(v) for v in lat]}
        print(f"{'stroke end → picture (browser)':34s} {statistics.median(lat[2:]):8.0f} ms   "
              f"{[round(v) for v in lat]} (median of the last {len(lat) - 2})")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        demo.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
