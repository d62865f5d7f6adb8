"""Watch them learn: the live training engine (pix2pix_demo.live_training) and its endpoints (/learn, /learn_stop).

Runs here are short and the models tiny (32 px, 8–32 filters); the minute-long comparison on the real recipe is a
benchmark (``python -m benchmarks --only learn``).
"""

from __future__ import annotations

import importlib
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import EXAMPLES, is_plain_sentence, photo, raw_predict
from PIL import Image

pytestmark = pytest.mark.timeout(600)

TINY = {"image_size": 32, "base_filters": 8, "max_filters": 32, "disc_filters": 8, "batch_size": 4,
        "report_every": 1.0, "pool": 24}
PHOTOS = [EXAMPLES / "photos" / n for n in ("cat.jpg", "coffee.jpg", "meadow.jpg")]


def photos():
    return [Image.open(p).convert("RGB") for p in PHOTOS]


@pytest.fixture
def live():
    """The app's side of the engine (live_run); any run a test leaves behind is stopped and waited for."""
    from pix2pix_demo import live_run

    yield live_run
    run = live_run.current()
    if run is not None and run.running:
        run.stop()
        run.wait(120)


def reports(run, n: int, timeout: float = 180) -> list[dict]:
    """Poll until ``n`` progress reports have arrived."""
    got, end = [], time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < end, f"only {len(got)} reports: {run.state} {run.note} {run.error}"
        got += [m for m in run.poll(1.0) if m["kind"] == "progress"]
        assert run.state != "error", run.error
    return got


# ------------------------------------------------------------------------------------------------ engine
def test_spec_takes_the_recipe_and_checks_its_arguments(live):
    from pix2pix_demo.zoo import RECIPES

    cfg = live.LiveSpec(task="day2night").train_config("unet")
    r = RECIPES["day2night"]
    assert (cfg.base_filters, cfg.max_filters, cfg.disc_filters, cfg.batch_size) == \
        (r["base_filters"], r["max_filters"], r["disc_filters"], r["batch_size"])
    assert cfg.image_size == live.LIVE_SIZE == 128 and cfg.l1_lambda == 100 and cfg.lr == 2e-4
    assert live.LiveSpec(task="sketch", batch_size=2).train_config("unet").batch_size == 2
    for bad in ({"task": "night2day"}, {"task": "colorize", "archs": ()}, {"task": "colorize", "archs": ("resnet",)},
                {"task": "colorize", "archs": ("unet", "unet")}, {"task": "colorize", "seconds": 5},
                {"task": "colorize", "seconds": 601}, {"task": "colorize", "isolation": "fork"}):
        with pytest.raises(ValueError):
            live.LiveSpec(**bad)


def test_the_held_out_thirds_never_reach_a_training_crop():
    from pix2pix_demo import data
    from pix2pix_demo import live_training as live
    from pix2pix_demo.tasks import get_task

    wide = np.arange(90 * 150 * 3, dtype=np.uint32).reshape(90, 150, 3).astype(np.uint8)
    tall = wide.transpose(1, 0, 2)
    train, held = live.split_heldout([(wide, wide.copy()), (tall, tall.copy())])
    for (ta, tb), (ha, hb), img, axis in zip(train, held, (wide, tall), (1, 0)):
        assert ha.shape[axis] == img.shape[axis] // 3 and ha.shape[1 - axis] == img.shape[1 - axis]
        assert np.array_equal(np.concatenate([ta, ha], axis), img) and np.array_equal(ha, hb)
    crops = live.heldout_crops(get_task("day2night"), held, 32, np.random.default_rng(0), 4)
    assert len(crops) == 4 and all(a.shape == (32, 32, 3) for a, _ in crops)
    assert np.array_equal(crops[0][0], data.center_crop(*held[-1], 32)[0]), "the last image's third is shown"
    small = live.prepare_images([Image.new("RGB", (1000, 400)), np.zeros((50, 60, 3), np.uint8)], 64)
    assert small[0].shape == (192, 480, 3) and small[1].shape == (50, 60, 3)


