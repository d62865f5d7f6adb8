"""The app's API, through gradio_client and plain HTTP, against the app served in-process with tiny models."""

from __future__ import annotations

import base64
import io
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from app_fixtures import (EXAMPLES, REPO, bad_inputs, colourfulness, drawing, is_plain_sentence, make_weights,
                          photo, raw_predict, read_config, serve)

pytestmark = pytest.mark.timeout(600)

PUBLIC = ("/sketch", "/day_night", "/colorize", "/compare")


def handle(path):
    from gradio_client import handle_file

    return handle_file(str(path))


def app_error():
    from gradio_client.exceptions import AppError

    return AppError


def open_out(value) -> Image.Image:
    if isinstance(value, dict):  # a gr.update from an older handler would arrive as a dict
        value = value["value"]
    img = Image.open(value)
    img.load()
    return img


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("api_inputs")
    out = {"house": folder / "house.png", "house_corner": folder / "house_corner.png",
           "blank": folder / "blank.png", "photo": folder / "photo.png", "photo_jpg": folder / "photo.jpg",
           "odd": folder / "odd.png"}
    drawing((320, 240), (60, 40, 260, 200)).save(out["house"])
    drawing((320, 240), (6, 6, 56, 46), width=2).save(out["house_corner"])  # small, in a corner
    Image.new("RGB", (200, 150), "white").save(out["blank"])
    photo(160, 120).save(out["photo"])
    photo(160, 120).save(out["photo_jpg"], quality=92)
    photo(97, 61, seed=5).save(out["odd"])
    return out


# ------------------------------------------------------------------------------------------- endpoints
def test_public_endpoints_and_every_action_named(client, app_url):
    info = client.view_api(print_info=False, return_format="dict")
    assert set(PUBLIC) <= set(info["named_endpoints"])
    params = {name: [p["parameter_name"] for p in info["named_endpoints"][name]["parameters"]] for name in PUBLIC}
    assert params == {"/sketch": ["drawing", "hints"], "/day_night": ["image", "direction"],
                      "/colorize": ["image", "hints"], "/compare": ["task", "image", "skip_levels", "hints"]}
    deps = read_config(app_url)["dependencies"]
    assert deps and all(d.get("api_name") for d in deps), "every event has an api_name"


def test_sketch_returns_a_coloured_picture_at_the_drawing_size(client, files):
    pic = open_out(client.predict(handle(files["house"]), api_name="/sketch"))
    assert pic.size == (320, 240)
    assert colourfulness(pic) > 5, "the picture is coloured, not a gray copy of the lines"
    assert np.asarray(pic).std() > 5


def test_sketch_auto_fits_small_drawings_in_a_corner(client, files):
    """A small drawing in the corner is cropped to its content and centred, like the big centred one."""
    big = np.asarray(open_out(client.predict(handle(files["house"]), api_name="/sketch")), np.float32)
    small = np.asarray(open_out(client.predict(handle(files["house_corner"]), api_name="/sketch")), np.float32)
    other = np.asarray(open_out(client.predict(handle(EXAMPLES / "sketch" / "sun.png"), api_name="/sketch"))
                       .resize((320, 240)), np.float32)
    same = np.abs(big - small).mean()
    different = np.abs(big - other).mean()
    assert same < 0.5 * different, (same, different)


def test_sketch_of_a_blank_page_is_a_friendly_error(client, files):
    with pytest.raises(app_error()) as err:
        client.predict(handle(files["blank"]), api_name="/sketch")
    assert "empty" in str(err.value) and is_plain_sentence(str(err.value))


def test_sketch_pad_endpoints_take_a_png_data_url(client):
    buf = io.BytesIO()
    drawing((512, 512), (100, 100, 400, 400), width=7).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    pic, seen, hint = client.predict(url, api_name="/sketch_live")
    assert open_out(pic).size == (512, 512) and colourfulness(open_out(pic)) > 5
    seen_img = np.asarray(open_out(seen).convert("L"))
    assert seen_img.shape[0] == seen_img.shape[1] and seen_img.min() < 100 and seen_img.max() > 200
    assert "ms" in hint
    pic, seen, hint = client.predict("", api_name="/sketch_pad")  # the Translate button on an empty pad
    assert pic is None and seen is None and "empty" in hint.lower()
    with pytest.raises(app_error()) as err:
        client.predict("data:text/plain;base64,aGVsbG8=", api_name="/sketch_live")
    assert is_plain_sentence(str(err.value))


