"""The app in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium), nothing downloaded.

Screenshots of every tab go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import io
import statistics
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from app_fixtures import EXAMPLES, colourfulness
from benchmarks.browser import ARM_LATENCY, stroke

pytestmark = pytest.mark.timeout(600)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TIMEOUT = 60_000  # ms, for conditions that wait on the server (a busy 2-core machine)


@pytest.fixture
def page(browser, app_url):
    """A fresh page on the app; fails the test if the page asks for anything outside the app's own server."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    outside = []

    def guard(route):
        if route.request.url.startswith(app_url[:-1]) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(app_url)
    pg.wait_for_selector("#sketch-pad canvas.p2p-canvas", timeout=TIMEOUT)
    yield pg
    context.close()
    assert not outside, f"the page requested outside resources: {outside}"
    assert not errors, f"JavaScript errors: {errors}"


def shot(pg, name):
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name), full_page=True)


def fetch(url) -> Image.Image:
    img = Image.open(io.BytesIO(httpx.get(url, timeout=30).content))
    img.load()
    return img


def img_src(pg, selector) -> str:
    return pg.evaluate(f"(document.querySelector({selector!r} + ' img') || {{}}).src || ''")


def wait_new_src(pg, selector, old):
    pg.wait_for_function(
        """([sel, old]) => { const i = document.querySelector(sel + ' img');
                             return i && i.src && i.src !== old && i.complete && i.naturalWidth > 0; }""",
        arg=[selector, old], timeout=TIMEOUT)
    return img_src(pg, selector)


def ink(pg, selector="#sketch-pad") -> int:
    """Dark pixels on the pad's canvas."""
    return pg.evaluate("""(sel) => { const c = document.querySelector(sel + ' canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; }""", selector)


HOUSE = [[(0.25, 0.5), (0.25, 0.85), (0.75, 0.85), (0.75, 0.5), (0.25, 0.5)],
         [(0.2, 0.52), (0.5, 0.2), (0.8, 0.52)],
         [(0.45, 0.85), (0.45, 0.66), (0.56, 0.66), (0.56, 0.85)]]


# ---------------------------------------------------------------------------------------------- sketch
def test_sketch_pad_draws_live_pictures(page):
    pg = page
    assert "empty" in pg.locator("#sketch-hint").inner_text().lower()
    old = img_src(pg, "#sketch-picture")
    stroke(pg, HOUSE[0])
    src = wait_new_src(pg, "#sketch-picture", old)  # no button pressed: the picture follows the stroke
    pic = fetch(src)
    assert pic.size == (512, 512) and colourfulness(pic) > 5, "a coloured picture appears"
    assert ink(pg) > 500, "the drawing survives the value update"
    for s in HOUSE[1:]:
        old = src
        stroke(pg, s)
        src = wait_new_src(pg, "#sketch-picture", old)
    seen = fetch(img_src(pg, "#sketch-seen")).convert("L")
    assert np.asarray(seen).min() < 100, "the canonical sketch the model sees is shown"
    assert "ms" in pg.locator("#sketch-hint").inner_text()
    shot(pg, "01_sketch.png")

    # Undo removes the last stroke and updates the picture; the eraser removes ink; clear empties the pad.
    before = ink(pg)
    pg.locator("#sketch-pad [data-act=undo]").click()
    src = wait_new_src(pg, "#sketch-picture", src)
    assert ink(pg) < before
    pg.locator("#sketch-pad [data-tool=eraser]").click()
    before = ink(pg)
    stroke(pg, [(0.2, 0.5), (0.8, 0.5)])
    src = wait_new_src(pg, "#sketch-picture", src)
    assert ink(pg) < before
    pg.locator("#sketch-pad [data-tool=pen]").click()
    pg.locator("#sketch-pad [data-act=clear]").click()
    pg.wait_for_function("document.querySelector('#sketch-hint').innerText.toLowerCase().includes('empty')",
                         timeout=TIMEOUT)
    assert ink(pg) == 0
    pg.wait_for_function("!document.querySelector('#sketch-picture img')", timeout=TIMEOUT)
    pg.locator("#sketch-pad [data-act=undo]").click()  # the clear itself can be undone
    wait_new_src(pg, "#sketch-picture", "")
    assert ink(pg) > 500


