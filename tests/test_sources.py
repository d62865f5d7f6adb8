"""``data build``: the source registry, fetch/unpack/layout on tiny fixture packages, the manifest, clear errors.

No downloads, except ``test_real_npm_source``, which packs one small npm package and skips when npm or the
registry does not answer.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import tarfile

import pytest
from PIL import Image

from pix2pix_demo import sources as S
from pix2pix_demo.sources import SOURCES, Source, SourceError, build, resolve

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
        assert src.client in ("npm", "apt") and src.kind in ("emoji", "lineart", "clipart", "stamps")
        if src.kind == "lineart":
            assert SOURCES[src.pairs_with].kind == "emoji"
        if src.client == "apt":
            assert src.licence and src.credit and src.root
    assert SOURCES["openclipart-png"].spec == "openclipart-png=1:0.18+dfsg-19"
    assert SOURCES["streamline-emojis"].spec == "@iconify-json/streamline-emojis@1.2.4"


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


# ---------------------------------------------------------------------------------------------- npm sources
def test_build_emoji_and_lineart(tmp_path):
    archives = {"emojione": _npm_tarball(tmp_path, "emojione", "1.2.3", ("cat", "dog", "cow")),
                "emojione-monotone": _npm_tarball(tmp_path, "emojione-monotone", "1.2.1", ("cat", "dog", "owl"),
                                                  "#000", aliases={"kitty": {"parent": "cat"}, "o": {"parent": "owl"}})}
    out, lines, calls = tmp_path / "data", [], []
    manifest = build(out, resolve(["emojione-monotone"]), fetch=_fake_fetch(archives, calls), say=lines.append)
    assert calls == ["emojione", "emojione-monotone"] and len(lines) == 2  # one progress line per source
    assert lines[1].startswith("emojione-monotone: @iconify-json/emojione-monotone 1.2.1, 2 icons (dropped: 1 unpaired)")
    colour = json.loads((out / "emoji/emojione/icons.json").read_text())
    assert sorted(colour["icons"]) == ["cat", "cow", "dog"] and (out / "emoji/emojione/info.json").exists()
    lineart = json.loads((out / "lineart/emojione-monotone/icons.json").read_text())
    assert sorted(lineart["icons"]) == ["cat", "dog"] and lineart["aliases"] == {"kitty": {"parent": "cat"}}
    assert (out / "raw/emojione/package/icons.json").exists()
    on_disk = json.loads((out / "MANIFEST.json").read_text())
    assert on_disk == manifest and set(manifest["sources"]) == {"emojione", "emojione-monotone"}
    entry = next(f for f in manifest["files"] if f["path"] == "emoji/emojione/icons.json")
    assert entry == {"path": "emoji/emojione/icons.json", "origin": "package/icons.json", "source": "emojione",
                     "package": "@iconify-json/emojione", "version": "1.2.3", "licence": "MIT",
                     "credit": "Some Designer (https://x.org)",
                     "sha256": hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest()}
    assert manifest["sources"]["emojione-monotone"]["pairs_with"] == "emojione"

    # Built again: the raw packages are reused, nothing is fetched, the manifest keeps one entry per file.
    build(out, resolve(["emojione"]), fetch=_fake_fetch(archives, calls), say=lines.append)
    again = json.loads((out / "MANIFEST.json").read_text())
    assert calls == ["emojione", "emojione-monotone"] and again["files"] == manifest["files"]

    # The emoji layout is the one render-emoji reads.
    pytest.importorskip("resvg_py")
    from pix2pix_demo.emoji import render_sets

    assert render_sets(out / "emoji", tmp_path / "png", size=32, progress=False) == 3
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
        S.unpack(tmp_path / "x.deb", tmp_path / "raw")


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
    S._run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)])

    src = Source("clip-fixture", "apt", "clip-fixture", "1:0.1-2", "clipart", licence="CC0-1.0",
                 credit="Clip artists", root="usr/share/clip/png", exclude=("shapes",))
    out, lines = tmp_path / "data", []
    manifest = build(out, [src], fetch=_fake_fetch({"clip-fixture": deb}), say=lines.append)
    kept = sorted(p.relative_to(out / "clipart/clip-fixture").as_posix() for p in out.rglob("clipart/**/*.png"))
    assert kept == ["animals/birds/robin.png", "food/pie.png"]
    assert Image.open(out / "clipart/clip-fixture/food/pie.png").size == (1024, 341)
    assert Image.open(out / "clipart/clip-fixture/animals/birds/robin.png").mode == "RGBA"
    assert manifest["sources"]["clip-fixture"]["skipped"] == {
        "duplicates": 1, "links": 1, "grey": 1, "unreadable": 1, "left-out categories": 1, "tiny": 1}
    assert lines == [lines[0]] and lines[0].startswith("clip-fixture: clip-fixture 1:0.1-2, 2 pictures (dropped: ")
    paths = {f["path"]: f for f in manifest["files"]}
    assert set(paths) == {"clipart/clip-fixture/animals/birds/robin.png", "clipart/clip-fixture/food/pie.png",
                          "licenses/clip-fixture/copyright"}
    robin = paths["clipart/clip-fixture/animals/birds/robin.png"]
    assert (robin["origin"], robin["version"], robin["licence"], robin["credit"]) == (
        "/usr/share/clip/png/animals/birds/robin.png", "1:0.1-2", "CC0-1.0", "Clip artists")
    assert (out / "licenses/clip-fixture/copyright").read_text() == "Public domain.\n"


# --------------------------------------------------------------------------------- one real download (optional)
@pytest.mark.timeout(60)
def test_real_npm_source(tmp_path):
    """Pack the smallest colour set from the npm registry; skipped when npm or the registry does not answer."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    try:
        manifest = build(tmp_path, resolve(["streamline-emojis"]), fetch=lambda s, d: S.fetch(s, d, timeout=45),
                         say=lambda s: None)
    except SourceError as err:
        pytest.skip(f"the npm registry did not answer: {err}")
    info = manifest["sources"]["streamline-emojis"]
    assert (info["version"], info["items"], info["licence"]) == ("1.2.4", 787, "CC-BY-4.0")
    assert json.loads((tmp_path / "emoji/streamline-emojis/icons.json").read_text())["prefix"] == "streamline-emojis"