@pytest.mark.parametrize("direction", ["day2night", "night2day"])
def test_day_night_keeps_the_full_resolution(client, files, direction):
    src = Image.open(files["odd"])
    out = open_out(client.predict(handle(files["odd"]), direction, api_name="/day_night"))
    assert out.size == src.size == (97, 61)
    assert np.abs(np.asarray(out, np.float32) - np.asarray(src, np.float32)).mean() > 1, "it changed the photo"


def test_day_night_jpeg_in_jpeg_out_png_in_png_out(client, files):
    assert Path(client.predict(handle(files["photo_jpg"]), "day2night", api_name="/day_night")).suffix == ".jpg"
    assert Path(client.predict(handle(files["photo"]), "day2night", api_name="/day_night")).suffix == ".png"


def test_colorize_keeps_the_input_luminance_at_full_resolution(client, files):
    from pix2pix_demo.imaging import luminance, rgb_to_lab

    src = Image.open(files["photo"]).convert("RGB")
    out = open_out(client.predict(handle(files["photo"]), api_name="/colorize")).convert("RGB")
    assert out.size == src.size
    gray = np.repeat(np.round(luminance(np.asarray(src)))[..., None], 3, -1).astype(np.uint8)
    L_in, L_out = rgb_to_lab(gray)[..., 0], rgb_to_lab(np.asarray(out))[..., 0]
    assert np.abs(L_in - L_out).mean() < 1.5, "the output keeps the input's own L"
    assert colourfulness(out) > 3, "and adds colour"


def test_compare_runs_three_generators_and_reads_their_metrics(client, files, app_weights):
    import json

    ed, unet, mob, table = client.predict("sketch", handle(files["house"]), [1, 2, 3, 4, 5], api_name="/compare")
    imgs = [open_out(v) for v in (ed, unet, mob)]
    assert all(i.size == (320, 240) for i in imgs)
    assert len({np.asarray(i).tobytes() for i in imgs}) == 3, "three different generators"
    rows = {r[0]: r for r in table["data"]}
    assert set(rows) == {"Encoder–decoder (no skips)", "U-Net (skips)", "MobileNet U-Net"}
    metrics = json.loads((app_weights / "sketch" / "unet" / "metrics.json").read_text())
    row = rows["U-Net (skips)"]
    headers = table["headers"]
    heldout = metrics["heldout"]["emoji: test set"]  # the held-out source's numbers, not the in-source split's
    assert row[headers.index("L1 ↓")] == f"{heldout['l1']:.4f}" != f"{metrics['l1']:.4f}"
    assert row[headers.index("PSNR ↑")] == f"{heldout['psnr']:.2f}"
    assert row[headers.index("hue accuracy (best tint)")] == f"{heldout['hue_accuracy']:.2f} (0.55)"
    assert row[headers.index("measured on (pictures)")] == f"emoji: test set ({heldout['n']})"
    assert float(row[headers.index("this input (ms)")]) >= 0
    assert row[headers.index("params")].endswith(" M")


def test_compare_skip_levels_change_only_the_unet(client, files):
    on = client.predict("sketch", handle(files["house"]), [1, 2, 3, 4, 5], api_name="/compare")
    off = client.predict("sketch", handle(files["house"]), [2, 3, 4, 5], api_name="/compare")
    ed_on, unet_on, mob_on = (np.asarray(open_out(v), np.float32) for v in on[:3])
    ed_off, unet_off, mob_off = (np.asarray(open_out(v), np.float32) for v in off[:3])
    assert np.array_equal(ed_on, ed_off) and np.array_equal(mob_on, mob_off)
    assert np.abs(unet_on - unet_off).mean() > 0.5, "switching the outermost skip off changes the U-Net's picture"


# ------------------------------------------------------------------------------------------ bad inputs
@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return bad_inputs(tmp_path_factory.mktemp("bad_inputs"))


