"""Chromium (Debian's /usr/bin/chromium, driven by Playwright): stroke end → new picture on the sketch pad.

The browser tests import the same measurement, so the test and the benchmark cannot drift apart.
"""

from __future__ import annotations

import statistics
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"

#: Arms a one-shot timer: from the pad canvas' ``pointerup`` to the ``load`` of the next new output picture.
ARM_LATENCY = """() => {
  window.__lat = null;
  const canvas = document.querySelector('#sketch-pad canvas');
  const box = document.querySelector('#sketch-picture');
  const old = (box.querySelector('img') || {}).src || '';
  canvas.addEventListener('pointerup', () => { window.__t0 = performance.now(); }, {once: true});
  const done = (img) => { const f = () => { window.__lat = performance.now() - window.__t0; };
                          if (img.complete && img.naturalWidth) f(); else img.addEventListener('load', f, {once: true}); };
  const obs = new MutationObserver(() => { const img = box.querySelector('img');
      if (img && img.src && img.src !== old) { obs.disconnect(); done(img); } });
  obs.observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def stroke(page, points, selector="#sketch-pad canvas", steps: int = 5):
    """Draw a polyline given in [0, 1] pad coordinates with the mouse."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    xy = [(box["x"] + box["width"] * x, box["y"] + box["height"] * y) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for a, b in zip(xy, xy[1:]):
        for i in range(1, steps + 1):
            t = i / steps
            page.mouse.move(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
    page.mouse.up()


@contextmanager
def chromium():
    """Debian's Chromium, launched headless by Playwright (without its sandbox) and closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def stroke_latencies(url: str, strokes: int = 12, timeout_ms: int = 60_000) -> list[float]:
    """Draw ``strokes`` strokes on the live pad; the ms from each stroke's end to its new picture."""
    out = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#sketch-pad canvas.p2p-canvas", timeout=timeout_ms)
        page.wait_for_selector("#sketch-picture", state="attached", timeout=timeout_ms)  # under load it can come later
        for k in range(strokes):
            page.evaluate(ARM_LATENCY)
            x = 0.15 + 0.06 * (k % 12)
            stroke(page, [(x, 0.15), (x + 0.05, 0.5), (x, 0.85)])
            page.wait_for_function("window.__lat !== null", timeout=timeout_ms)
            out.append(page.evaluate("window.__lat"))
    return out


def settled_median(latencies: list[float], skip: int = 2) -> float:
    """Median after the first ``skip`` strokes (which warm up the page), or of all when there are few."""
    return statistics.median(latencies[skip:] if len(latencies) > skip + 2 else latencies)
