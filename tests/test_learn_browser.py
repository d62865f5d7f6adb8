"""Watch them learn in a real browser (Debian's Chromium via Playwright): a short run to its end, Stop, the
download, and the sketch pad while a training runs. Tiny models (32 px), so a run takes seconds, not minutes."""

from __future__ import annotations

import importlib
import io
import statistics
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from test_learn import TINY

from benchmarks.browser import ARM_LATENCY, stroke

pytestmark = pytest.mark.timeout(600)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TIMEOUT = 60_000
RUN_S = 240  # a short run's setup (a fresh TensorFlow, two models) and its 10 s, on a busy 2-core machine


@pytest.fixture
def live(monkeypatch):
    from pix2pix_demo import live_run

    monkeypatch.setattr(importlib.import_module("pix2pix_demo.ui.learn_tab"), "SPEC_OVERRIDES", dict(TINY))
    yield live_run
    run = live_run.current()
    if run is not None and run.running:
        run.stop()
        run.wait(120)


@pytest.fixture
def page(browser, app_url, live):
    """The app on the Watch them learn tab, with the day2night task and a time limit of ``seconds``."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(e))
    pg.goto(app_url)
    pg.wait_for_selector("#sketch-pad canvas.p2p-canvas", timeout=TIMEOUT)
    open_tab(pg, "learn")
    pg.locator("#learn-task").get_by_text("Day → Night").click()
    yield pg
    context.close()
    # "Cannot read properties of undefined (reading 'step')" came from the stream wiping the plot's value in the
    # browser (see test_learn.py::test_learn_stream_never_wipes_an_output_in_the_browser); no error is tolerated.
    assert not errors, f"JavaScript errors: {[e.message for e in errors]}"


def open_tab(pg, tab: str):
    pg.locator(f"#tab-{tab}-button").click()  # strict: fails if the tab's button is there twice


#: Every control of the tab, and the tab's own button.
CONTROLS = ["#tab-learn-button", "#learn-task", "#learn-image-1", "#learn-image-2", "#learn-image-3",
            "#learn-seconds", "#learn-archs", "#learn-start", "#learn-stop", "#learn-status", "#learn-plot"]


def test_each_learn_button_appears_once_and_is_visible(page):
    """Gradio 6.31 showed the tab's button twice once selected when a component sat directly in the Tabs, outside
    any tab, before it (the compare tab's drawing state did): the tab's place among the Tabs' children then differed
    from its place among the tabs, and it was registered at both."""
    pg = page
    for tab in ("compare", "learn", "sketch", "learn"):  # the compare tab first, as when the bug was found
        open_tab(pg, tab)
    pg.wait_for_selector("#learn-start", state="visible", timeout=TIMEOUT)
    for sel in CONTROLS:
        assert pg.locator(sel).count() == 1, f"{sel} appears {pg.locator(sel).count()} times"
        assert pg.locator(sel).is_visible(), f"{sel} is not visible"
    buttons = pg.locator("[role=tab]").evaluate_all("els => els.map(e => e.id)")
    assert buttons == ["tab-sketch-button", "tab-day-night-button", "tab-colorize-button", "tab-compare-button",
                       "tab-learn-button"], buttons
    assert pg.locator("#learn-start").inner_text().strip() == "Start"
    assert pg.locator("#learn-stop").inner_text().strip() == "Stop"


def set_seconds(pg, seconds: int):
    box = pg.locator("#learn-seconds input[type=number]")
    box.fill(str(seconds))
    box.press("Enter")
    box.blur()


def state(pg) -> dict:
    """What the tab shows now: each generator's picture, the plot's lines, the status and the download link."""
    return pg.evaluate("""() => {
        const src = (id) => (document.querySelector(id + ' img') || {}).src || '';
        const lines = [...document.querySelectorAll('#learn-plot svg .mark-line path')].map(
            p => (p.getAttribute('stroke') || 'none') + ' ' + p.getAttribute('d'));
        const link = document.querySelector('#learn-file a');
        return {ed: src('#learn-encoder_decoder'), unet: src('#learn-unet'), lines: lines,
                status: document.querySelector('#learn-status').innerText, file: link ? link.href : ''};
    }""")


def watch(pg, until, timeout_s: float = RUN_S) -> tuple[dict, dict]:
    """Poll the tab until ``until(state)``; return the last state and the distinct values each part showed."""
    seen = {"ed": set(), "unet": set(), "lines": set()}
    end = time.monotonic() + timeout_s
    while True:
        s = state(pg)
        for k in ("ed", "unet"):
            if s[k]:
                seen[k].add(s[k])
        if s["lines"]:
            seen["lines"].add("|".join(s["lines"]))
        if until(s):
            return s, seen
        assert time.monotonic() < end, f"timed out; the tab shows: {s['status']}"
        time.sleep(0.2)


def open_zip(url: str, folder: Path) -> list[str]:
    data = httpx.get(url, timeout=30).content
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(folder)
        return z.namelist()


def test_a_short_run_updates_curves_and_pictures_and_its_download_loads(page, tmp_path):
    from app_fixtures import EXAMPLES

    import pix2pix_demo

    pg = page
    set_seconds(pg, 10)
    pg.locator("#learn-start").click()
    last, seen = watch(pg, lambda s: "Done" in s["status"] and s["file"])
    assert "the time limit was reached" in last["status"], last["status"]
    assert len(seen["unet"]) >= 3 and len(seen["ed"]) >= 3, "the pictures update at least three times"
    assert len(seen["lines"]) >= 3, "the curves update at least three times"
    assert len(last["lines"]) == 4, "train and held-out curves of two generators on one plot"
    assert all(d.count("L") >= 3 for d in last["lines"]), "each curve has several points"
    assert len({d.split()[0] for d in last["lines"]} - {"none"}) == 4, "each curve in its own colour"
    table = pg.locator("#learn-table").inner_text()
    assert "U-Net" in table and "Encoder–decoder" in table and "held-out L1" in table
    names = open_zip(last["file"], tmp_path)
    assert {n.split("/")[0] for n in names} == {"day2night"}
    for arch in ("encoder_decoder", "unet"):
        picture = pix2pix_demo.load("day2night", arch, weights=tmp_path)(EXAMPLES / "photos" / "cat.jpg")
        assert picture.size == (451, 300)
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "05_learn.png"), full_page=True)
    pg.locator("#learn-plot").screenshot(path=str(ARTIFACTS / "05_learn_plot.png"))


def test_stop_ends_the_run_and_the_pad_stays_fast_meanwhile(page, live):
    pg = page
    set_seconds(pg, 300)
    pg.locator("#learn-start").click()
    watch(pg, lambda s: bool(s["unet"]))  # training has started: the first pictures are in
    run = live.current()
    assert run.running and run.state == "training"

    open_tab(pg, "sketch")
    pg.wait_for_selector("#sketch-pad canvas.p2p-canvas", timeout=TIMEOUT)
    lat = []
    for k in range(6):
        pg.evaluate(ARM_LATENCY)
        x = 0.15 + 0.1 * k
        stroke(pg, [(x, 0.15), (x + 0.05, 0.5), (x, 0.85)])
        pg.wait_for_function("window.__lat !== null", timeout=TIMEOUT)
        lat.append(pg.evaluate("window.__lat"))
    assert run.running and run.state == "training", "the strokes were drawn while the run trained"
    median = statistics.median(lat[1:])
    print(f"\nstroke end → picture while training: median {median:.0f} ms over {len(lat) - 1} strokes "
          f"(max {max(lat[1:]):.0f})")
    assert median < 1000  # the target (150 ms) is measured by `python -m benchmarks --only learn`

    open_tab(pg, "learn")
    t0 = time.monotonic()
    pg.locator("#learn-stop").click()
    last, _ = watch(pg, lambda s: "Done" in s["status"] and s["file"], 90)
    assert "you stopped it" in last["status"] and time.monotonic() - t0 < 60
    run.wait(30)
    assert run.result["reason"] == "stopped" and run.result["step"] < 300 * 100
