"""``data build``: the source registry, fetch/unpack/layout on tiny fixture packages (npm tarballs, Debian
packages, wheels, Qt resource files), the manifest and SOURCES.tsv, the held-out layout, clear errors.

No downloads, except ``test_real_npm_source``, which packs one small npm package and skips when npm or the
registry does not answer.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import struct
import tarfile
import zipfile
import zlib
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from pix2pix_demo import packages
from pix2pix_demo import sources as S
from pix2pix_demo.qt_resources import read_rcc
from pix2pix_demo.sources import SOURCES, Pick, Source, SourceError, build, resolve

RECT = '<rect x="2" y="2" width="12" height="12" fill="{}"/>'


def _npm_tarball(folder, name, version="1.0.0", icons=("cat", "dog"), colour="#e02020", aliases=None):
    """A fake ``npm pack`` result of ``@iconify-json/<name>``: package/{icons,info,package}.json."""
    files = {
        "icons.json": {"prefix": name, "width": 16, "height": 16, "aliases": aliases or {},
                       "icons": {i: {"body": RECT.format(colour)} for i in icons}},
        "info.json": {"prefix": name, "name": name.title(), "author": {"name": "Some Designer", "url": "https://x.org"},
                      "license": {"title": "MIT", "spdx": "MIT"}},
        "package.json": {"name": f"@iconify-json/{name}", "version": version},
    }
    path = folder / f"iconify-json-{name}-{version}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for fname, content in files.items():
            blob = json.dumps(content).encode()
            info = tarfile.TarInfo(f"package/{fname}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def _fake_fetch(archives, calls=None):
    def fetch(src, dest):
        if calls is not None:
            calls.append(src.name)
        return shutil.copy(archives[src.name], dest)
    return fetch


def _data_args(*argv):
    parser = argparse.ArgumentParser()
    S.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["data", *argv])


# ------------------------------------------------------------------------------------------------ registry
def test_registry():
    pins = {"noto": "1.2.9", "fluent-emoji-flat": "1.2.6", "fxemoji": "1.2.2", "twemoji": "1.2.5"}  # shared data's
    assert {n: SOURCES[n].version for n in pins} == pins
    for src in SOURCES.values():
        assert "openmoji" not in (src.name + src.package).lower()
        assert src.client in ("npm", "apt", "pypi") and src.kind in ("emoji", "lineart", "clipart", "stamps", "photos")
        if src.kind == "lineart":  # line art goes where its colour set goes
            assert SOURCES[src.pairs_with].kind == "emoji" and SOURCES[src.pairs_with].heldout == src.heldout
        if src.client != "npm":
            assert src.root and (src.licence or all(p.licence for p in src.picks))
            assert src.credit or all(p.credit for p in src.picks)
        if src.kind == "photos":
            assert bool(src.picks) != bool(src.rcc) and all(p.name.endswith(".jpg") for p in src.picks)
        assert not set(src.heldout_categories) & set(src.exclude)
    assert SOURCES["openclipart-png"].spec == "openclipart-png=1:0.18+dfsg-19"
    assert SOURCES["streamline-emojis"].spec == "@iconify-json/streamline-emojis@1.2.4"
    assert SOURCES["scikit-image"].spec == "scikit-image==0.26.0"
    # The photos of ../shared/data/photos, by name: 51 picked (gcompris' 145 come from its Qt resource files).
    names = [p.name for s in SOURCES.values() for p in s.picks]
    assert len(names) == len(set(names)) == 51


def test_heldout_choice():
    """One whole photo package, one whole emoji artist (every set and its line art), a share of clip-art themes."""
    held = {n for n, s in SOURCES.items() if s.heldout}
    assert held == {"lomiri-wallpapers-16.04", "emojione", "emojione-v1", "emojione-monotone"}
    photos = [s for s in SOURCES.values() if s.kind == "photos"]
    assert [s.name for s in photos if s.heldout] == ["lomiri-wallpapers-16.04"] and 10 <= len(
        SOURCES["lomiri-wallpapers-16.04"].picks) <= 25
    assert all(SOURCES[n].heldout for n in SOURCES if n.startswith("emojione"))  # the artist, whatever the set
    assert SOURCES["openclipart-png"].heldout_categories == ("plants", "transportation")
    assert SOURCES["tuxpaint-stamps-default"].heldout_categories == ("plants", "vehicles")


def test_resolve():
    assert resolve(None) == list(SOURCES.values())
    names = [s.name for s in resolve(["emojione-monotone", "emojione", "streamline-emojis"])]
    assert names == ["emojione", "emojione-monotone", "streamline-emojis"]  # the colour set first, once
    with pytest.raises(SourceError, match="unknown source 'nope'; known: noto"):
        resolve(["nope"])
    for name in ("openmoji", "OpenMoji", "@iconify-json/openmoji"):
        with pytest.raises(SourceError, match="OpenMoji is kept aside"):
            resolve([name])
    with pytest.raises(SourceError, match="OpenMoji"):  # also when handed to build() directly
        build("unused", [Source("x", "npm", "@iconify-json/openmoji", "1.0.0", "emoji")], fetch=None)


@pytest.mark.parametrize("name, message", [("nope", "unknown source"), ("openmoji", "OpenMoji is kept aside")])
def test_cli_refuses(tmp_path, capsys, name, message):
    assert S.main(_data_args("build", "--out", str(tmp_path / "d"), "--sources", "noto", name)) == 2
    assert capsys.readouterr().err.startswith(f"error: {message}") and not (tmp_path / "d").exists()


def test_cli_list(capsys):
    assert S.main(_data_args("list")) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SOURCES) and "pairs with fluent-emoji-flat" in out
    assert "photos (held out)" in out and "(held out: plants, transportation)" in out


# ---------------------------------------------------------------------------------------------- npm sources
def test_build_emoji_and_lineart(tmp_path):
    archives = {"emojione": _npm_tarball(tmp_path, "emojione", "1.2.3", ("cat", "dog", "cow")),
                "emojione-monotone": _npm_tarball(tmp_path, "emojione-monotone", "1.2.1", ("cat", "dog", "owl"),
                                                  "#000", aliases={"kitty": {"parent": "cat"}, "o": {"parent": "owl"}}),
                "noto": _npm_tarball(tmp_path, "noto", "1.2.9", ("cat", "sun"))}
    out, lines, calls = tmp_path / "data", [], []
    manifest = build(out, resolve(["emojione-monotone", "noto"]), fetch=_fake_fetch(archives, calls),
                     say=lines.append)
    assert calls == ["emojione", "emojione-monotone", "noto"] and len(lines) == 3  # one progress line per source
    assert lines[1].startswith("emojione-monotone: @iconify-json/emojione-monotone 1.2.1, 2 icons (held out) "
                               "(dropped: 1 unpaired)")
    # EmojiOne is the held-out artist: its colour set and its line art are laid out under heldout/ only.
    held = out / "heldout"
    colour = json.loads((held / "emoji/emojione/icons.json").read_text())
    assert sorted(colour["icons"]) == ["cat", "cow", "dog"] and (held / "emoji/emojione/info.json").exists()
    lineart = json.loads((held / "lineart/emojione-monotone/icons.json").read_text())
    assert sorted(lineart["icons"]) == ["cat", "dog"] and lineart["aliases"] == {"kitty": {"parent": "cat"}}
    assert sorted(p.name for p in (out / "emoji").iterdir()) == ["noto"] and not (out / "lineart").exists()
    assert (out / "raw/emojione/package/icons.json").exists()
    on_disk = json.loads((out / "MANIFEST.json").read_text())
    assert on_disk == manifest and set(manifest["sources"]) == {"emojione", "emojione-monotone", "noto"}
    entry = next(f for f in manifest["files"] if f["path"] == "heldout/emoji/emojione/icons.json")
    assert entry == {"path": "heldout/emoji/emojione/icons.json", "origin": "package/icons.json",
                     "source": "emojione", "package": "@iconify-json/emojione", "version": "1.2.3", "licence": "MIT",
                     "credit": "Some Designer (https://x.org)",
                     "sha256": hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest()}
    assert manifest["sources"]["emojione-monotone"]["pairs_with"] == "emojione"
    assert manifest["sources"]["emojione"]["heldout"] is True and manifest["sources"]["noto"]["heldout"] == []

    # Built again: the raw packages are reused, nothing is fetched, the manifest keeps one entry per file.
    build(out, resolve(["emojione"]), fetch=_fake_fetch(archives, calls), say=lines.append)
    again = json.loads((out / "MANIFEST.json").read_text())
    assert calls == ["emojione", "emojione-monotone", "noto"] and again["files"] == manifest["files"]

    # A set laid out for training by an earlier build moves to heldout/ when it becomes held out, and back.
    build(out, [replace(SOURCES["emojione"], heldout=False)], fetch=_fake_fetch(archives), say=lines.append)
    assert (out / "emoji/emojione/icons.json").exists() and not (held / "emoji/emojione").exists()
    build(out, [SOURCES["emojione"]], fetch=_fake_fetch(archives), say=lines.append)
    assert not (out / "emoji/emojione").exists() and (held / "emoji/emojione/icons.json").exists()

    # The emoji layout is the one render-emoji reads.
    pytest.importorskip("resvg_py")
    from pix2pix_demo.emoji import render_sets

    assert render_sets(held / "emoji", tmp_path / "png", size=32, progress=False) == 3
    assert (tmp_path / "png/emojione__cat.png").exists()


def test_version_mismatch(tmp_path):
    archives = {"streamline-emojis": _npm_tarball(tmp_path, "streamline-emojis", "9.9.9")}
    with pytest.raises(SourceError, match="got version 9.9.9, wanted 1.2.4"):
        build(tmp_path / "d", resolve(["streamline-emojis"]), fetch=_fake_fetch(archives), say=lambda s: None)
    assert not (tmp_path / "d/raw/streamline-emojis").exists()


def _fake_client(tmp_path, monkeypatch, name, script):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text("#!/bin/sh\n" + script)
    (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")  # shadows a real one


def test_real_fetch_with_a_fake_npm(tmp_path, monkeypatch, capsys):
    tgz = _npm_tarball(tmp_path, "streamline-emojis", "1.2.4")
    # `npm pack SPEC --pack-destination DIR`: $4 is DIR
    _fake_client(tmp_path, monkeypatch, "npm", f'[ "$1 $2" = "pack @iconify-json/streamline-emojis@1.2.4" ] '
                                               f'&& cp "{tgz}" "$4"\n')
    assert S.main(_data_args("build", "--out", str(tmp_path / "d"), "--sources", "streamline-emojis")) == 0
    out = capsys.readouterr().out
    assert "streamline-emojis: @iconify-json/streamline-emojis 1.2.4, 2 icons, MIT" in out
    assert "MANIFEST.json: 3 files from 1 source\n" in out


def test_failed_download(tmp_path, monkeypatch, capsys):
    _fake_client(tmp_path, monkeypatch, "npm", 'echo "npm error 404 Not Found - GET https://registry" >&2; exit 1\n')
    assert S.main(_data_args("build", "--out", str(tmp_path / "d"), "--sources", "streamline-emojis")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `npm pack @iconify-json/streamline-emojis@1.2.4") and "npm error 404" in err
    _fake_client(tmp_path, monkeypatch, "apt-get", 'echo "E: Unable to locate package openclipart-png" >&2; exit 100\n')
    assert S.main(_data_args("build", "--out", str(tmp_path / "d"), "--sources", "openclipart-png")) == 2
    assert "Unable to locate package" in capsys.readouterr().err


@pytest.mark.parametrize("name, client", [("streamline-emojis", "npm"), ("openclipart-png", "apt-get")])
def test_missing_client(tmp_path, monkeypatch, capsys, name, client):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing in it
    assert S.main(_data_args("build", "--out", str(tmp_path / "d"), "--sources", name)) == 2
    assert capsys.readouterr().err.startswith(f"error: {client} is not installed: ")


def test_missing_dpkg_deb(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "x.deb").write_bytes(b"")
    with pytest.raises(SourceError, match="dpkg-deb is not installed"):
        packages.unpack(tmp_path / "x.deb", tmp_path / "raw")


# ---------------------------------------------------------------------------------------------- apt sources
def _picture(path, colour, size=(120, 80), mode="RGBA"):
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new(mode, (size[0] * 2, size[1] * 2), (0, 0, 0, 0) if mode == "RGBA" else 0)
    im.paste(Image.new(mode, size, colour), (10, 10))
    im.save(path)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb to build the fixture package")
def test_build_clipart_deb(tmp_path):
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text("Package: clip-fixture\nVersion: 1:0.1-2\nArchitecture: all\n"
                                         "Maintainer: Nobody <nobody@example.org>\nDescription: test pictures\n")
    png = tree / "usr/share/clip/png"
    _picture(png / "animals/birds/robin.png", (200, 40, 30, 255))
    shutil.copy(png / "animals/birds/robin.png", png / "animals/robin_again.png")  # duplicate
    os.symlink("birds/robin.png", png / "animals/robin_link.png")  # link
    _picture(png / "animals/wolf.png", (128, 128, 128, 255))  # grey
    _picture(png / "food/pea.png", (20, 200, 20, 255), size=(10, 10))  # tiny
    _picture(png / "food/pie.png", (230, 180, 60), size=(1500, 500), mode="RGB")  # opaque, made smaller
    _picture(png / "shapes/star.png", (250, 200, 0, 255))  # left-out category
    (png / "food/broken.png").write_bytes(b"not a png")
    (tree / "usr/share/doc/clip-fixture").mkdir(parents=True)
    (tree / "usr/share/doc/clip-fixture/copyright").write_text("Public domain.\n")
    deb = tmp_path / "clip-fixture.deb"
    packages._run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)])

    src = Source("clip-fixture", "apt", "clip-fixture", "1:0.1-2", "clipart", licence="CC0-1.0",
                 credit="Clip artists", root="usr/share/clip/png", exclude=("shapes",), heldout_categories=("food",))
    out, lines = tmp_path / "data", []
    manifest = build(out, [src], fetch=_fake_fetch({"clip-fixture": deb}), say=lines.append)
    kept = sorted(p.relative_to(out / "clipart/clip-fixture").as_posix() for p in (out / "clipart").rglob("*.png"))
    assert kept == ["animals/birds/robin.png"]  # the held-out category is laid out under heldout/ only
    held = sorted(p.relative_to(out).as_posix() for p in (out / "heldout").rglob("*.png"))
    assert held == ["heldout/clipart/clip-fixture/food/pie.png"]
    assert Image.open(out / held[0]).size == (1024, 341)
    assert Image.open(out / "clipart/clip-fixture/animals/birds/robin.png").mode == "RGBA"
    assert manifest["sources"]["clip-fixture"]["skipped"] == {
        "duplicates": 1, "links": 1, "grey": 1, "unreadable": 1, "left-out categories": 1, "tiny": 1}
    assert lines == [lines[0]] and lines[0].startswith(
        "clip-fixture: clip-fixture 1:0.1-2, 2 pictures (1 held out: food) (dropped: ")
    paths = {f["path"]: f for f in manifest["files"]}
    assert set(paths) == {"clipart/clip-fixture/animals/birds/robin.png", "heldout/clipart/clip-fixture/food/pie.png",
                          "licenses/clip-fixture/copyright"}
    assert manifest["sources"]["clip-fixture"]["heldout"] == ["food"]
    robin = paths["clipart/clip-fixture/animals/birds/robin.png"]
    assert (robin["origin"], robin["version"], robin["licence"], robin["credit"]) == (
        "/usr/share/clip/png/animals/birds/robin.png", "1:0.1-2", "CC0-1.0", "Clip artists")
    assert (out / "licenses/clip-fixture/copyright").read_text() == "Public domain.\n"


# ------------------------------------------------------------------------------------------- photo sources
def _image_bytes(size, fmt="JPEG", mode="RGB", alpha=255, seed=0):
    """A small smooth colour picture (``alpha`` < 255: partly transparent) encoded as ``fmt``."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    bands = [(xx * 255 // w + seed) % 256, yy * 255 // h, np.full_like(xx, 120), np.where(xx < w // 2, alpha, 255)]
    im = Image.fromarray(np.stack(bands[:len(mode)], -1).astype(np.uint8), mode)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def _rcc(files: dict[str, bytes], compressed=(), version=3) -> bytes:
    """A compiled Qt resource file (the ``rcc`` binary format) holding ``files`` (path → bytes)."""
    tree: dict = {}
    for path, content in files.items():
        *folders, leaf = path.strip("/").split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = (path, content)
    names, data, nodes = bytearray(), bytearray(), []
    pad = bytes(8 if version > 1 else 0)  # the modification time of versions 2 and 3

    def name_offset(name):
        offset = len(names)
        names.extend(struct.pack(">HI", len(name), 0) + name.encode("utf-16-be"))
        return offset

    order = [("", tree)]  # breadth first: a folder's children are consecutive nodes
    for name, entry in order:
        offset = name_offset(name) if nodes else 0
        if isinstance(entry, dict):
            nodes.append(struct.pack(">IHII", offset, 2, len(entry), len(order)) + pad)
            order.extend(sorted(entry.items()))
        else:
            path, content = entry
            flags = 1 if path in compressed else 0
            payload = struct.pack(">I", len(content)) + zlib.compress(content) if flags else content
            nodes.append(struct.pack(">IHHHI", offset, flags, 0, 0, len(data)) + pad)
            data.extend(struct.pack(">I", len(payload)) + payload)
    head = 24 if version >= 3 else 20
    data_at, names_at = head, head + len(data)
    tree_at = names_at + len(names)
    header = struct.pack(">4sIIII", b"qres", version, tree_at, data_at, names_at) + (bytes(4) if version >= 3 else b"")
    return header + bytes(data) + bytes(names) + b"".join(nodes)


