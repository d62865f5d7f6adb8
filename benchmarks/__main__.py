"""``python -m benchmarks [--quick] [--only SECTION ...] [--weights weights] [--json FILE] [--markdown FILE]``"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path


def _isolate() -> None:
    """Private HOME/TMPDIR/Gradio cache, offline Hub: set before TensorFlow or Gradio are imported."""
    from .common import private_env

    os.environ.update(private_env(Path(tempfile.mkdtemp(prefix="p2p-bench-"))))
    tempfile.tempdir = None


SECTIONS = ["forward", "backends", "sketch", "photos", "learn", "training", "app", "hostile"]


def _run_section(name, args, weights, peak, wanted, in_process):
    """One section; the sketch and photo sections share one in-process app (returned with the section)."""
    from . import hostile, learn, models, serving, training

    if name == "forward":
        return models.forward(weights, args.quick, peak)
    if name == "backends":
        return models.backends(weights, args.quick)
    if name in ("sketch", "photos"):
        if in_process is None:
            in_process = serving.InProcessApp(weights, serve=not args.no_browser and "sketch" in wanted)
        sec = serving.sketch(in_process, weights, args.quick) if name == "sketch" else \
            serving.photos(in_process, args.quick)
        return sec, in_process
    if name == "learn":
        if in_process is None:
            in_process = serving.InProcessApp(weights, serve=not args.no_browser)
        return learn.learn(in_process, args.quick), in_process
    if name == "training":
        return training.training(args.quick, peak, Path(args.data))
    if name == "hostile":
        return hostile.hostile(weights, args.quick), in_process
    if in_process is not None:  # free this process' models before measuring the app's own RSS
        in_process.close()
    return serving.app(weights, args.quick), None


def main(argv=None) -> int:
    from .common import ROOT

    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="one model, a few iterations; checks no timing (CI)")
    ap.add_argument("--only", nargs="*", choices=SECTIONS, help="run only these sections")
    ap.add_argument("--weights", default=str(ROOT / "weights"), help="the model folders to measure")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "photos"),
                    help="photos for the input-pipeline measurement (skipped when missing)")
    ap.add_argument("--json", default=None, help="write the results here (default: benchmarks/results.json for a "
                                                   "full run, nothing for --quick)")
    ap.add_argument("--markdown", default=None, help="also write the markdown report here")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium round trip")
    args = ap.parse_args(argv)
    _isolate()
    sys.path.insert(0, str(ROOT))

    from .common import machine, matmul_peak_gflops

    weights = Path(args.weights).resolve()
    wanted = args.only or SECTIONS
    t_start = time.perf_counter()
    peak = matmul_peak_gflops(repeats=3 if args.quick else 10)
    info = machine() | {"matmul_peak_gflops": peak, "quick": args.quick, "weights": str(weights)}
    print(f"# pix2pix studio benchmarks\n\n{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
          f"TensorFlow {info['tensorflow']}; matmul peak {peak:.0f} GFLOP/s{' (quick mode)' if args.quick else ''}\n",
          flush=True)

    sections, errors = [], []
    in_process = None
    try:
        for name in SECTIONS:
            if name not in wanted:
                continue
            t0 = time.perf_counter()
            try:
                sec = _run_section(name, args, weights, peak, wanted, in_process)
            except Exception:  # report it, go on with the other sections, and fail at the end
                traceback.print_exc()
                errors.append(name)
                continue
            if isinstance(sec, tuple):
                sec, in_process = sec
            sec.data["seconds"] = time.perf_counter() - t0
            sections.append(sec)
            print(sec.markdown() + "\n", flush=True)
    finally:
        if in_process is not None:
            in_process.close()

    targets = [t for s in sections for t in s.targets]
    summary = ["| target | measured | goal | state |", "|---|---|---|---|"] + [t.row() for t in targets]
    total = time.perf_counter() - t_start
    print("### Targets\n\n" + "\n".join(summary) + f"\n\nTotal benchmark time: {total / 60:.1f} min\n", flush=True)
    report = {"machine": info, "total_s": total, "sections": {s.name: s.to_json() for s in sections},
              "failed_sections": errors}
    out = args.json or (None if args.quick else str(ROOT / "benchmarks" / "results.json"))
    if out:
        Path(out).write_text(json.dumps(report, indent=2, default=float) + "\n")
        print(f"results: {out}")
    if args.markdown:
        Path(args.markdown).write_text("\n\n".join(s.markdown() for s in sections) + "\n\n### Targets\n\n"
                                       + "\n".join(summary) + "\n")
    if errors:
        print(f"sections that failed: {', '.join(errors)}", file=sys.stderr)
        return 2
    regressions = [t for t in targets if t.regression]
    if regressions and not args.quick:
        print("targets missed by more than 20 %: " + "; ".join(t.name for t in regressions), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