CALLS = {
    "/sketch": lambda c, f: [c.predict(f, api_name="/sketch")],
    "/day_night": lambda c, f: [c.predict(f, "day2night", api_name="/day_night")],
    "/colorize": lambda c, f: [c.predict(f, api_name="/colorize")],
    "/compare": lambda c, f: list(c.predict("night2day", f, [1, 2, 3, 4, 5], api_name="/compare")[:3]),
}
KINDS = ["text_file", "random_bytes_png", "truncated_jpeg", "truncated_png", "png_bomb_30000", "one_pixel",
         "png_16bit", "cmyk_jpeg", "palette_png", "rgba_png", "exif_rotated_jpeg", "animated_gif", "webp",
         "grayscale_jpeg"]


@pytest.mark.parametrize("endpoint", list(CALLS))
def test_awkward_inputs_give_a_picture_or_a_plain_error(client, bad, endpoint):
    """Every endpoint either handles the file (at its displayed size) or refuses it in a plain sentence."""
    failures = []
    for kind in KINDS:
        path, expected = bad[kind]
        try:
            outs = CALLS[endpoint](client, handle(path))
        except app_error() as err:
            if expected != "error" or not is_plain_sentence(str(err)):
                failures.append(f"{kind}: {err}")
            continue
        sizes = [open_out(o).size for o in outs]
        if expected == "error" or any(s != expected for s in sizes):
            failures.append(f"{kind}: got {sizes}, expected {expected}")
    assert not failures, failures
    # ... and the server is still serving.
    assert open_out(client.predict(handle(bad["webp"][0]), api_name="/sketch")).size == (120, 80)


def test_error_messages_say_what_is_wrong(client, bad):
    with pytest.raises(app_error()) as err:
        client.predict(handle(bad["png_bomb_30000"][0]), api_name="/colorize")
    assert "too large" in str(err.value)
    with pytest.raises(app_error()) as err:
        client.predict(handle(bad["text_file"][0]), api_name="/colorize")
    assert "notes.txt is not an image" in str(err.value)
    with pytest.raises(app_error()) as err:
        client.predict(handle(bad["truncated_jpeg"][0]), api_name="/day_night")
    assert "corrupt or truncated" in str(err.value)
    with pytest.raises(app_error()):
        client.predict(handle(bad["webp"][0]), "sideways", api_name="/day_night")  # not a direction


def test_exif_rotation_is_applied_before_translation(client, bad):
    out = open_out(client.predict(handle(bad["exif_rotated_jpeg"][0]), "day2night", api_name="/day_night"))
    assert out.size == (80, 120)


# ------------------------------------------------------------------------------------------- the server
def test_16_clients_sending_10_requests_each_all_get_answers(app_url, files):
    from gradio_client import Client

    results, errors = [], []

    def worker(i):
        try:
            c = Client(app_url, verbose=False, download_files=False)
            for k in range(10):
                if k % 2:
                    out = c.predict(handle(files["house"]), api_name="/sketch")
                else:
                    out = c.predict(handle(files["odd"]), "day2night", api_name="/day_night")
                results.append(out)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(repr(err))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    elapsed = time.perf_counter() - t0
    assert not errors, errors[:3]
    assert len(results) == 160 and all(results)
    print(f"\n160 requests from 16 clients in {elapsed:.1f} s ({160 / elapsed:.1f} requests/s)")


def test_only_examples_and_the_upload_cache_are_served(app_url, app_weights, client, files):
    def get(path):
        return httpx.get(f"{app_url}gradio_api/file={path}", timeout=10).status_code

    assert get(EXAMPLES / "sketch" / "house.png") == 200
    out = client.predict(handle(files["house"]), api_name="/sketch")  # results live in the upload cache
    assert Path(out).exists()
    for forbidden in (REPO / "app.py", REPO / "pix2pix_demo" / "ui" / "__init__.py", REPO / "scripts" / "make_examples.py",
                      Path("/etc/passwd"), app_weights / "sketch" / "unet" / "config.json",
                      f"{EXAMPLES}/../app.py", f"{EXAMPLES}/sketch/../../README.md"):
        assert get(forbidden) in (403, 404), forbidden


def test_uploads_over_the_size_limit_are_refused(app_url):
    big = b"\0" * (101 * 1024 * 1024)
    r = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("big.png", big)}, timeout=60)
    assert r.status_code == 413


