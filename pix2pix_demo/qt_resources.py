"""The files of compiled Qt resource files (``.rcc``): GCompris keeps its pictures in them (``data build``'s
``gcompris-qt-data`` source reads its photos out of them with :func:`read_rcc`)."""

from __future__ import annotations

import struct
import zlib

from .packages import SourceError


def read_rcc(blob: bytes) -> list[tuple[str, bytes]]:
    """The files of a compiled Qt resource file (``rcc`` binary format, versions 1–3) as ``(path, content)``.

    Layout: a header (``qres``, version, then the offsets of the tree, the data and the names); the tree is an array
    of nodes (name offset, flags, then a directory's child count and first child, or a file's locale and data
    offset; 14 bytes, 22 from version 2 with the modification time); a name is its length in UTF-16 units, a hash
    and the UTF-16BE text; a file's data is its length and the bytes, zlib-compressed (with a 4-byte length first,
    as ``qCompress`` writes it) when the node's flag 1 is set. Files compressed otherwise (zstd) are left out.
    """
    try:
        magic, version, tree, data, names = struct.unpack_from(">4sIIII", blob)
    except struct.error:
        raise SourceError("not a Qt resource file (too short)") from None
    if magic != b"qres" or version not in (1, 2, 3):
        raise SourceError(f"not a Qt resource file (magic {magic!r}, version {version})")
    node = 14 if version == 1 else 22
    files: list[tuple[str, bytes]] = []

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", blob, names + offset)
        return blob[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise SourceError("Qt resource tree too deep")
        at = tree + index * node
        name_offset, flags = struct.unpack_from(">IH", blob, at)
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & 2:  # a directory
            count, first = struct.unpack_from(">II", blob, at + 6)
            for child in range(first, first + count):
                walk(child, path, depth + 1)
            return
        (offset,) = struct.unpack_from(">I", blob, at + 10)
        (size,) = struct.unpack_from(">I", blob, data + offset)
        content = blob[data + offset + 4:data + offset + 4 + size]
        if flags & 1:
            content = zlib.decompress(content[4:])
        elif flags & ~3:
            return
        files.append((path, content))

    try:
        walk(0, "", 0)
    except (struct.error, zlib.error, UnicodeDecodeError) as err:
        raise SourceError(f"damaged Qt resource file: {err}") from None
    return files