@pytest.mark.parametrize("version", [1, 3])
def test_read_rcc(version):
    files = {"/game/a/icon.png": b"png bytes", "/game/a/res/photo.jpg": b"jpeg bytes" * 50, "/game/Main.qml": b"x"}
    got = dict(read_rcc(_rcc(files, compressed=("/game/a/res/photo.jpg",), version=version)))
    assert got == files
    for damaged in (b"qres", b"PK\x03\x04" + bytes(40), _rcc(files)[:60]):
        with pytest.raises(SourceError, match="Qt resource file"):
            read_rcc(damaged)


def _wheel(folder, name, version, members: dict[str, bytes]):
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for member, content in members.items():
            whl.writestr(member, content)
        whl.writestr(f"{name}-{version}.dist-info/LICENSE", "Do what you like.\n")
    return path


def _tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_build_photos_and_heldout(tmp_path):
    """Photos picked by path from wheels: the largest of several sizes, downscaled to 1280 px, cut-outs and small
    pictures dropped, SOURCES.tsv in the shared data's format; a held-out source only under heldout/photos/."""
    archives = {
        "pix": _wheel(tmp_path, "pix", "1.0", {
            "pix/data/wall/contents/images/800x500.jpg": _image_bytes((80, 50)),
            "pix/data/wall/contents/images/1600x1000.png": _image_bytes((1600, 1000), "PNG"),
            "pix/data/cat.png": _image_bytes((400, 300), "PNG", seed=50),
            "pix/data/cutout.png": _image_bytes((400, 300), "PNG", "RGBA", alpha=0),
            "pix/data/thumb.jpg": _image_bytes((120, 90)),
            "pix/data/README.txt": b"cat.png: by A Cat, CC0\n"}),
        "held": _wheel(tmp_path, "held", "2.0", {f"held/img/{n}.jpg": _image_bytes((300, 400), seed=i * 40)
                                                  for i, n in enumerate(("hill", "lake"))}),
    }
    pix = Source("pix", "pypi", "pix", "1.0", "photos", licence="MIT", credit="Pix people", root="pix/data", picks=(
        Pick("wall/contents/images/*", "pix_wall.jpg"), Pick("cat.png", "pix_cat.jpg", "CC0", "A Cat"),
        Pick("cutout.png", "pix_cutout.jpg"), Pick("thumb.jpg", "pix_thumb.jpg"), Pick("gone.jpg", "pix_gone.jpg")))
    held = Source("held", "pypi", "held", "2.0", "photos", licence="CC-BY-4.0", credit="Hill Walker", root="held/img",
                  picks=(Pick("hill.jpg", "held_hill.jpg"), Pick("lake.jpg", "held_lake.jpg")), heldout=True)
    out, lines = tmp_path / "data", []
    manifest = build(out, [pix, held], fetch=_fake_fetch(archives), say=lines.append)
    assert lines[0].startswith("pix: pix 1.0, 2 photos (dropped: 1 transparent, 1 small, 1 missing), MIT")
    assert lines[1].startswith("held: held 2.0, 2 photos (held out), CC-BY-4.0")
    assert sorted(p.name for p in (out / "photos").iterdir()) == ["SOURCES.tsv", "pix_cat.jpg", "pix_wall.jpg"]
    assert sorted(p.name for p in (out / "heldout/photos").iterdir()) == ["SOURCES.tsv", "held_hill.jpg",
                                                                          "held_lake.jpg"]
    wall = Image.open(out / "photos/pix_wall.jpg")
    assert (wall.format, wall.mode, wall.size) == ("JPEG", "RGB", (1280, 800))  # the 1600x1000 one, downscaled
    rows = _tsv(out / "photos/SOURCES.tsv")
    assert list(rows[0]) == ["file", "source", "license", "credit", "size"]  # ../shared/data/photos/SOURCES.tsv's
    assert rows == [
        {"file": "pix_cat.jpg", "source": "PyPI pix 1.0 (pix/data)", "license": "CC0", "credit": "A Cat",
         "size": "400x300"},
        {"file": "pix_wall.jpg", "source": "PyPI pix 1.0 (pix/data)", "license": "MIT", "credit": "Pix people",
         "size": "1280x800"}]
    assert [r["file"] for r in _tsv(out / "heldout/photos/SOURCES.tsv")] == ["held_hill.jpg", "held_lake.jpg"]
    entry = next(f for f in manifest["files"] if f["path"] == "photos/pix_cat.jpg")
    assert (entry["origin"], entry["licence"], entry["credit"]) == ("/pix/data/cat.png", "CC0", "A Cat")
    assert (out / "licenses/pix/LICENSE").exists() and (out / "licenses/pix/README.txt").exists()
    assert manifest["sources"]["pix"]["skipped"] == {"missing": 1, "transparent": 1, "small": 1}

    # train-all reads DIR/photos as it reads ../shared/data/photos; the held-out photos are not there.
    from pix2pix_demo.data import find_dataset

    training = {os.path.basename(a) for a, _ in find_dataset(out / "photos").items}
    heldout = {os.path.basename(a) for a, _ in find_dataset(out / "heldout/photos").items}
    assert training == {"pix_cat.jpg", "pix_wall.jpg"} and not training & heldout

    # The held-out choice changed: the source's photos move, and both SOURCES.tsv follow.
    build(out, [replace(held, heldout=False)], fetch=_fake_fetch(archives), say=lines.append)
    assert [r["file"] for r in _tsv(out / "photos/SOURCES.tsv")] == ["held_hill.jpg", "held_lake.jpg",
                                                                      "pix_cat.jpg", "pix_wall.jpg"]
    assert _tsv(out / "heldout/photos/SOURCES.tsv") == [] and not list((out / "heldout/photos").glob("*.jpg"))


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb to build the fixture package")
def test_build_photos_from_qt_resources(tmp_path):
    """GCompris-style photos: read out of the activities' Qt resource files (opaque, short side >= 256, name
    fragments left out), written as <prefix><activity>__<name>.jpg."""
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text("Package: game-data\nVersion: 1.0-1\nArchitecture: all\n"
                                         "Maintainer: Nobody <nobody@example.org>\nDescription: game data\n")
    rcc = tree / "usr/share/game/rcc"
    rcc.mkdir(parents=True)
    res = "/game/src/activities/zoo/resource"
    (rcc / "zoo.rcc").write_bytes(_rcc({
        f"{res}/fox.webp": _image_bytes((400, 300), "WEBP"), f"{res}/owl.jpg": _image_bytes((300, 300), seed=9),
        f"{res}/icon.png": _image_bytes((64, 64), "PNG"), f"{res}/sticker.png": _image_bytes((300, 300), "PNG", "RGBA", 0),
        f"{res}/VanGogh_field.jpg": _image_bytes((300, 300)), "/game/src/activities/zoo/Zoo.qml": b"Item {}"},
        compressed=(f"{res}/owl.jpg",)))
    (rcc / "other.rcc").write_bytes(_rcc({"/game/other/photo.jpg": _image_bytes((300, 300))}))  # not asked for
    (tree / "usr/share/doc/game-data").mkdir(parents=True)
    (tree / "usr/share/doc/game-data/copyright").write_text("GPL-3+\n")
    deb = tmp_path / "game-data.deb"
    packages._run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)])

    src = Source("game-data", "apt", "game-data", "1.0-1", "photos", licence="GPL-3+", credit="Game people",
                 root="usr/share/game/rcc", rcc=("zoo", "missing"), exclude=("gogh",), prefix="game_")
    manifest = build(tmp_path / "data", [src], fetch=_fake_fetch({"game-data": deb}), say=lambda s: None)
    rows = _tsv(tmp_path / "data/photos/SOURCES.tsv")
    assert [(r["file"], r["source"], r["size"]) for r in rows] == [
        ("game_zoo__fox.jpg", "Debian package game-data 1.0-1 (Qt resource files)", "400x300"),
        ("game_zoo__owl.jpg", "Debian package game-data 1.0-1 (Qt resource files)", "300x300")]
    assert manifest["sources"]["game-data"]["skipped"] == {"small": 1, "transparent": 1, "left out": 1, "missing": 1}
    fox = next(f for f in manifest["files"] if f["path"] == "photos/game_zoo__fox.jpg")
    assert fox["origin"] == f"/usr/share/game/rcc/zoo.rcc:{res}/fox.webp"
    assert (tmp_path / "data/licenses/game-data/copyright").read_text() == "GPL-3+\n"


