"""The command line: ``python -m pix2pix_demo {train,predict,evaluate,render-emoji,hub} …``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .models import ARCHS  # noqa: E402
from .tasks import TASKS  # noqa: E402


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
    p.add_argument("--precision", choices=["float32", "mixed_bfloat16"], default="float32",
                   help="compute dtype while training (mixed_bfloat16: faster on CPUs with AVX-512 BF16 or AMX)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out at its last checkpoint")
    p.add_argument("--devices", type=int, default=None, help="train on N devices with MirroredStrategy")


def _add_train_all(sub):
    p = sub.add_parser("train-all", help="rebuild every shipped model, its metrics and the model card")
    p.add_argument("--data", default="../shared/data", help="folder holding photos/ and emoji/")
    p.add_argument("--tasks", nargs="*", choices=list(TASKS), help="only these tasks")
    p.add_argument("--archs", nargs="*", choices=ARCHS, help="only these generators")
    p.add_argument("--runs", default="runs", help="where the training runs go")
    p.add_argument("--weights", default="weights", help="where the finished models are published")
    p.add_argument("--cache", default="cache", help="where the rendered emoji go")
    p.add_argument("--card-only", action="store_true", help="only rewrite contact sheets, card and manifest")


def _add_predict(sub):
    p = sub.add_parser("predict", help="translate image files at their full resolution")
    p.add_argument("--task", required=True, choices=list(TASKS))
    p.add_argument("--arch", default="unet", choices=ARCHS)
    p.add_argument("--weights", help="model folder or hf://owner/repo[@revision] (default: shipped weights)")
    p.add_argument("inputs", nargs="+", help="image files (any format PIL opens)")
    p.add_argument("--out", required=True, help="output folder")


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
    p.add_argument("--round-trip", action="store_true",
                   help="day2night/night2day: also the PSNR of night2day(day2night(x)) against x")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pix2pix_demo", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logs and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_train_all, _add_predict, _add_evaluate, _add_render, _add_hub):
        add(sub)
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
                       precision=a.precision)


def cmd_train(a):
    from .training import train

    if not a.resume and not (a.task and a.data):
        raise ValueError("--task and --data are required (unless --resume, which reads them from the run)")
    folder = train(config_from_args(a), a.out, resume=a.resume, devices=a.devices)
    if folder is None:
        print(f"\nstopped early; continue with: python -m pix2pix_demo train --out {a.out} --resume", file=sys.stderr)
        raise SystemExit(130)
    print(f"\nmodel: {folder}")


def cmd_train_all(a):
    from .zoo import train_all, write_card

    if a.card_only:
        print(write_card(a.weights, a.data, a.cache))
    else:
        train_all(a.data, a.runs, a.weights, a.tasks, a.archs, a.cache)


def cmd_predict(a):
    from .imaging import ImageError
    from .inference import load

    translate = load(a.task, a.arch, a.weights)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in a.inputs:
        try:
            result, ms = translate.timed(path)
        except ImageError as err:
            print(f"skipped {path}: {err}", file=sys.stderr)
            failed += 1
            continue
        target = out / f"{Path(path).stem}_{a.task}.png"
        result.save(target)
        print(f"{path} → {target} ({result.width}×{result.height}, {ms:.0f} ms)")
    if failed:
        raise SystemExit(1)


def cmd_evaluate(a):
    from .evaluation import evaluate, markdown_table, save_json
    from .tasks import get_task

    from .inference import WEIGHTS_DIR

    overrides = dict(w.split("=", 1) for w in a.weights)
    archs = a.arch or [arch for arch in ARCHS if arch in overrides
                       or (WEIGHTS_DIR / a.task / arch / "config.json").exists()] or list(ARCHS)
    results = evaluate(get_task(a.task), a.data, archs, overrides, a.split, direction=a.direction)
    print(markdown_table(a.task, results))
    out = {a.task: results}
    if a.round_trip:
        from .evaluation import round_trips

        if a.task not in ("day2night", "night2day"):
            raise ValueError("--round-trip is for day2night or night2day.")
        out["round_trip"] = round_trips(a.data, archs=archs)
        for r in out["round_trip"]:
            print(f"round trip night2day(day2night(x)), {r['arch']}: PSNR {r['psnr']:.2f} dB (min {r['psnr_min']:.2f}) "
                  f"on {r['n']} validation photos at {r['long_side']} px")
    if a.json:
        save_json(a.json, out)


def cmd_render(a):
    from .emoji import render_sets

    n = render_sets(Path(a.src), Path(a.out), a.size, a.sets, a.limit, skip_variants=not a.all_variants)
    print(f"{n} emoji in {a.out}")


def cmd_hub(a):
    from .hub import push

    print(push(a.folder, a.repo, private=a.private, revision=a.revision))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from .data import DataError
    from .export import WeightsError
    from .hub import HubError
    from .imaging import ImageError

    command = {"train": cmd_train, "train-all": cmd_train_all, "predict": cmd_predict, "evaluate": cmd_evaluate,
               "render-emoji": cmd_render, "hub": cmd_hub}[args.command]
    try:
        command(args)
    except (DataError, WeightsError, HubError, ImageError, ValueError, FileNotFoundError) as err:
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
