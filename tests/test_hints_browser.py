"""Colour hints in a real browser (Playwright driving Debian's Chromium): the pad's colour brush, the Colorize tab's
hint canvas with its live preview and full-resolution result, and the same hints in the Compare tab.

The hint-aware app (``hint_app``) serves tiny models whose U-Nets paint each hint's colour around it, so a test can
check that a stroke's colour lands where it was drawn. The latencies asked of the live paths are measured and
printed (run with ``-s``), not asserted: they belong to the benchmarks. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import base64
import io
import json
import statistics

import numpy as np
import pytest
from PIL import Image

from app_fixtures import EXAMPLES, in_sketch_picture
from benchmarks.browser import ARM_LATENCY, stroke
from test_app_browser import HOUSE, TIMEOUT, fetch, img_src, shot, wait_new_src

pytestmark = pytest.mark.timeout(600)

RED, BLUE = "#e53935", "#1e4fd8"

#: Like benchmarks.browser.ARM_LATENCY, for the Colorize tab: the hint canvas's pointerup → the new preview loaded.
ARM_PREVIEW = ARM_LATENCY.replace("#sketch-pad canvas", "#col-canvas canvas").replace("#sketch-picture",
                                                                                       "#col-preview")


def open_page(browser, url):
    """A page on ``url`` that records JavaScript errors and the data of every queued request."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    pg = context.new_page()
    pg.errors, pg.sent = [], []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))

    def record(request):
        if request.method == "POST" and "queue/join" in request.url:
            pg.sent.append(json.loads(request.post_data or "{}").get("data"))

    pg.on("request", record)
    pg.goto(url)
    pg.wait_for_selector("#sketch-pad canvas.p2p-canvas", timeout=TIMEOUT)
    return pg


@pytest.fixture
def page(browser, hint_app):
    pg = open_page(browser, hint_app["url"])
    yield pg
    pg.context.close()
    assert not pg.errors, f"JavaScript errors: {pg.errors}"


def chroma_towards(rgb, hex_colour) -> float:
    """Cosine between the chroma of ``rgb`` and of ``hex_colour`` (1: the same hue)."""
    t = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], np.float32)
    c, t = np.asarray(rgb, np.float32) - np.mean(rgb), t - t.mean()
    return float(c @ t / (np.linalg.norm(c) * np.linalg.norm(t) + 1e-6))


def mean_at(img: Image.Image, x: float, y: float, r: int = 4) -> np.ndarray:
    a = np.asarray(img.convert("RGB"), np.float32)
    x, y = int(round(x)), int(round(y))
    return a[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].reshape(-1, 3).mean(0)


def pad_value(pg):
    """The pad's value as last sent to the server (a PNG data URL, or the JSON form parsed)."""
    for data in reversed(pg.sent):
        if data and len(data) == 1 and isinstance(data[0], str) and data[0][:1] in ("{", "d"):
            return json.loads(data[0]) if data[0].startswith("{") else data[0]
    return None


def canvas_value(pg, where: int = 1):
    """The hint canvas's value as last sent (argument ``where`` of its event)."""
    for data in reversed(pg.sent):
        if data and len(data) == where + 1 and isinstance(data[where], dict) and "hints" in data[where]:
            return data[where]
    return None


def drawing_of(value) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(value["drawing"].split(",", 1)[1]))).convert("RGB")


def click_at(pg, selector, x, y):
    pg.locator(selector).scroll_into_view_if_needed()
    box = pg.locator(selector).bounding_box()
    pg.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)


def latency(pg, arm: str, act) -> float:
    pg.evaluate(arm)
    act()
    pg.wait_for_function("window.__lat !== null", timeout=TIMEOUT)
    return pg.evaluate("window.__lat")


def report(name: str, lat: list[float]) -> float:
    med = statistics.median(lat)
    print(f"\n{name}: median {med:.0f} ms over {len(lat)} (min {min(lat):.0f}, max {max(lat):.0f})")
    return med