# ------------------------------------------------------------------------------------- missing models
@pytest.fixture(scope="module")
def partial_app(tmp_path_factory):
    """Only sketch/unet and day2night/unet, and a 1-megapixel upload limit (to test the downscaling quickly)."""
    weights = make_weights(tmp_path_factory.mktemp("partial_weights"), [("sketch", "unet"), ("day2night", "unet")])
    (weights / "colorize" / "unet").mkdir(parents=True)
    (weights / "colorize" / "unet" / "config.json").write_text("{ broken")  # a damaged model folder
    demo, url = serve(weights, max_upload_pixels=1_000_000)
    yield url
    demo.close()


def test_missing_models_give_notices_not_crashes(partial_app, files, tmp_path):
    from gradio_client import Client

    c = Client(partial_app, verbose=False, download_files=str(tmp_path))
    assert Path(c.predict(handle(files["house"]), api_name="/sketch")).exists()
    assert Path(c.predict(handle(files["photo"]), "day2night", api_name="/day_night")).exists()
    for call in (lambda: c.predict(handle(files["photo"]), api_name="/colorize"),
                 lambda: c.predict(handle(files["photo"]), "night2day", api_name="/day_night")):
        with pytest.raises(app_error()) as err:
            call()
        assert "not available" in str(err.value)
    ed, unet, mob, table = c.predict("sketch", handle(files["house"]), [1, 2, 3, 4, 5], api_name="/compare")
    assert ed is None and mob is None and unet is not None
    assert [r[2] for r in table["data"]].count("not available") == 2
    notices = {comp["props"].get("elem_id"): comp["props"].get("value") for comp in read_config(partial_app)
               ["components"] if comp["type"] == "markdown" and "not available yet" in str(comp["props"]
                                                                                          .get("value"))}
    assert set(notices) == {"dn-notice", "col-notice"}, notices
    assert "Night → Day" in notices["dn-notice"] and "Colorize" in notices["col-notice"]


def test_big_uploads_are_scaled_down_with_a_warning(partial_app, tmp_path):
    path = tmp_path / "big.jpg"
    photo(1500, 1000).save(path, quality=90)  # 1.5 MP > the 1 MP limit of this app
    out, messages = raw_predict(partial_app, "day_night", [{"upload": path}, "day2night"])
    warnings = [m for m in messages if m.get("msg") == "log" and m.get("level") == "warning"]
    assert warnings and "scaled down" in warnings[0]["log"], messages
    result = Image.open(io.BytesIO(httpx.get(out[0]["url"], timeout=10).content))
    assert result.width * result.height <= 1_000_000 and abs(result.width / result.height - 1.5) < 0.01


def test_app_without_any_model_builds_with_notices(tmp_path):
    from pix2pix_demo.ui import build_app

    demo = build_app(tmp_path, warmup=False)
    text = " ".join(str(c["props"].get("value")) for c in demo.get_config_file()["components"]
                    if c["type"] == "markdown")
    for title in ("Sketch → Image", "Day → Night", "Night → Day", "Colorize"):
        assert f"The {title} model is not available yet" in text
    assert "No models are available yet" in text


def test_the_before_picture_is_the_upload_itself_only_when_it_shows_the_same(tmp_path):
    from app_fixtures import _exif_rotated, photo
    from pix2pix_demo import imaging
    from pix2pix_demo.ui import Results, shown_as_uploaded

    results = Results(tmp_path / "cache")
    plain = tmp_path / "plain.jpg"
    photo(120, 80).save(plain, quality=90)
    img = imaging.open_image(plain)
    assert shown_as_uploaded(str(plain), img, results, "input", True) == str(plain)  # no re-encoding
    rotated = _exif_rotated(tmp_path / "rotated.jpg", photo(120, 80))
    img = imaging.open_image(rotated)
    shown = shown_as_uploaded(str(rotated), img, results, "input", True)
    assert shown != str(rotated) and Image.open(shown).size == img.size  # the browser would not rotate it
    rgba = tmp_path / "alpha.png"
    photo(60, 40).convert("RGBA").save(rgba)
    assert shown_as_uploaded(str(rgba), imaging.open_image(rgba), results, "input", False) != str(rgba)
