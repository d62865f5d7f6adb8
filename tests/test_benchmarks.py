"""The benchmark suite: its arithmetic, and a quick run of every section so the code cannot rot (no timing checked)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import keras
import pytest

from benchmarks.common import Target, count_flops, percentile
from conftest import REPO, cli_env


def test_count_flops_of_known_layers():
    x = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)  # 8×8×8 outputs, 3·3·3 MACs each
    y = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same")(y)  # 8·8 inputs × 8 ch, 4·4·4 MACs each
    y = keras.layers.DepthwiseConv2D(3, padding="same")(y)  # 16×16×4 outputs, 9 MACs each
    model = keras.Model(x, y)
    expected = 2 * (8 * 8 * 8 * 27 + 8 * 8 * 8 * 16 * 4 + 16 * 16 * 4 * 9)
    assert count_flops(model) == expected


def test_paper_unet_flops_are_in_the_published_range():
    from pix2pix_demo.models import build_generator

    gflops = count_flops(build_generator("unet", image_size=256)) / 1e9
    # By hand: the encoder's 8 convolutions take 2.0 G multiply-adds, the decoder's 8 transposed ones 4.0 G.
    assert 11.5 < gflops < 12.5


def test_targets_and_regressions():
    assert Target("t", 29, 30).met and not Target("t", 29, 30).regression
    assert not Target("t", 33, 30).met and not Target("t", 33, 30).regression  # within 20 %
    assert Target("t", 37, 30).regression
    assert Target("t", 3.9, 5, ">=").regression and not Target("t", 4.5, 5, ">=").regression
    assert not Target("t", 0.1, 0.4, ">=", gate=False).regression  # reported, never a regression
    assert Target("failures", 1, 0).regression


def test_percentile():
    assert percentile([3, 1, 2], 0.5) == 2
    assert percentile(list(range(101)), 0.95) == 95
    assert math.isnan(percentile([], 0.5))


@pytest.mark.timeout(1200)
def test_quick_run_covers_every_section(tmp_path):
    out, md = tmp_path / "bench.json", tmp_path / "bench.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out), "--markdown", str(md)],
                          cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=1100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["machine"]["matmul_peak_gflops"] > 0 and report["machine"]["quick"] is True
    sections = report["sections"]
    assert len(sections) == 8
    targets = [t for s in sections.values() for t in s["targets"]]
    names = " ".join(t["name"] for t in targets)
    for what in ("paper U-Net", "TFLite", "sketch handler", "stroke end", "start-up", "RSS", "failed requests",
                 "matmul peak", "hostile: peak RSS", "hostile: slowest pad stroke", "learn day2night",
                 "learn: stroke end", "learn: app RSS"):
        assert what in names, what
    assert all(math.isfinite(t["value"]) for t in targets)
    failed = [t for t in targets if t["name"].startswith("failed requests")][0]
    assert failed["value"] == 0  # every request of the quick load test was answered
    odd = [t for t in targets if t["name"].startswith("hostile: answers")][0]
    assert odd["value"] == 0  # every huge upload got a picture or the busy sentence
    text = md.read_text()
    assert "### Targets" in text and "| paper U-Net (reference) |" in text
    assert "### Targets" in proc.stdout