def test_sketch_stroke_to_picture_latency(page):
    """Median time from the end of a stroke to the new picture loaded in the page, over 10 strokes."""
    pg = page
    lat = []
    for k in range(12):
        pg.evaluate(ARM_LATENCY)
        x = 0.15 + 0.06 * k
        stroke(pg, [(x, 0.15), (x + 0.05, 0.5), (x, 0.85)])
        pg.wait_for_function("window.__lat !== null", timeout=TIMEOUT)
        lat.append(pg.evaluate("window.__lat"))
    median = statistics.median(lat[2:])  # the first strokes warm up the page
    print(f"\nstroke end → picture: median {median:.0f} ms over 10 strokes "
          f"(min {min(lat[2:]):.0f}, max {max(lat[2:]):.0f})")
    assert median < 1000  # the target is 300 ms (measured ~90 ms); this bound only guards a busy CI machine


def test_sketch_example_loads_into_the_pad(page):
    pg = page
    old = img_src(pg, "#sketch-picture")
    pg.locator("#tab-sketch .gallery-item, #tab-sketch button.gallery-item").first.click()
    wait_new_src(pg, "#sketch-picture", old)
    pg.wait_for_function("""() => { const c = document.querySelector('#sketch-pad canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 128) return true; return false; }""", timeout=TIMEOUT)
    assert ink(pg) > 1000, "the example drawing is on the pad, ready to be edited"


# -------------------------------------------------------------------------------------------- photos
def slider_images(pg, slider: str) -> list:
    """Wait until both pictures of an ImageSlider have loaded; return [natural width, height, src] of each."""
    pg.wait_for_function("""(sel) => { const im = document.querySelectorAll(sel + ' img');
        return im.length >= 2 && Array.from(im).every(i => i.complete && i.naturalWidth > 0); }""",
                         arg=slider, timeout=TIMEOUT)
    return pg.evaluate("(sel) => Array.from(document.querySelectorAll(sel + ' img'))"
                       ".map(i => [i.naturalWidth, i.naturalHeight, i.src])", slider)


def test_day_night_slider_shows_the_full_size_result(page, tmp_path):
    pg = page
    path = tmp_path / "meadow_big.jpg"
    Image.open(EXAMPLES / "photos" / "meadow.jpg").resize((1000, 700)).save(path, quality=92)
    pg.get_by_role("tab", name="Day ↔ Night").click()
    pg.locator("#dn-photo input[type=file]").set_input_files(str(path))
    sizes = slider_images(pg, "#dn-slider")
    assert [s[:2] for s in sizes[:2]] == [[1000, 700], [1000, 700]]
    assert sizes[1][2].endswith("night.jpg")
    link = pg.locator("#dn-file a").first
    assert link.get_attribute("href")
    assert fetch(link.get_attribute("href")).size == (1000, 700), "the download is the full-size file"
    old = sizes[1][2]
    pg.locator("#dn-direction label", has_text="Night → Day").click()  # switching direction re-runs
    pg.wait_for_function("""(old) => { const im = document.querySelectorAll('#dn-slider img');
        return im.length >= 2 && im[1].src !== old && im[1].src.endsWith('day.jpg'); }""", arg=old, timeout=TIMEOUT)
    pg.locator("#dn-direction label", has_text="Day → Night").click()
    pg.wait_for_function("""() => { const im = document.querySelectorAll('#dn-slider img');
        return im.length >= 2 && im[1].src.endsWith('night.jpg') && im[1].complete; }""", timeout=TIMEOUT)
    shot(pg, "02_day_night.png")


