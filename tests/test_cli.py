"""The command line's manners: fast, quiet help; one progress bar that does not flood a log; clear errors for a
missing optional dependency; ``evaluate --round-trip`` honouring ``--split`` and ``--weights``."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, cli_env


def _python(code: str, *args, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], cwd=REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------------------ parser
def test_help_lists_every_command_and_imports_no_tensorflow():
    result = _python("""
        import sys
        from pix2pix_demo.__main__ import build_parser, main
        try:
            main(["--help"])
        except SystemExit as exit:
            print("EXIT", exit.code)
        print("TF", "tensorflow" in sys.modules, "keras" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "EXIT 0" in result.stdout
    assert "TF False False" in result.stdout
    assert result.stderr == ""  # no absl or oneDNN lines

    from pix2pix_demo.__main__ import build_parser

    description = build_parser().description
    for command in ("train", "train-all", "predict", "evaluate", "render-emoji", "hub"):
        assert f" {command}," in description or f" {command}." in description, command


def test_python_m_help_is_quiet():
    result = subprocess.run([sys.executable, "-m", "pix2pix_demo", "--help"], cwd=REPO, env=cli_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert "train-all" in result.stdout


def test_parser_choices_match_the_tasks_and_generators():
    from pix2pix_demo import __main__ as cli
    from pix2pix_demo.models import ARCHS, UPSAMPLING
    from pix2pix_demo.tasks import TASKS

    assert cli.TASKS == tuple(TASKS)
    assert cli.ARCHS == tuple(ARCHS)
    assert cli.UPSAMPLING == UPSAMPLING


def test_tensorflow_loads_quietly_and_warnings_print_once():
    """A command that runs TensorFlow: no absl/oneDNN start-up lines on stderr, and a TensorFlow warning (such as
    tf.function's retracing notice) appears once, not once per handler."""
    result = _python("""
        import pix2pix_demo.__main__ as cli

        def hub_command(args):
            import tensorflow as tf
            tf.get_logger().warning("retracing notice")
            print("TF_LOADED")

        cli.cmd_hub = hub_command
        raise SystemExit(cli.main(["hub", "push", "folder", "--repo", "someone/model"]))
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TF_LOADED" in result.stdout
    assert result.stderr.count("retracing notice") == 1, result.stderr
    assert "absl::InitializeLog" not in result.stderr and "oneDNN" not in result.stderr, result.stderr


def test_gitignore_covers_the_readme_output_folders():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("out/photo1_colorize.png", "runs/sketch_unet/run.json", "cache/emoji256/noto__cat.png"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0, path


# ---------------------------------------------------------------------------------------------- progress
class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_in_a_log_prints_a_line_per_tenth():
    from pix2pix_demo.progress import Progress

    stream = _Stream(tty=False)
    bar = Progress(3200, "step", stream=stream)
    for step in range(1, 3201):
        bar.update(step, {"l1": 0.5})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert "\r" not in stream.getvalue() and "\b" not in stream.getvalue()
    assert lines[0].startswith("320/3200 [") and "l1: 0.5" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("3200/3200 [") and "100%" in lines[-1]


def test_progress_on_a_terminal_redraws_one_line():
    from pix2pix_demo.progress import Progress

    stream = _Stream(tty=True)
    bar = Progress(50, "icon", stream=stream)
    bar.add(1)
    bar.add(1)  # within 0.1 s of the first: not redrawn
    bar.update(50)
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "50/50" in text


def test_progress_of_a_resumed_run_times_only_the_new_steps():
    from pix2pix_demo.progress import Progress

    stream = _Stream(tty=False)
    bar = Progress(100, "step", initial=60, stream=stream)
    bar.update(65)  # still in the tenth it started in: nothing
    assert stream.getvalue() == ""
    bar.update(70)
    assert stream.getvalue().startswith("70/100 [") and "ETA" in stream.getvalue()


def test_disabled_progress_prints_nothing():
    from pix2pix_demo.progress import Progress

    stream = _Stream(tty=True)
    bar = Progress(10, stream=stream, enabled=False)
    for _ in range(10):
        bar.add()
    bar.close()
    assert stream.getvalue() == ""


# ---------------------------------------------------------------------------------------------- render-emoji
def test_render_emoji_without_resvg_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from pix2pix_demo.__main__ import main

    monkeypatch.setitem(sys.modules, "resvg_py", None)  # as if only requirements.txt were installed
    rc = main(["render-emoji", "--src", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip() == "error: render-emoji needs resvg-py: pip install -r requirements-dev.txt"


def test_render_emoji_log_is_short_and_needs_no_tensorflow(tmp_path):
    pytest.importorskip("resvg_py")
    src = tmp_path / "src" / "shapes"
    src.mkdir(parents=True)
    icons = {f"dot-{i}": {"body": f'<circle cx="8" cy="8" r="{1 + i % 7}" fill="#c{i % 10}3"/>'} for i in range(200)}
    (src / "icons.json").write_text(json.dumps({"prefix": "shapes", "width": 16, "height": 16, "icons": icons}))
    result = _python("""
        import sys
        from pix2pix_demo.__main__ import main
        rc = main(["render-emoji", "--src", sys.argv[1], "--out", sys.argv[2], "--size", "32"])
        print("TF", "tensorflow" in sys.modules)
        raise SystemExit(rc)
    """, tmp_path / "src", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "200 emoji in" in result.stdout and "TF False" in result.stdout
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 10 and lines[-1].startswith("200/200 ["), result.stderr
    assert len(list((tmp_path / "out").glob("shapes__dot-*.png"))) == 200


# ------------------------------------------------------------------------------------------- round trip
@pytest.fixture
def day_night_weights(photo_dir, tmp_path):
    """A folder holding day2night/unet/ and night2day/unet/: one tiny model (a few steps), filed under both."""
    from pix2pix_demo.training import TrainConfig, train

    root = tmp_path / "day_night"
    cfg = TrainConfig(task="day2night", data=str(photo_dir), steps=2, batch_size=2, image_size=32, base_filters=4,
                      max_filters=16, disc_filters=4, checkpoint_every=100, sample_every=100, log_every=100,
                      bn_recalibration_batches=1)
    model = train(cfg, root / "run", verbose=False)
    for task in ("day2night", "night2day"):
        shutil.copytree(model, root / task / "unet")
    config = json.loads((root / "night2day" / "unet" / "config.json").read_text())
    config["task"] = "night2day"  # RGB → RGB like day2night: any such model can stand in for the other way
    (root / "night2day" / "unet" / "config.json").write_text(json.dumps(config))
    return root


def test_evaluate_round_trip_uses_split_and_weights(day_night_weights, photo_dir, tmp_path, capsys):
    from pix2pix_demo.__main__ import main

    report = tmp_path / "report.json"
    args = ["evaluate", "--task", "day2night", "--data", str(photo_dir), "--arch", "unet", "--split", "all",
            "--weights", f"unet={day_night_weights}", "--round-trip", "--json", str(report)]
    assert main(args) == 0
    out, err = capsys.readouterr()
    results = json.loads(report.read_text())
    photos = len(list(photo_dir.glob("*.jpg")))
    assert results["day2night"]["unet"]["n"] == photos  # --split all, not the validation photos
    assert results["day2night"]["unet"]["params"] < 100_000  # the tiny model, not the shipped one
    assert results["round_trip"][0]["n"] == photos
    assert f"on {photos} photos" in out
    assert any(line.startswith(f"{2 * photos}/{2 * photos} [") for line in err.splitlines()), err  # progress

    # The round trip reads its night2day model from --weights too: without one there, a clear error.
    shutil.rmtree(day_night_weights / "night2day")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error:") and "night2day" in err and "Traceback" not in err
