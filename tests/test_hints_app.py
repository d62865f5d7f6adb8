"""Colour hints in the app, without a browser: the pad's two value forms, the hint canvas's values, the hint-aware
endpoints through gradio_client, hostile hints on every new event, and the app with models that take no hints.

The hint-aware app (``hint_app``) serves tiny sketch and colorize models whose U-Nets paint each hint's colour
around it (``app_fixtures.copy_hints``), so a test can check that a hint lands where it was put.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from app_fixtures import drawing, in_sketch_picture, is_plain_sentence, photo, read_config
from test_app_hostile import NOT_ARRIVED, call, default_value, image_events

pytestmark = pytest.mark.timeout(600)

BLUE = (30, 60, 230)
RED = (230, 40, 40)


def data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def hex_of(rgb) -> str:
    return "#%02x%02x%02x" % tuple(rgb)


def open_out(value) -> Image.Image:
    img = Image.open(value["path"] if isinstance(value, dict) else value)
    img.load()
    return img.convert("RGB")


def patch_mean(img: Image.Image, x: float, y: float, r: int = 4) -> np.ndarray:
    a = np.asarray(img, np.float32)
    x, y = int(round(x)), int(round(y))
    return a[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].reshape(-1, 3).mean(0)


def towards(colour, target) -> float:
    """How well ``colour`` points the way ``target`` does from gray: cosine of their chroma vectors."""
    c = np.asarray(colour, np.float32) - np.mean(colour)
    t = np.asarray(target, np.float32) - np.mean(target)
    return float(c @ t / (np.linalg.norm(c) * np.linalg.norm(t) + 1e-6))


@pytest.fixture(scope="module")
def hint_client(hint_app, tmp_path_factory):
    from gradio_client import Client

    return Client(hint_app["url"], verbose=False, download_files=str(tmp_path_factory.mktemp("hint_downloads")))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hint_inputs")
    out = {"house": folder / "house.png", "gray": folder / "gray.jpg"}
    drawing((320, 240), (60, 40, 260, 200)).save(out["house"])
    photo(320, 240).convert("L").save(out["gray"], quality=92)
    return out


def handle(path):
    from gradio_client import handle_file

    return handle_file(str(path))


# ------------------------------------------------------------------------------------------ pure functions
def test_pad_value_takes_both_forms_and_refuses_the_rest():
    import gradio as gr

    from pix2pix_demo.ui.pad import pad_drawing, pad_value

    url = data_url(drawing((64, 64), (8, 8, 56, 56), 2))
    img, hints = pad_value(url)
    assert img.size == (64, 64) and hints == []
    assert pad_value("") == (None, []) and pad_value(None) == (None, [])
    points = [{"x": 30, "y": 40, "color": "#ff0000"}]
    for value in (json.dumps({"drawing": url, "hints": points}), {"drawing": url, "hints": points}):
        img, hints = pad_value(value)
        assert img.size == (64, 64) and [(h.x, h.y, h.rgb) for h in hints] == [(30.0, 40.0, (255, 0, 0))]
    img, hints = pad_value(json.dumps({"drawing": "", "hints": points}))
    assert img is None and len(hints) == 1
    assert pad_drawing(json.dumps({"drawing": url, "hints": []})).size == (64, 64)
    bad = ["{not json", "[1, 2]", json.dumps({"drawing": 5}), json.dumps({"drawing": url, "extra": 1}),
           json.dumps({"drawing": url, "hints": "red"}), json.dumps({"drawing": url, "hints": [points[0]] * 201}),
           json.dumps({"drawing": url, "hints": [{"x": "1", "y": 2, "color": "#ff0000"}]}),
           json.dumps({"drawing": url, "hints": [{"x": 1, "y": 2, "color": "rouge"}]}),
           "{" + "[" * 100_000, {"path": "/etc/passwd"}, 17, ["data:image/png;base64,"],
           json.dumps({"drawing": "data:text/plain;base64,aGVsbG8=", "hints": []})]
    for value in bad:
        with pytest.raises(gr.Error) as err:
            pad_value(value)
        assert is_plain_sentence(err.value.message), (value, err.value.message)


def test_canvas_values_and_helpers():
    import gradio as gr

    from pix2pix_demo.ui.hint_canvas import PREVIEW_PIXELS, PreviewCache, canvas_hints, canvas_photo, scaled

    assert canvas_hints(None) is None and canvas_hints("") is None
    assert canvas_hints({"src": "data:…", "width": 10, "height": 10}) is None, "a photo the server set"
    assert canvas_hints({"hints": []}) == []
    assert len(canvas_hints([{"x": 1, "y": 2, "color": "#00ff00"}])) == 1
    for value in ("hints", 3, {"hints": "x"}, {"evil": 1}, {"hints": [{"x": 1}]}, {"hints": [[1, 2, 3]] * 201}):
        with pytest.raises(gr.Error) as err:
            canvas_hints(value)
        assert is_plain_sentence(err.value.message), (value, err.value.message)
    big = photo(2000, 1000)
    value = canvas_photo(big)
    assert (value["width"], value["height"]) == (2000, 1000)
    shown = Image.open(io.BytesIO(base64.b64decode(value["src"].split(",", 1)[1])))
    assert max(shown.size) <= 640 and shown.mode == "L"
    (h,) = scaled(canvas_hints([{"x": 999.5, "y": 0, "color": "#000000"}]), 0.5, 0.5)
    assert (h.x, h.y) == (499.5, -0.25), "pixel centres map to pixel centres"
    cache = PreviewCache(size=1)
    small, size = cache.put(b"one", big)
    assert size == (2000, 1000) and small.width * small.height <= PREVIEW_PIXELS
    assert cache.get(b"one")[1] == size and cache.get(b"two") is None
    cache.put(b"two", big)
    assert cache.get(b"one") is None, "the oldest photo is forgotten"


# --------------------------------------------------------------------------------------- the app, no hints
def test_an_app_whose_models_take_no_hints_says_so(app_url):
    config = read_config(app_url)
    notes = {c["props"].get("elem_id"): c["props"].get("value") for c in config["components"]
             if c["type"] == "markdown" and "takes no colour hints yet" in str(c["props"].get("value"))}
    assert {"sketch-hints-note", "col-hints-note", "cmp-hints-note"} <= set(notes), notes
    assert "The shipped colorize model takes no colour hints yet" in notes["col-hints-note"]
    pads = [c["props"]["props"] for c in config["components"] if c["type"] == "html"
            and "p2p-pad-block" in (c["props"].get("elem_classes") or [])]
    assert pads and not any(p["colour"] for p in pads), "the colour brush is hidden"
    names = {d.get("api_name") for d in config["dependencies"]}
    assert "colorize_live" not in names and "colorize_auto" in names


def test_pad_hints_for_a_model_without_hint_input_get_a_sentence(app_url):
    value = json.dumps({"drawing": data_url(drawing((512, 512), (100, 100, 400, 400), 7)),
                        "hints": [{"x": 250, "y": 300, "color": "#ff0000"}]})
    dep = next(i for i, d in enumerate(read_config(app_url)["dependencies"]) if d.get("api_name") == "sketch_live")
    ok, out, error, _ = call(app_url, dep, [value])
    assert not ok and "takes no colour hints" in error and is_plain_sentence(error), error


# ------------------------------------------------------------------------------------ the hint-aware app
def test_hint_aware_app_offers_the_tools(hint_app):
    config = read_config(hint_app["url"])
    by_id = {c["props"].get("elem_id"): c for c in config["components"]}
    assert by_id["sketch-pad"]["props"]["props"]["colour"] is True
    assert by_id["col-canvas"]["props"]["props"]["preview"] == "col-preview"
    assert "cmp-canvas" in by_id and by_id["cmp-pad"]["props"]["props"]["colour"] is True
    assert not any("takes no colour hints yet" in str(c["props"].get("value")) for c in config["components"])


def test_public_endpoints_keep_their_parameters(hint_client):
    info = hint_client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = {name: [p["parameter_name"] for p in info[name]["parameters"]]
              for name in ("/sketch", "/colorize", "/compare")}
    assert params == {"/sketch": ["drawing", "hints"], "/colorize": ["image", "hints"],
                      "/compare": ["task", "image", "skip_levels", "hints"]}


def test_sketch_hint_colours_its_region(hint_client, files):
    """A blue point inside the house's walls turns the walls blue (a hint fills the closed shape it lies in), not
    the roof or the door; without it the walls stay gray."""
    plain = open_out(hint_client.predict(handle(files["house"]), api_name="/sketch"))
    blue = open_out(hint_client.predict(handle(files["house"]), [{"x": 160, "y": 150, "color": hex_of(BLUE)}],
                                        api_name="/sketch"))
    assert blue.size == plain.size == (320, 240)
    where = in_sketch_picture(Image.open(files["house"]).convert("RGB"), 160, 150, blue.size)
    here = patch_mean(blue, *where)
    assert towards(here, BLUE) > 0.9 and here[2] - here[0] > 80, here
    assert np.ptp(patch_mean(plain, *where)) < 10, "no hint: no colour there"
    house = Image.open(files["house"]).convert("RGB")
    wall = patch_mean(blue, *in_sketch_picture(house, 80, 185, blue.size))
    assert towards(wall, BLUE) > 0.9 and wall[2] - wall[0] > 80, ("the same wall, far from the hint", wall)
    for x, y, what in ((160, 80, "the roof"), (160, 185, "the door")):
        assert np.ptp(patch_mean(blue, *in_sketch_picture(house, x, y, blue.size))) < 10, what


def test_sketch_live_takes_the_pad_json_and_the_plain_data_url(hint_client):
    house = drawing((512, 512), (100, 100, 400, 400), 7)
    url = data_url(house)
    pic, seen, note = hint_client.predict(url, api_name="/sketch_live")
    assert open_out(pic).size == (512, 512) and "colour" not in note
    points = [{"x": 180 + 20 * i, "y": 330, "color": hex_of(RED)} for i in range(5)]
    for value in (json.dumps({"drawing": url, "hints": points}), {"drawing": url, "hints": points}):
        pic, seen, note = hint_client.predict(value, api_name="/sketch_live")
        here = patch_mean(open_out(pic), *in_sketch_picture(house, 220, 330, (512, 512)))
        assert towards(here, RED) > 0.9 and here[0] - here[2] > 80, here
        assert "5 colour points" in note
        seen_rgb = np.asarray(open_out(seen), np.int16)
        assert (np.abs(seen_rgb[..., 0] - seen_rgb[..., 2]) > 100).any(), "the model's view shows the colour squares"
    pic, seen, note = hint_client.predict(json.dumps({"drawing": "", "hints": points}), api_name="/sketch_pad")
    assert pic is None and "empty" in note.lower()


def test_colorize_hint_colours_the_region_around_it(hint_client, files):
    from pix2pix_demo.imaging import rgb_to_lab

    src = Image.open(files["gray"]).convert("RGB")
    out = open_out(hint_client.predict(handle(files["gray"]), [{"x": 100, "y": 80, "color": hex_of(BLUE)}],
                                       api_name="/colorize"))
    assert out.size == src.size
    lab = rgb_to_lab(np.asarray(out))
    assert lab[76:85, 96:105, 2].mean() < -15, "blue around the hint (CIELAB b < 0)"
    assert np.abs(lab[200:230, 250:300, 1:]).mean() < 3, "no colour far from it"
    L_in = rgb_to_lab(np.asarray(src))[..., 0]
    assert np.abs(L_in - lab[..., 0]).mean() < 1.5, "the photo keeps its own lightness"


def test_colorize_live_previews_at_reduced_size(hint_client, tmp_path):
    big = tmp_path / "big.jpg"
    photo(1600, 1200).convert("L").save(big, quality=90)  # 1.9 MP
    hints = [{"x": 800, "y": 600, "color": hex_of(RED)}]
    for value in ({"hints": hints}, hints):
        preview, note = hint_client.predict(handle(big), value, api_name="/colorize_live")
        img = open_out(preview)
        assert img.width * img.height <= 500_000 and abs(img.width / img.height - 4 / 3) < 0.01
        s = img.width / 1600
        here = patch_mean(img, 800 * s, 600 * s, 3)
        assert towards(here, RED) > 0.8, here
        assert "1 colour point" in note


def test_hints_stay_in_the_uploads_own_pixels_when_it_is_scaled_down(hint_app, tmp_path):
    """An upload over the app's pixel limit is scaled down (here to half its sides) before the model sees it; the
    hints, given in the upload's own pixels, move with it: /colorize, the hint canvas and its preview, /sketch,
    /compare and its hint canvas."""
    from app_fixtures import settle

    from pix2pix_demo.imaging import rgb_to_lab
    from pix2pix_demo.ui import build_app
    from pix2pix_demo.ui.inputs import load_upload

    limit = 320 * 240
    demo = build_app(hint_app["weights"], max_upload_pixels=limit)
    try:
        handler = {fn.api_name: fn.fn for fn in demo.fns.values()}
        big = tmp_path / "big.jpg"
        photo(640, 480).convert("L").save(big, quality=92)
        hints = [{"x": 201, "y": 161, "color": hex_of(BLUE)}]  # (100.25, 80.25) once scaled to 320 × 240
        after, _ = handler["colorize"](str(big), hints)
        lab = rgb_to_lab(np.asarray(open_out(after)))
        assert lab.shape[:2] == (240, 320)
        assert lab[76:85, 96:105, 2].mean() < -15, "blue around the hint, scaled with the photo"
        assert np.abs(lab[157:166, 197:206, 1:]).mean() < 3, "not at the hint's unscaled position"
        canvas = handler["colorize_start"](str(big))[0]
        assert (canvas["width"], canvas["height"]) == (640, 480), "the canvas works in the upload's pixels"
        preview, _ = handler["colorize_live"](str(big), {"hints": hints})
        lab = rgb_to_lab(np.asarray(open_out(preview)))
        assert lab.shape[:2] == (240, 320) and lab[76:85, 96:105, 2].mean() < -15

        house = tmp_path / "house.png"
        drawing((640, 480), (120, 80, 520, 400), 8).save(house)
        picture = open_out(handler["sketch"](str(house), [{"x": 321, "y": 301, "color": hex_of(BLUE)}]))
        assert picture.size == (320, 240)
        here = patch_mean(picture, *in_sketch_picture(load_upload(str(house), max_pixels=limit), 160, 150,
                                                      picture.size))
        assert towards(here, BLUE) > 0.9 and here[2] - here[0] > 80, here

        *pictures, table, state = handler["compare"]("colorize", str(big), None, hints)
        assert len(table) == 3 and [(h.x, h.y) for h in state["hints"]] == [(100.25, 80.25)], \
            "the state keeps the hints in the scaled image's pixels"
        unet = rgb_to_lab(np.asarray(open_out(pictures[1])))
        assert unet.shape[:2] == (240, 320)
        assert unet[76:85, 96:105, 2].mean() < -15, "the U-Net's blue around the hint, scaled with the photo"
        assert np.abs(unet[157:166, 197:206, 1:]).mean() < 3, "not at the hint's unscaled position"
        again, _ = handler["compare_skips"](state, None)
        assert rgb_to_lab(np.asarray(open_out(again)))[76:85, 96:105, 2].mean() < -15
        canvas = handler["compare_canvas"]("colorize", str(big))
        assert (canvas["width"], canvas["height"]) == (640, 480), "the compare canvas works in the upload's pixels"
    finally:
        settle(demo)


def test_compare_gives_the_hints_to_every_generator(hint_client, files):
    ed, unet, mob, table = hint_client.predict("sketch", handle(files["house"]), None,
                                               [{"x": 160, "y": 150, "color": hex_of(BLUE)}], api_name="/compare")
    where = in_sketch_picture(Image.open(files["house"]).convert("RGB"), 160, 150, (320, 240))
    u, e = patch_mean(open_out(unet), *where), patch_mean(open_out(ed), *where)
    assert towards(u, BLUE) > 0.9 and u[2] - u[0] > 80, "the U-Net's skips carry the hint"
    assert not (towards(e, BLUE) > 0.9 and e[2] - e[0] > 80), "the encoder-decoder misses it"
    assert mob is not None and len(table["data"]) == 3


# ------------------------------------------------------------------------------------------ hostile hints
@pytest.mark.parametrize("value", [
    "{oops", json.dumps([1, 2]), json.dumps({"drawing": 5}), json.dumps({"drawing": "", "hints": "red"}),
    json.dumps({"drawing": "", "hints": [{"x": 1, "y": 1, "color": "#ff0000"}] * 201}),
    json.dumps({"drawing": "", "extra": True}), {"drawing": None, "hints": [[1, 2]]}, "{" + "[" * 50_000,
])
def test_pad_events_answer_bad_hint_values_in_sentences(hint_app, value):
    deps = {d.get("api_name"): i for i, d in enumerate(read_config(hint_app["url"])["dependencies"])}
    for name in ("sketch_live", "sketch_pad", "compare_pad"):
        ok, out, error, _ = call(hint_app["url"], deps[name], [value])
        assert not ok and is_plain_sentence(error) and "upstream" not in error, (name, value, error)


@pytest.mark.parametrize("value", ["a string", 7, {"hints": "x"}, {"evil": 1}, {"hints": [[1, 2]]},
                                   {"hints": [{"x": 1, "y": 1, "color": "#ff0000"}] * 201}])
def test_canvas_events_answer_bad_hint_values_in_sentences(hint_app, files, value):
    from pix2pix_demo.ui.inputs import EXAMPLES_DIR

    cat = {"path": str(EXAMPLES_DIR / "photos" / "cat.jpg")}
    deps = {d.get("api_name"): i for i, d in enumerate(read_config(hint_app["url"])["dependencies"])}
    for name, data in (("colorize_live", [cat, value]), ("compare_hinted", ["colorize", cat, None, value])):
        ok, out, error, _ = call(hint_app["url"], deps[name], data)
        assert not ok and is_plain_sentence(error) and "upstream" not in error, (name, value, error)


def test_every_image_event_of_the_hint_app_refuses_paths_outside_the_cache(hint_app, tmp_path):
    """test_app_hostile's walk, on the hint-aware app's events (the live preview and the canvases among them)."""
    secret = tmp_path / "secret.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (32, 32, 3), np.uint8)).save(secret)
    events = image_events(hint_app["url"])
    names = {name for _, name, _, _ in events}
    assert {"colorize_start", "colorize_live", "compare_hinted", "compare_canvas"} <= names, names
    for fn_index, name, inputs, where in events:
        for payload in ({"path": str(secret)}, {"path": str(secret), "meta": {"_type": "gradio.FileData"}},
                        {"path": "/etc/passwd"}):
            data = [default_value(c) for c in inputs]
            for k in where:
                data[k] = payload
            ok, out, error, raw = call(hint_app["url"], fn_index, data)
            assert not ok and error == NOT_ARRIVED, (name, payload, error)
            assert secret.read_bytes()[:64].hex() not in raw
