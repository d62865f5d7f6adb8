"""Hostile inputs to every event the app registers (public or not): crafted paths, wrong types, huge drawings.

Gradio serves every registered event over HTTP, so these tests walk the app's own config and attack each event's
image inputs with paths outside the upload cache (with and without Gradio's ``meta`` field), then check that no
byte of a planted file comes back and that every answer is the same plain sentence.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from app_fixtures import drawing, is_plain_sentence, read_config
from benchmarks.serving import queue_call

pytestmark = pytest.mark.timeout(600)

NOT_ARRIVED = "The upload did not arrive; please upload the file again."
GENERIC = "upstream Gradio app has raised an exception"


def call(url: str, fn_index: int, data: list, timeout: float = 60) -> tuple[bool, object, str, str]:
    """One event over the queue protocol: (success, output data, error text, the whole raw stream)."""
    answer = queue_call(url, fn_index, data, timeout)
    return answer.success, answer.data, answer.error, answer.raw


def default_value(comp: dict):
    """A harmless value for a component that is not under attack."""
    kind, props = comp["type"], comp.get("props", {})
    if kind in ("radio", "checkboxgroup", "checkbox"):
        return props.get("value")
    if kind == "html":
        return ""
    return None


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, Path]:
    """Files the server can read but no client uploaded: a PNG of noise, a text file, a folder."""
    folder = tmp_path_factory.mktemp("planted")
    secret = folder / "secret.png"
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (48, 64, 3), np.uint8)).save(secret)
    (folder / "secret.txt").write_text("top secret\n")
    return {"image": secret, "text": folder / "secret.txt", "folder": folder,
            "missing": folder / "does_not_exist.png"}


def image_events(url: str) -> list[tuple[int, str, list[dict], list[int]]]:
    """(fn_index, api_name, input components, positions of image inputs) for every event with an image input."""
    config = read_config(url)
    comps = {c["id"]: c for c in config["components"]}
    events = []
    for i, dep in enumerate(config["dependencies"]):
        inputs = [comps[c] for c in dep["inputs"]]
        where = [k for k, c in enumerate(inputs) if c["type"] == "image"]
        if where:
            events.append((i, dep.get("api_name"), inputs, where))
    return events


def test_every_image_event_refuses_paths_outside_the_upload_cache(app_url, planted):
    events = image_events(app_url)
    names = {name for _, name, _, _ in events}
    # the public endpoints, the auto-run and example events, and the private pad/show helpers that take images
    assert {"sketch", "day_night", "colorize", "compare", "sketch_to_pad", "colorize_auto", "day_night_auto",
            "compare_auto", "compare_task_run"} <= names, names
    secret_bytes = planted["image"].read_bytes()
    for fn_index, name, inputs, where in events:
        answers = set()
        for target in ("image", "text", "folder", "missing"):
            for payload in ({"path": str(planted[target])},
                            {"path": str(planted[target]), "meta": {"_type": "gradio.FileData"}},
                            {"path": str(planted[target]), "url": None, "orig_name": "x.png"}):
                data = [default_value(c) for c in inputs]
                for k in where:
                    data[k] = payload
                ok, out, error, raw = call(app_url, fn_index, data)
                assert not ok, f"{name}: {payload} was accepted: {out}"
                assert "top secret" not in raw and str(planted["folder"].name) not in raw, (name, raw)
                assert secret_bytes[:64].hex() not in raw
                answers.add(error)
        assert len(answers) == 1, f"{name}: different answers reveal which files exist: {answers}"
        answer = answers.pop()
        assert answer == NOT_ARRIVED, (name, answer)


def test_paths_through_symlinks_and_traversal_are_refused(app_url, planted, tmp_path):
    from pix2pix_demo.ui.inputs import EXAMPLES_DIR

    tricky = [str(EXAMPLES_DIR / ".." / "README.md"), str(EXAMPLES_DIR) + "/../app.py", "/etc/passwd",
              "/proc/self/environ", "", "\x00", str(EXAMPLES_DIR)]
    link = tmp_path / "link.png"
    link.symlink_to(planted["image"])
    tricky.append(str(link))
    fn_index = next(i for i, name, _, _ in image_events(app_url) if name == "colorize")
    for path in tricky:
        ok, out, error, raw = call(app_url, fn_index, [{"path": path}])
        assert not ok and error == NOT_ARRIVED, (path, error)


def test_examples_and_real_uploads_still_work(app_url):
    from pix2pix_demo.ui.inputs import EXAMPLES_DIR

    fn_index = next(i for i, name, _, _ in image_events(app_url) if name == "colorize")
    ok, out, error, _ = call(app_url, fn_index, [{"path": str(EXAMPLES_DIR / "photos" / "cat.jpg")}])
    assert ok, error
    buf = io.BytesIO()
    drawing((64, 48)).save(buf, "PNG")
    with httpx.Client(timeout=30) as http:
        path = http.post(app_url + "gradio_api/upload", files={"files": ("d.png", buf.getvalue())}).json()[0]
    ok, out, error, _ = call(app_url, fn_index, [{"path": path, "meta": {"_type": "gradio.FileData"}}])
    assert ok, error


def _dep(url: str, name: str) -> int:
    return next(i for i, d in enumerate(read_config(url)["dependencies"]) if d.get("api_name") == name)


@pytest.mark.parametrize("data", [
    [None, None, None], ["sketch", None, [1]], ["nope", None, None], [1, {"path": 3}, "x"],
    ["colorize", None, 5], ["colorize", None, "1,2"], ["colorize", None, [99]], ["colorize", None, [[1]]],
    ["colorize", None, None], [["sketch"], None, [1]], ["colorize", {"path": ["a"]}, [1]],
    ["colorize", {"url": "data:image/png;base64,!!!"}, [1]], ["colorize", "a string", [1]],
])
def test_compare_bad_arguments_get_the_apps_own_sentence(app_url, data):
    ok, out, error, _ = call(app_url, _dep(app_url, "compare"), data)
    assert not ok
    assert GENERIC not in error and is_plain_sentence(error), (data, error)


def test_compare_without_skip_levels_runs_every_level(app_url):
    from pix2pix_demo.ui.inputs import EXAMPLES_DIR

    ok, out, error, _ = call(app_url, _dep(app_url, "compare"),
                             ["colorize", {"path": str(EXAMPLES_DIR / "photos" / "cat.jpg")}, None])
    assert ok, error


@pytest.mark.parametrize("direction", [None, 3, "sideways", ["day2night"]])
def test_day_night_bad_direction(app_url, direction):
    from pix2pix_demo.ui.inputs import EXAMPLES_DIR

    ok, out, error, _ = call(app_url, _dep(app_url, "day_night"),
                             [{"path": str(EXAMPLES_DIR / "photos" / "cat.jpg")}, direction])
    assert not ok and GENERIC not in error and is_plain_sentence(error), error


def _data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("value, expected", [
    ("data:image/png;base64," + base64.b64encode(b"not an image at all").decode(),
     "The drawing is not an image file that can be read."),
    (123, "The drawing could not be read"), ({"path": "/etc/passwd"}, "The drawing could not be read"),
    (["data:image/png;base64,"], "The drawing could not be read"),
    ("data:text/plain;base64,aGVsbG8=", "The drawing could not be read"),
])
def test_pad_events_answer_bad_drawings_in_sentences(app_url, value, expected):
    for name in ("sketch_live", "sketch_pad", "compare_pad"):
        ok, out, error, _ = call(app_url, _dep(app_url, name), [value])
        assert not ok and error.startswith(expected), (name, error)


def test_pad_refuses_a_huge_drawing_from_its_header(app_url):
    """A 5,000 × 5,000 PNG through the pad is refused before decoding (the pad never waits for the photo budget)."""
    big = Image.new("L", (5000, 5000), 255)
    ok, out, error, _ = call(app_url, _dep(app_url, "sketch_live"), [_data_url(big)])
    assert not ok and "too large for the pad" in error, error


# ------------------------------------------------------------------------------------- the pixel budget
def test_budget_waits_then_refuses_and_gives_back():
    import threading

    import gradio as gr

    from pix2pix_demo.ui.budget import BUSY, MemoryBudget

    budget = MemoryBudget(capacity=100, wait_s=0.2)
    with budget.scope():
        budget.take(80)
        assert budget.in_flight == 80
        with pytest.raises(gr.Error, match="busy"):
            result = {}

            def other():
                with budget.scope():
                    try:
                        budget.take(30)
                    except gr.Error as err:
                        result["err"] = err

            t = threading.Thread(target=other)
            t.start()
            t.join()
            raise result["err"]
        assert budget.refused == 1 and BUSY.startswith("The server is busy")
    assert budget.in_flight == 0

    # a request that waits gets its turn when another gives its pixels back
    budget = MemoryBudget(capacity=100, wait_s=5)
    done = threading.Event()
    with budget.scope():
        budget.take(90)

        def waiter():
            with budget.scope():
                budget.take(50)
                done.set()

        t = threading.Thread(target=waiter)
        t.start()
        assert not done.wait(0.2)
    t.join(5)
    assert done.is_set() and budget.in_flight == 0 and budget.peak == 90


def test_load_upload_decodes_large_jpegs_at_reduced_size(tmp_path):
    from pix2pix_demo.ui.budget import MemoryBudget
    from pix2pix_demo.ui.inputs import load_upload

    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (200, 120, 40)).save(path, quality=80)
    from pix2pix_demo.ui.inputs import DECODE_BYTES, PROCESS_BYTES

    budget = MemoryBudget(capacity=10**10)
    with budget.scope():
        img = load_upload(str(path), max_pixels=1_000_000, budget=budget)
        assert budget.peak < 12_000_000 * DECODE_BYTES / 2, "decoded at 1/2 scale or less, not at 12 MP"
        assert budget.in_flight == img.width * img.height * PROCESS_BYTES, "settled to the scaled image"
    assert img.width * img.height <= 1_000_000 and abs(img.width / img.height - 4 / 3) < 0.01
    assert np.abs(np.asarray(img, np.int16) - (200, 120, 40)).max() < 8


def test_the_app_writes_nothing_into_its_package(app_url):
    """Gradio writes a .pyi stub beside every component subclass; the app has none, so nothing is written."""
    from app_fixtures import REPO

    assert not list((REPO / "pix2pix_demo").rglob("*.pyi"))


@pytest.mark.parametrize("hints, expected", [
    ("#ff0000", "hints must be a list"), ([{"x": "a", "y": 1, "color": "#ff0000"}], "must be numbers"),
    ([{"x": 1, "y": 1, "color": "red"}], "colour must"), ([[1, 2]], "Each hint must be"),
    ([{"x": 1, "y": 1, "color": "#ff0000"}], "takes no colour hints"),  # the app's tiny models have no hint input
])
def test_bad_hints_get_a_sentence(app_url, hints, expected):
    from pix2pix_demo.ui.inputs import EXAMPLES_DIR

    cat = {"path": str(EXAMPLES_DIR / "photos" / "cat.jpg")}
    for name, data in (("colorize", [cat, hints]), ("sketch", [cat, hints])):
        ok, out, error, _ = call(app_url, _dep(app_url, name), data)
        assert not ok and expected in error and is_plain_sentence(error), (name, error)
    ok, out, error, _ = call(app_url, _dep(app_url, "compare"), ["colorize", cat, None, hints])
    if expected == "takes no colour hints":  # compare runs every generator, noting the ones without hint input
        assert ok, error
    else:
        assert not ok and expected in error, error