def test_pypi_fetch_uses_pip(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, cwd=None, timeout=900):
        calls.append(cmd)
        _wheel(tmp_path / "dl", "matplotlib", "3.11.2", {})
        return ""

    (tmp_path / "dl").mkdir()
    monkeypatch.setattr(packages, "_run", fake_run)
    assert packages.fetch(SOURCES["matplotlib"], tmp_path / "dl").name == "matplotlib-3.11.2-py3-none-any.whl"
    assert calls[0][1:5] == ["-m", "pip", "download", "--no-deps"] and calls[0][-1] == "matplotlib==3.11.2"


# --------------------------------------------------------------------------------- one real download (optional)
@pytest.mark.timeout(60)
def test_real_npm_source(tmp_path):
    """Pack the smallest colour set from the npm registry; skipped when npm or the registry does not answer."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    try:
        manifest = build(tmp_path, resolve(["streamline-emojis"]), fetch=lambda s, d: packages.fetch(s, d, timeout=45),
                         say=lambda s: None)
    except SourceError as err:
        pytest.skip(f"the npm registry did not answer: {err}")
    info = manifest["sources"]["streamline-emojis"]
    assert (info["version"], info["items"], info["licence"]) == ("1.2.4", 787, "CC-BY-4.0")
    assert json.loads((tmp_path / "emoji/streamline-emojis/icons.json").read_text())["prefix"] == "streamline-emojis"