def test_the_sketch_examples_become_line_drawings_not_ink():
    # The live tab makes its sketch pairs from photos up to 640 px wide: with extract_sketch's lengths fixed for
    # 256 px, lines covered 72-83 % of these examples.
    from pix2pix_demo import imaging
    from pix2pix_demo import live_training as live
    from pix2pix_demo.ui.learn_tab import LEARN_EXAMPLES

    for name in LEARN_EXAMPLES["sketch"]:
        img = live.prepare_images([Image.open(EXAMPLES / "photos" / name)])[0]
        ink = (imaging.extract_sketch(img, np.random.default_rng(0)) < 128).mean()
        assert 0.02 < ink < 0.25, (name, ink)


def test_crop_pool_makes_encoded_batches():
    from pix2pix_demo import live_training as live
    from pix2pix_demo.tasks import get_task

    task = get_task("colorize")
    img = np.asarray(photo(120, 90))
    pool = live.CropPool(task, [task.make_pair(img, np.random.default_rng(0))], 32, np.random.default_rng(0), 8)
    x, y = pool.batch(4)
    assert x.shape == (4, 32, 32, 1) and y.shape == (4, 32, 32, 2) and x.dtype == y.dtype == np.float32
    assert -1.0 <= x.min() and x.max() <= 1.0 and np.abs(y).max() <= 1.0
    # kept in float16 (half the memory), within float16's rounding of what the task encodes
    a, b = pool.samples[0]
    assert a.dtype == b.dtype == np.float16
    rng = np.random.default_rng(7)
    crop = live.CropPool(task, pool.pairs, 32, rng, 1)
    rng2 = np.random.default_rng(7)
    from pix2pix_demo import data as data_mod

    pair = pool.pairs[int(rng2.integers(len(pool.pairs)))]
    ca, cb = data_mod.random_crop(*pair, 32, task, rng2)
    assert np.abs(crop.samples[0][0].astype(np.float32) - task.encode_input(ca)).max() <= 2 ** -11
    assert np.abs(crop.samples[0][1].astype(np.float32) - task.encode_target(cb)).max() <= 2 ** -11


