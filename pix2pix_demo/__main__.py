"""The command line: ``python -m pix2pix_demo {train,train-all,predict,evaluate,render-emoji,hub,data} …``.

TensorFlow is imported only by the commands that run a model, so ``--help`` and argument errors are instant.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

# The names only, so that the parser needs no TensorFlow; tests/test_cli.py checks them against TASKS, ARCHS and
# models.UPSAMPLING.
TASKS = ("sketch", "colorize", "day2night", "night2day")
ARCHS = ("unet", "encoder_decoder", "mobilenet_unet")
UPSAMPLING = ("transpose", "resize", "resize_last")


class CommandError(Exception):
    """A problem the command line reports as ``error: <message>`` (exit status 2)."""


def _add_train(sub):
    p = sub.add_parser("train", help="train a generator (GAN + λ·L1) and export a model folder")
    p.add_argument("--task", choices=list(TASKS), help="required unless --resume")
    p.add_argument("--arch", default="unet", choices=ARCHS)
    p.add_argument("--data", help="folder of images, of A/ and B/, or of side-by-side A|B images")
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples, model/)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default 2000; on --resume: the run's)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--image-size", type=int, default=None, help="model input size (default: the task's)")
    p.add_argument("--base-filters", type=int, default=32)
    p.add_argument("--max-filters", type=int, default=256)
    p.add_argument("--num-levels", type=int, default=None, help="down-sampling levels (default: down to 1×1)")
    p.add_argument("--alpha", type=float, default=0.35, help="MobileNetV2 width multiplier")
    p.add_argument("--disc-filters", type=int, default=64, help="PatchGAN base width (paper: 64)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--l1-lambda", type=float, default=100.0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--direction", choices=["AtoB", "BtoA"], help="read side-by-side A|B images this way")
    p.add_argument("--layout", choices=["auto", "images", "ab", "side-by-side"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--sample-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--max-images", type=int, default=None, help="use only the first N images")
    p.add_argument("--weights-dtype", choices=["float16", "float32"], default="float16")
    p.add_argument("--hints", action="store_true",
                   help="train a hint-aware generator (sketch, colorize): it also takes colour hints, sampled from "
                        "the target in training; with none it is the automatic model")
    p.add_argument("--bottleneck-norm", action="store_true",
                   help="batch-normalise the innermost encoder layer (the TensorFlow tutorial's generator; the "
                        "paper's code, the default, does not)")
    p.add_argument("--upsampling", choices=UPSAMPLING, default="transpose",
                   help="how the decoder doubles the resolution: the paper's 4×4 stride-2 transposed convolution, "
                        "×2 nearest-neighbour resize then a 3×3 convolution (no checkerboard), or transposed "
                        "convolutions with a resize for the last doubling only (measured: the grid moves to a "
                        "4-pixel period)")
    p.add_argument("--precision", choices=["float32", "mixed_bfloat16"], default="float32",
                   help="compute dtype while training (mixed_bfloat16: faster on CPUs with AVX-512 BF16 or AMX)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out at its last checkpoint")
    p.add_argument("--devices", type=int, default=None, help="train on N devices with MirroredStrategy")
    p.add_argument("--cluster", metavar="HOST:PORT,HOST:PORT,...",
                   help="train on several workers (MultiWorkerMirroredStrategy): every worker's address, the same on "
                        "each; it sets TF_CONFIG, and without it a TF_CONFIG that names several workers does the same")
    p.add_argument("--worker-index", type=int, default=None,
                   help="with --cluster: this worker's place in it (0 is the chief, which alone writes --out)")
    p.add_argument("--cluster-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="give up (naming the address that did not answer) when the workers have not all joined "
                        "within this time (default 300)")


def _add_train_all(sub):
    p = sub.add_parser("train-all", help="rebuild every shipped model, its metrics and the model card")
    p.add_argument("--data", default="../shared/data", help="folder holding photos/ and emoji/")
    p.add_argument("--tasks", nargs="*", choices=list(TASKS), help="only these tasks")
    p.add_argument("--archs", nargs="*", choices=ARCHS, help="only these generators")
    p.add_argument("--runs", default="runs", help="where the training runs go")
    p.add_argument("--weights", default="weights", help="where the finished models are published")
    p.add_argument("--cache", default="cache", help="where the rendered emoji go")
    p.add_argument("--card-only", action="store_true",
                   help="only rewrite contact sheets, card and manifest (with --tasks: only those tasks' sheets and "
                        "held-out numbers are made anew)")


def _add_predict(sub):
    p = sub.add_parser("predict", help="translate image files at their full resolution")
    p.add_argument("--task", required=True, choices=list(TASKS))
    p.add_argument("--arch", default="unet", choices=ARCHS)
    p.add_argument("--weights", help="model folder or hf://owner/repo[@revision] (default: shipped weights)")
    p.add_argument("inputs", nargs="+", help="image files (any format PIL opens)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--hints", metavar="HINTS.json",
                   help="colour hints for a hint-aware model: a JSON list [{\"x\": X, \"y\": Y, "
                        "\"color\": \"#rrggbb\"}, …] "
                        "in each input's own pixels, or an object mapping input file names to such lists")


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="L1 / PSNR / SSIM / colourfulness / params / latency per generator")
    p.add_argument("--task", required=True, choices=list(TASKS))
    p.add_argument("--data", required=True)
    p.add_argument("--arch", nargs="+", choices=ARCHS, help="default: every shipped generator of the task")
    p.add_argument("--weights", nargs="*", default=[], metavar="ARCH=PATH", help="override a model's weights")
    p.add_argument("--split", choices=["auto", "val", "all"], default="auto",
                   help="auto: the validation split of an image folder, all of a paired folder")
    p.add_argument("--direction", choices=["AtoB", "BtoA"])
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--hints", nargs="+", type=int, metavar="N",
                   help="also measure with N colour hints sampled from each target (fixed seed), e.g. --hints 0 1 2 "
                        "5 10 20; generators without hint channels are measured once, with none")
    p.add_argument("--round-trip", action="store_true",
                   help="day2night/night2day: also the PSNR of night2day(day2night(x)) against x, on the same "
                        "--split; with --weights ARCH=DIR, DIR must hold day2night/ARCH/ and night2day/ARCH/")


def _add_render(sub):
    p = sub.add_parser("render-emoji", help="render Iconify emoji sets to PNG on white (training data)")
    p.add_argument("--src", default="../shared/data/emoji", help="folder holding <set>/icons.json")
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--sets", nargs="*", help="only these sets (default: all)")
    p.add_argument("--limit", type=int, help="at most N icons per set")
    p.add_argument("--all-variants", action="store_true", help="also render skin-tone variants")


def _add_hub(sub):
    p = sub.add_parser("hub", help="Hugging Face Hub")
    hs = p.add_subparsers(dest="hub_command", required=True)
    push = hs.add_parser("push", help="upload a model folder with a generated model card")
    push.add_argument("folder")
    push.add_argument("--repo", required=True, help="owner/name")
    push.add_argument("--private", action="store_true")
    push.add_argument("--revision", help="branch to push to")


def _add_data(sub):
    from .sources import add_parser

    add_parser(sub)


def cmd_data(a):
    from .sources import main as data_main

    return data_main(a)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pix2pix_demo", epilog="Exit status: 0 done; 2 bad input (an `error: …` line on stderr; "
        "predict still translates the other files); 130 interrupted (train: continue with --resume).")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logs and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_train_all, _add_predict, _add_evaluate, _add_render, _add_hub, _add_data):
        add(sub)
    parser.description = (f"pix2pix studio's command line: {', '.join(sub.choices)}. "
                          "`python -m pix2pix_demo COMMAND --help` lists a command's options.")
    return parser


def config_from_args(a):
    """The ``TrainConfig`` that ``train``'s command-line arguments ask for."""
    from .training import TrainConfig

    steps = a.steps if a.resume else (a.steps or 2000)
    return TrainConfig(task=a.task or "", arch=a.arch, data=a.data or "", steps=steps, batch_size=a.batch_size,
                       image_size=a.image_size, base_filters=a.base_filters, max_filters=a.max_filters,
                       num_levels=a.num_levels, alpha=a.alpha, disc_filters=a.disc_filters, lr=a.lr,
                       l1_lambda=a.l1_lambda, val_fraction=a.val_fraction, direction=a.direction, layout=a.layout,
                       seed=a.seed, checkpoint_every=a.checkpoint_every, sample_every=a.sample_every,
                       log_every=a.log_every, max_images=a.max_images, weights_dtype=a.weights_dtype,
                       precision=a.precision, bottleneck_norm=a.bottleneck_norm, hints=a.hints,
                       upsampling=a.upsampling)