# ------------------------------------------------------------------------------------------------ the pad
def test_pad_colour_stroke_colours_that_region(page):
    pg = page
    assert pg.locator("#sketch-pad [data-tool=colour]").is_visible()
    src = ""
    for s in HOUSE:
        stroke(pg, s)
        src = wait_new_src(pg, "#sketch-picture", src)
    pg.locator(f"#sketch-pad .p2p-palette [data-color='{RED}']").click()
    assert pg.locator("#sketch-pad [data-tool=colour]").get_attribute("aria-pressed") == "true"
    line = [(0.32, 0.6), (0.68, 0.6)]  # inside the walls, above the door
    stroke(pg, line)
    src = wait_new_src(pg, "#sketch-picture", src)

    value = pad_value(pg)  # a JSON string once there are colour strokes
    assert value["hints"] and {h["color"] for h in value["hints"]} == {RED}
    assert all(abs(h["y"] - 0.6 * 512) < 2 for h in value["hints"]), "points along the stroke, in pad pixels"
    drawing = drawing_of(value)
    band = np.asarray(drawing.convert("L"))[300:315, 175:345]
    assert band.min() > 200, "the colour stroke did not become ink"
    pic = fetch(src)
    where = in_sketch_picture(drawing, 0.5 * 512, 0.6 * 512, pic.size)
    here = mean_at(pic, *where)
    assert chroma_towards(here, RED) > 0.9 and here[0] - here[2] > 60, here
    assert "colour point" in pg.locator("#sketch-hint").inner_text()
    shot(pg, "hints_01_pad.png")

    # The eraser removes colour as well as ink: with no colour left, the value is a plain PNG data URL again.
    pg.locator("#sketch-pad [data-tool=eraser]").click()
    stroke(pg, line)
    src = wait_new_src(pg, "#sketch-picture", src)
    assert pad_value(pg).startswith("data:image/png;base64,")
    assert np.ptp(mean_at(fetch(src), *where)) < 15, "the colour is gone"
    pg.locator("#sketch-pad [data-act=undo]").click()
    src = wait_new_src(pg, "#sketch-picture", src)
    assert chroma_towards(mean_at(fetch(src), *where), RED) > 0.9, "undo brings the colour back"

    # Stroke end → picture, for colour strokes (short strokes inside the walls, in several colours).
    lat = []
    for k in range(10):
        pg.locator("#sketch-pad .p2p-palette .p2p-swatch").nth(k % 8).click()
        x = 0.3 + 0.04 * k
        lat.append(latency(pg, ARM_LATENCY, lambda: stroke(pg, [(x, 0.55), (x + 0.02, 0.62)])))
    report("pad colour stroke end → picture", lat[2:])


# -------------------------------------------------------------------------------------------- colorize
def test_colorize_point_colours_the_region_around_it(page, tmp_path):
    from pix2pix_demo.imaging import rgb_to_lab

    pg = page
    path = tmp_path / "coffee_1mp.jpg"
    Image.open(EXAMPLES / "photos" / "coffee_gray.jpg").convert("L").resize((1155, 866)).save(path, quality=92)
    pg.get_by_role("tab", name="Colorize").click()
    pg.locator("#col-photo input[type=file]").set_input_files(str(path))
    pg.wait_for_selector("#col-canvas canvas:not([hidden])", timeout=TIMEOUT)
    first = wait_new_src(pg, "#col-preview", "")
    before = fetch(first)
    assert before.width * before.height <= 500_000 and abs(before.width / before.height - 1155 / 866) < 0.01

    pg.locator(f"#col-canvas .p2p-palette [data-color='{BLUE}']").click()
    click_at(pg, "#col-canvas canvas", 0.3, 0.4)
    src = wait_new_src(pg, "#col-preview", first)
    value = canvas_value(pg)
    assert value == {"hints": [{"x": pytest.approx(0.3 * 1155 - 0.5, abs=2), "y": pytest.approx(0.4 * 866 - 0.5,
                                                                                             abs=2),
                                "color": BLUE}]}, "one point, in the photo's own pixels"
    after = fetch(src)
    lab = rgb_to_lab(np.asarray(after.convert("RGB")))
    x, y = int(0.3 * after.width), int(0.4 * after.height)
    assert lab[y - 3:y + 4, x - 3:x + 4, 2].mean() < -10, "blue around the point"
    assert np.abs(lab[int(0.85 * after.height), int(0.85 * after.width), 1:]).max() < 4, "no colour far away"
    # The model's colours at that spot are offered; picking one recolours the selected point.
    swatches = pg.locator("#col-canvas .p2p-suggested .p2p-swatch")
    assert swatches.count() == 3
    suggested = swatches.first.get_attribute("data-color")
    assert chroma_towards(mean_at(before, x, y, 1), BLUE) < 0.9 and np.ptp(
        [int(suggested[i:i + 2], 16) for i in (1, 3, 5)]) < 12, "the model's own (gray) colour there"
    swatches.first.click()
    src = wait_new_src(pg, "#col-preview", src)
    assert canvas_value(pg)["hints"][0]["color"] == suggested
    pg.locator("#col-canvas [data-act=undo]").click()  # back to blue
    src = wait_new_src(pg, "#col-preview", src)
    assert canvas_value(pg)["hints"][0]["color"] == BLUE
    shot(pg, "hints_02_colorize.png")

    # Full resolution, on demand, with the same hints.
    pg.locator("#col-run").click()
    pg.wait_for_function("""() => { const im = document.querySelectorAll('#col-slider img');
        return im.length >= 2 && Array.from(im).every(i => i.complete && i.naturalWidth > 0); }""", timeout=TIMEOUT)
    full = fetch(pg.locator("#col-file a").first.get_attribute("href"))
    assert full.size == (1155, 866)
    lab = rgb_to_lab(np.asarray(full.convert("RGB")))
    fx, fy = int(0.3 * 1155), int(0.4 * 866)
    assert lab[fy - 5:fy + 6, fx - 5:fx + 6, 2].mean() < -10, "the full-size result has the hint too"

    # Point → preview, on a 1-megapixel photo.
    lat = [latency(pg, ARM_PREVIEW, lambda: click_at(pg, "#col-canvas canvas", 0.1 + 0.07 * k, 0.75))
           for k in range(10)]
    report("colorize point → live preview (1 MP photo)", lat[2:])
    src = img_src(pg, "#col-preview")
    pg.locator("#col-canvas [data-act=clear]").click()
    wait_new_src(pg, "#col-preview", src)
    assert canvas_value(pg) == {"hints": []}