def test_fused_adam_takes_the_same_steps_as_keras_adam():
    """One ResourceApplyAdam kernel per variable, and the same numbers as Keras's Adam over a few steps."""
    import keras
    import tensorflow as tf

    from pix2pix_demo.live_training import fused_adam

    rng = np.random.default_rng(0)
    start = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(4,)).astype(np.float32)]
    grads = [[rng.normal(size=w.shape).astype(np.float32) for w in start] for _ in range(5)]
    out = {}

    def stepper(opt, ws):
        return tf.function(lambda g: opt.apply_gradients(zip(g, ws)))

    for name, opt in (("keras", keras.optimizers.Adam(2e-4, beta_1=0.5)), ("fused", fused_adam(2e-4, 0.5))):
        ws = [keras.Variable(w) for w in start]
        step = stepper(opt, ws)
        for g in grads:
            step([tf.constant(x) for x in g])
        out[name] = [w.numpy() for w in ws]
        ops = {op.type for op in step.get_concrete_function([tf.constant(x) for x in grads[0]]).graph.get_operations()}
        assert ("ResourceApplyAdam" in ops) == (name == "fused")
    for a, b in zip(out["keras"], out["fused"]):
        assert np.abs(a - start[0 if a.ndim == 2 else 1]).max() > 1e-4  # they moved
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _mapped_packages(pid: int) -> set[str]:
    """The site-packages packages with a file mapped into a process (their compiled extensions)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {line.split("site-packages/", 1)[1].split("/", 1)[0] for line in maps.splitlines()
            if "site-packages/" in line}


def _nice_and_cores(pid: int) -> tuple[int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16]), len(os.sched_getaffinity(pid))  # field 19 of stat: nice


def test_a_run_in_a_child_process_reports_is_alone_stops_and_exports(live, tmp_path):
    import pix2pix_demo

    spec = live.LiveSpec(task="day2night", seconds=120, export_dir=str(tmp_path), **TINY)
    run = live.start_exclusive(spec, photos())
    assert run.pid not in (None, os.getpid())
    with pytest.raises(live.Busy) as busy:  # one run at a time: the second is told how long the first has left
        live.start_exclusive(live.LiveSpec(task="colorize", **TINY), photos())
    assert 0 < busy.value.ends_in <= 120 + 60 and "it ends in" in str(busy.value)
    got = reports(run, 3)
    nice, cores = _nice_and_cores(run.pid)
    assert nice >= 10, "the trainer runs at low priority"
    assert cores == 1 or len(os.sched_getaffinity(0)) == 1, "the trainer has one core"
    mapped = _mapped_packages(run.pid)
    assert "tensorflow" in mapped and "pandas" not in mapped, "the trainer goes without what Keras loads for DataFrames"
    assert [m["step"] for m in got] == sorted({m["step"] for m in got}), "steps go up"
    assert run.started["input"].shape == (32, 32, 3) and run.started["params"]["unet"] > \
        run.started["params"]["encoder_decoder"]
    for m in got:
        for arch in ("encoder_decoder", "unet"):
            g = m["generators"][arch]
            assert g["picture"].shape == (32, 32, 3) and g["steps_per_s"] > 0 and g["heldout_l1"] > 0
    assert not live.stop_run("not the token") and run.stop_requested is None
    assert live.stop_run(run.token)
    run.wait(120)
    assert run.state == "done" and run.result["reason"] == "stopped" and not run.running
    assert run.result["step"] < 120 * 200, "stopped before the time limit"
    curves = {(p["arch"], p["curve"]) for p in run.history}
    assert curves == {(a, c) for a in ("encoder_decoder", "unet") for c in ("train", "held-out")}
    # the exported generators open with pix2pix_demo.load and give the same held-out L1 as the last report
    for arch in ("encoder_decoder", "unet"):
        assert Path(run.result["folders"][arch]) == tmp_path / "day2night" / arch
        tr = pix2pix_demo.load("day2night", arch, weights=tmp_path)
        out = tr(photos()[0])
        assert out.size == photos()[0].size
    # the next run may start now
    nxt = live.start_exclusive(live.LiveSpec(task="colorize", archs=("unet",), **TINY), photos())
    nxt.stop()
    nxt.wait(120)
    assert nxt.state == "done"


def test_a_run_nobody_reads_stops_by_itself(live, monkeypatch):
    monkeypatch.setattr(live, "ORPHAN_S", 2.0)
    run = live.LiveRun(live.LiveSpec(task="sketch", seconds=300, isolation="thread", **TINY), photos()).start()
    end = time.monotonic() + 180
    while run.running:  # never polled: the watchdog stops it
        assert time.monotonic() < end, "the orphaned run kept training"
        time.sleep(0.5)
    run.poll(0.5)
    assert run.stop_requested is not None and run.state == "done" and run.result["reason"] == "stopped"


# ----------------------------------------------------------------------------------------------- the API
def test_the_tabs_hold_nothing_but_the_five_tabs(app_url):
    """A component made directly in the Tabs (outside any tab) shifts the later tabs' places: Gradio 6.31 then shows
    the next tab's button twice (the compare tab's drawing state once did this to Watch them learn)."""
    from app_fixtures import read_config

    config = read_config(app_url)
    kinds = {c["id"]: c for c in config["components"]}

    def find_tabs(node):
        if kinds.get(node["id"], {}).get("type") == "tabs":
            return node
        return next((t for t in map(find_tabs, node.get("children", [])) if t), None)

    children = [kinds[c["id"]] for c in find_tabs(config["layout"])["children"]]
    assert [(c["type"], c["props"].get("elem_id")) for c in children] == [
        ("tabitem", f"tab-{t}") for t in ("sketch", "day-night", "colorize", "compare", "learn")]


@pytest.fixture
def tiny_runs(live, monkeypatch):
    learn_tab = importlib.import_module("pix2pix_demo.ui.learn_tab")  # the module (the package exports the function)
    monkeypatch.setattr(learn_tab, "SPEC_OVERRIDES", dict(TINY))
    return live


def test_learn_endpoint_streams_a_run_to_its_end_and_the_zip_loads(client, app_url, tiny_runs, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    import pix2pix_demo

    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in info["/learn"]["parameters"]] == \
        ["task", "image_1", "image_2", "image_3", "seconds", "generators"]
    job = client.submit("day2night", handle_file(PHOTOS[0]), handle_file(PHOTOS[2]), None, 10,
                        ["encoder_decoder", "unet"], api_name="/learn")
    end = time.monotonic() + 120
    while tiny_runs.current() is None or not tiny_runs.current().running:
        assert time.monotonic() < end and not job.done(), job.status()
        time.sleep(0.2)
    other = Client(app_url, verbose=False, download_files=str(tmp_path / "other"))
    with pytest.raises(AppError, match=r"^A training is running; it ends in \d+ s\. Please try again then\.$"):
        other.predict("colorize", None, None, None, 10, ["unet"], api_name="/learn")
    job.result(timeout=240)
    outputs = job.outputs()
    plots = [o[0] for o in outputs if isinstance(o[0], dict) and o[0].get("data")]
    assert len(plots) >= 3, "the curves update at least three times"
    assert [len(p["data"]) for p in plots] == sorted(len(p["data"]) for p in plots)
    assert plots[-1]["columns"] == ["step", "L1", "curve"]
    assert {row[2] for row in plots[-1]["data"]} == {"Encoder–decoder · train", "Encoder–decoder · held-out",
                                                     "U-Net · train", "U-Net · held-out"}
    last = outputs[-1]
    held_in, target, ed, unet, mobilenet, table, status, download = last[1:9]
    assert Image.open(unet).size == Image.open(ed).size == Image.open(held_in).size == Image.open(target).size \
        == (256, 256)
    assert mobilenet is None
    assert [r[0] for r in table["data"]] == ["Encoder–decoder", "U-Net"] and "held-out L1" in table["headers"]
    assert status.startswith("✅ **Done**") and "time limit" in status
    with zipfile.ZipFile(download) as z:
        z.extractall(tmp_path / "unzipped")
        assert {n.split("/")[1] for n in z.namelist()} == {"encoder_decoder", "unet"}
    for arch in ("encoder_decoder", "unet"):
        assert pix2pix_demo.load("day2night", arch, weights=tmp_path / "unzipped")(photos()[1]).size == (600, 400)
    assert not client.predict(api_name="/learn_stop")  # nothing of this session runs any more: a no-op


def test_learn_stream_never_wipes_an_output_in_the_browser(app_url, tiny_runs):
    """Gradio streams a generator's outputs as diffs that the browser applies in place; the diff from a value to
    ``gr.skip()`` deletes every key of that value (the plot then fails with "reading 'step'"). Between reports the
    outputs are sent again unchanged, so no diff ever removes a key from an output."""
    out, messages = raw_predict(app_url, "learn", ["colorize", None, None, None, 10, ["unet"]], timeout=240)
    assert out is not None and str(out[7]).startswith("✅ **Done**"), messages[-1]
    diffs = [m["output"]["data"] for m in messages if m.get("msg") == "process_generating"]
    assert len(diffs) >= 5, "a stream of updates"
    for update in diffs[1:]:  # the first is the outputs themselves, the others diffs against the previous ones
        for i, ops in enumerate(update[:9]):
            assert isinstance(ops, list), (i, ops)
            wiped = [op for op in ops if op[0] == "delete" or op[1][-1:] == ["__type__"]]
            assert not wiped, f"output {i}: {wiped}"


@pytest.mark.parametrize("args, expected", [
    (["night2day", None, None, None, 10, ["unet"]], "The task must be one of"),
    ([["colorize"], None, None, None, 10, ["unet"]], "The task must be one of"),
    (["colorize", None, None, None, 5, ["unet"]], "The time limit must be"),
    (["colorize", None, None, None, "ten", ["unet"]], "The time limit must be"),
    (["colorize", None, None, None, 10, ["resnet"]], "generators must be a list"),
    (["colorize", None, None, None, 10, []], "generators must be a list"),
    (["colorize", None, None, None, 10, "unet"], "generators must be a list"),
    (["colorize", {"path": str(EXAMPLES / "photos" / "coffee_gray.jpg")}, None, None, 10, ["unet"]],
     "Colorize learns colours from colour photos"),
])
def test_learn_refuses_bad_arguments_in_sentences(app_url, tiny_runs, args, expected):
    out, messages = raw_predict(app_url, "learn", args)
    assert out is None
    error = str(messages[-1]["output"].get("error"))
    assert error.startswith(expected) and is_plain_sentence(error), error
    assert tiny_runs.current() is None or not tiny_runs.current().running, "no run was started"


def test_learn_refuses_a_picture_too_small_to_train_on(app_url, tiny_runs, tmp_path):
    Image.new("RGB", (20, 300), (200, 30, 30)).save(tmp_path / "thin.png")
    out, messages = raw_predict(app_url, "learn", ["day2night", None, {"upload": str(tmp_path / "thin.png")}, None,
                                                   10, ["unet"]])
    error = str(messages[-1]["output"].get("error"))
    assert out is None and error == "Image 2 is too small to train on: at least 32 × 32 pixels, please.", error