def cmd_train(a):
    from .cluster import ClusterError, from_env, tf_config

    if a.cluster:
        os.environ["TF_CONFIG"] = tf_config(a.cluster, a.worker_index)
    elif a.worker_index is not None:
        raise ValueError("--worker-index needs --cluster")
    workers = from_env()  # a cluster's chief decides for every worker whether the run is complete

    from .training import completed_steps, train

    if not a.resume and not (a.task and a.data):
        raise ValueError("--task and --data are required (unless --resume, which reads them from the run)")
    if workers is None and a.resume and (done := completed_steps(a.out, a.steps)) is not None:
        print(f"run {a.out} is already complete ({done}/{a.steps or done} steps); model in {Path(a.out) / 'model'}")
        return
    try:
        folder = train(config_from_args(a), a.out, resume=a.resume, devices=a.devices,
                       cluster_timeout=a.cluster_timeout)
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if folder is None:
        again = " (on every worker)" if workers else ""
        print(f"\nstopped early; continue with: python -m pix2pix_demo train --out {a.out} --resume{again}",
              file=sys.stderr)
        # The run is saved. Leave without the interpreter's shutdown: with the input pipeline stopped mid-batch,
        # tf.data's numpy_function threads wait for the GIL while Python finalises and the iterator's destructor
        # waits for them, for ever (seen here in about one stop in three; tensorflow/tensorflow#21277).
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(130)
    print(f"\nmodel: {folder}")