def test_colorize_slider_and_original_colours(page, tmp_path):
    pg = page
    path = tmp_path / "cat_big.png"
    Image.open(EXAMPLES / "photos" / "cat.jpg").resize((900, 600)).save(path)
    pg.get_by_role("tab", name="Colorize").click()
    pg.locator("#col-photo input[type=file]").set_input_files(str(path))
    srcs = slider_images(pg, "#col-slider")
    assert [s[:2] for s in srcs[:2]] == [[900, 600], [900, 600]]
    assert srcs[0][2].endswith("gray.png") and srcs[1][2].endswith("colorized.png")
    assert colourfulness(fetch(srcs[0][2])) < 1, "left: the upload turned to gray"
    assert "in colour" in pg.locator("#col-note").inner_text()
    pg.locator("#col-original input").check()
    # The original is shown from the upload itself (an RGB PNG needs no re-encoding).
    pg.wait_for_function("!document.querySelectorAll('#col-slider img')[0].src.endsWith('gray.png')",
                         timeout=TIMEOUT)
    assert colourfulness(fetch(img_src(pg, "#col-slider"))) > 10, "left: the original colours"
    shot(pg, "03_colorize.png")


# -------------------------------------------------------------------------------------------- compare
def test_compare_shows_three_generators_and_switches_skips(page):
    pg = page
    pg.get_by_role("tab", name="Skip vs No-skip").click()
    pg.locator("#cmp-image input[type=file]").set_input_files(str(EXAMPLES / "sketch" / "house.png"))
    for arch in ("encoder_decoder", "unet", "mobilenet_unet"):
        wait_new_src(pg, f"#cmp-{arch}", "")
    pg.wait_for_function("document.querySelectorAll('#cmp-features img').length >= 6", timeout=TIMEOUT)
    pg.wait_for_function("document.querySelector('#cmp-unet-caption').innerText.includes('ms')", timeout=TIMEOUT)
    caption = pg.locator("#cmp-unet-caption").inner_text()
    assert "M params" in caption and "off" not in caption
    table = pg.locator("#cmp-table").inner_text()
    assert all(name in table for name in ("Encoder–decoder (no skips)", "U-Net (skips)", "MobileNet U-Net"))
    assert "PSNR" in table and "0.3000" in table  # the encoder-decoder's held-out L1 from its metrics.json
    assert "emoji: test set (" in table  # the held-out source it was measured on, and its number of pictures
    unet = img_src(pg, "#cmp-unet")
    ed = img_src(pg, "#cmp-encoder_decoder")
    before = np.asarray(fetch(unet), np.float32)

    pg.locator("#cmp-skips input[type=checkbox]").first.uncheck()
    new = wait_new_src(pg, "#cmp-unet", unet)
    after = np.asarray(fetch(new), np.float32)
    assert np.abs(before - after).mean() > 0.5, "the U-Net's picture changes without its outermost skip"
    assert img_src(pg, "#cmp-encoder_decoder") == ed, "the other generators are not re-run"
    pg.wait_for_function("document.querySelector('#cmp-unet-caption').innerText.includes('off')", timeout=TIMEOUT)
    shot(pg, "04_compare.png")


def test_compare_draw_for_the_sketch_task(page):
    pg = page
    pg.get_by_role("tab", name="Skip vs No-skip").click()
    pg.locator("#cmp-draw").get_by_text("Draw (for Sketch → Image)").click()
    pg.wait_for_selector("#cmp-pad canvas", state="visible", timeout=TIMEOUT)
    stroke(pg, HOUSE[0], "#cmp-pad canvas")
    for arch in ("encoder_decoder", "unet", "mobilenet_unet"):
        wait_new_src(pg, f"#cmp-{arch}", "")
    assert fetch(img_src(pg, "#cmp-unet")).size == (512, 512)