# ---------------------------------------------------------------------------------------------- compare
def test_compare_gives_the_same_hints_to_all_three(page, tmp_path):
    pg = page
    pg.get_by_role("tab", name="Skip vs No-skip").click()
    pg.locator("#cmp-draw").get_by_text("Draw (for Sketch → Image)").click()
    pg.wait_for_selector("#cmp-pad canvas", state="visible", timeout=TIMEOUT)
    stroke(pg, HOUSE[0], "#cmp-pad canvas")
    unet = wait_new_src(pg, "#cmp-unet", "")
    pg.wait_for_function("document.querySelector('#cmp-unet-caption').innerText.includes('ms')", timeout=TIMEOUT)
    pg.locator(f"#cmp-pad .p2p-palette [data-color='{RED}']").click()
    stroke(pg, [(0.35, 0.7), (0.65, 0.7)], "#cmp-pad canvas")
    unet = wait_new_src(pg, "#cmp-unet", unet)
    pg.wait_for_function("document.querySelector('#cmp-unet-caption').innerText.includes('colour point')",
                         timeout=TIMEOUT)
    where = in_sketch_picture(drawing_of(pad_value(pg)), 0.5 * 512, 0.7 * 512, (512, 512))
    u, e = mean_at(fetch(unet), *where), mean_at(fetch(img_src(pg, "#cmp-encoder_decoder")), *where)
    assert chroma_towards(u, RED) > 0.9 and u[0] - u[2] > 60, u
    assert np.ptp(e) < 15, "the encoder-decoder misses the hint"

    # Colorize: the hint canvas appears with the photo; a point re-runs all three generators with it.
    pg.locator("#cmp-task label", has_text="Colorize").click()
    pg.locator("#cmp-image input[type=file]").set_input_files(str(EXAMPLES / "photos" / "coffee_gray.jpg"))
    pg.wait_for_function("document.querySelector('#cmp-canvas canvas')?.width === 600", timeout=TIMEOUT)
    pg.wait_for_function("""() => { const i = document.querySelector('#cmp-unet img');
        return i && i.complete && i.naturalWidth === 600; }""", timeout=TIMEOUT)  # the photo's picture
    unet = img_src(pg, "#cmp-unet")
    pg.locator(f"#cmp-canvas .p2p-palette [data-color='{BLUE}']").click()
    click_at(pg, "#cmp-canvas canvas", 0.25, 0.75)
    unet = wait_new_src(pg, "#cmp-unet", unet)
    pg.wait_for_function("document.querySelector('#cmp-unet-caption').innerText.includes('1 colour point')",
                         timeout=TIMEOUT)
    pic = fetch(img_src(pg, "#cmp-unet"))
    assert chroma_towards(mean_at(pic, 0.25 * pic.width, 0.75 * pic.height), BLUE) > 0.8
    assert canvas_value(pg, 3) == {"hints": [{"x": pytest.approx(149.5, abs=2), "y": pytest.approx(299.5, abs=2),
                                              "color": BLUE}]}
    shot(pg, "hints_03_compare.png")


# ----------------------------------------------------------------------------------- models without hints
def test_without_hint_models_the_tools_are_hidden_with_a_note(browser, app_url):
    pg = open_page(browser, app_url)
    try:
        assert not pg.locator("#sketch-pad [data-tool=colour]").is_visible()
        assert not pg.locator("#sketch-pad .p2p-colours").is_visible()
        assert "takes no colour hints yet" in pg.locator("#sketch-hints-note").inner_text()
        pg.get_by_role("tab", name="Colorize").click()
        assert "The shipped colorize model takes no colour hints yet" in pg.locator("#col-hints-note").inner_text()
        assert pg.locator("#col-canvas").count() == 0
        assert not pg.errors, pg.errors
    finally:
        pg.context.close()