def cmd_train_all(a):
    from .card import write_card
    from .zoo import train_all

    if a.card_only:
        print(write_card(a.weights, a.data, a.cache, a.tasks))
    else:
        train_all(a.data, a.runs, a.weights, a.tasks, a.archs, a.cache)


def _read_hints(path: str):
    """``predict --hints``: a list of hints for every input, or {file name: list}; checked by hints.parse later."""
    import json

    try:
        value = json.loads(Path(path).read_text())
    except OSError as err:
        raise CommandError(f"{path} could not be read ({err.strerror or err}).") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CommandError(f"{path} is not valid JSON ({err}).") from None
    if not isinstance(value, (list, dict)):
        raise CommandError(f"{path} must hold a list of hints or an object mapping file names to lists.")
    return value


def cmd_predict(a):
    from .imaging import ImageError
    from .inference import load

    hints = _read_hints(a.hints) if a.hints else None
    translate = load(a.task, a.arch, a.weights)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in a.inputs:  # translate every file that can be read; report each one that cannot
        try:
            result, ms = translate.timed(path, hints=hints.get(Path(path).name) if isinstance(hints, dict)
                                         else hints)
        except ImageError as err:
            name_in_message = Path(path).name in str(err)
            print(f"error: {err}" if name_in_message else f"error: {path}: {err}", file=sys.stderr)
            failed += 1
            continue
        target = out / f"{Path(path).stem}_{a.task}.png"
        result.save(target)
        print(f"{path} → {target} ({result.width}×{result.height}, {ms:.0f} ms)")
    return 2 if failed else 0


def cmd_evaluate(a):
    from .evaluation import evaluate, hints_table, markdown_table, save_json
    from .inference import WEIGHTS_DIR
    from .tasks import get_task

    overrides = dict(w.split("=", 1) for w in a.weights)
    archs = a.arch or [arch for arch in ARCHS if arch in overrides
                       or (WEIGHTS_DIR / a.task / arch / "config.json").exists()] or list(ARCHS)
    if a.hints and any(n < 0 or n > 100 for n in a.hints):
        raise ValueError("--hints takes counts from 0 to 100.")
    results = evaluate(get_task(a.task), a.data, archs, overrides, a.split, direction=a.direction, progress=True,
                       hint_counts=a.hints or ())
    print(markdown_table(a.task, results))
    if a.hints:
        print("\nPSNR and hue accuracy with colour hints:\n" + hints_table(a.task, results))
    out = {a.task: results}
    if a.round_trip:
        from .evaluation import round_trip

        if a.task not in ("day2night", "night2day"):
            raise ValueError("--round-trip is for day2night or night2day.")
        out["round_trip"] = [round_trip(a.data, arch, overrides.get(arch), split=a.split) for arch in archs]
        for r in out["round_trip"]:
            print(f"round trip night2day(day2night(x)), {r['arch']}: PSNR {r['psnr']:.2f} dB (min {r['psnr_min']:.2f}) "
                  f"on {r['n']} photos at {r['long_side']} px")
    if a.json:
        save_json(a.json, out)


def cmd_render(a):
    try:
        import resvg_py  # noqa: F401
    except ImportError:
        raise CommandError("render-emoji needs resvg-py: pip install -r requirements-dev.txt") from None
    from .emoji import render_sets

    n = render_sets(Path(a.src), Path(a.out), a.size, a.sets, a.limit, skip_variants=not a.all_variants)
    print(f"{n} emoji in {a.out}")


def cmd_hub(a):
    from .hub import push

    print(push(a.folder, a.repo, private=a.private, revision=a.revision))


@contextlib.contextmanager
def _stderr_fd_silenced():
    """Send file descriptor 2 to /dev/null: C++ libraries write there directly, past ``sys.stderr``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow quietly: its C++ INFO and WARNING logs off, and (unless ``verbose``) the lines it prints
    while loading (absl's "All log messages before absl::InitializeLog()" and oneDNN's notice, once per library)
    dropped. Logging must be configured first, or TensorFlow adds its own handler and every warning prints twice."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with contextlib.nullcontext() if verbose else _stderr_fd_silenced():
        import tensorflow  # noqa: F401


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # Our own INFO lines (data found, resumed from, …); other libraries' only from WARNING up, unless -v.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("pix2pix_demo").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    errors = (CommandError, ValueError, FileNotFoundError)  # DataError and ImageError are ValueErrors
    if args.command not in ("render-emoji", "data"):  # every other command runs a model
        import_tensorflow(args.verbose)
        from .export import WeightsError
        from .hub import HubError

        errors += (WeightsError, HubError)
    command = {"train": cmd_train, "train-all": cmd_train_all, "predict": cmd_predict, "evaluate": cmd_evaluate,
               "render-emoji": cmd_render, "hub": cmd_hub, "data": cmd_data}[args.command]
    try:
        return command(args) or 0
    except errors as err:
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
