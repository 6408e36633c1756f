"""Hypothesis strategies that mutate real image files the way broken files in the wild look.

Byte-level mutations (truncate, flip bits, overwrite with boundary values, delete, insert,
splice another seed's bytes or header) find the easy crashes; structure-aware ones reach
the code behind the checksums and length fields: they edit inside one JPEG segment, PNG
chunk, RIFF (WebP) chunk or ISO-BMFF (AVIF) box, preferring the metadata ones (EXIF, ICC,
XMP, text), insert crafted EXIF/ICC/XMP blocks built from other seeds' bytes (a TIFF file
is an EXIF block), make a header claim another size (up to and past the pixel limit), and
can recompute PNG CRCs so Pillow reads past its checksum test.

The walkers below only locate regions for mutation; nothing in the resizer parses images
by hand.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

SEEDS_DIR = Path(__file__).resolve().parent / "seeds"
SEED_SUFFIXES = (".jpg", ".mpo", ".png", ".webp", ".gif", ".tiff", ".avif")


def load_seeds() -> dict[str, bytes]:
    seeds = {
        path.name: path.read_bytes()
        for path in sorted(SEEDS_DIR.iterdir())
        if path.suffix in SEED_SUFFIXES
    }
    kinds = {name.rsplit(".", 1)[1] for name in seeds}
    missing = {"jpg", "mpo", "png", "webp", "gif", "tiff"} - kinds
    assert not missing, f"fuzz seeds missing for {missing} in {SEEDS_DIR}"
    return seeds


SEEDS = load_seeds()

# Metadata blocks: JPEG APPn markers, PNG and RIFF chunk types, ISO-BMFF boxes.
_METADATA = {
    "APP1", "APP2", "APP13", "APP14", "COM",
    "iCCP", "eXIf", "iTXt", "tEXt", "zTXt",
    "EXIF", "ICCP", "XMP ", "VP8X",
    "meta", "iprp", "iinf", "iloc",
}  # fmt: skip

# Sizes a mutated header may claim: empty, tiny, around the fuzz's pixel limit (2000x2000
# is 4 MP), and far over it.
CLAIMED_SIDES = (0, 1, 2, 1999, 2000, 2001, 4000, 16383, 65535)
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF, 0x8000, 0xFFFFFFFF, 0x7FFFFFFF)

XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_PREFIX = b"ICC_PROFILE\x00\x01\x01"


@dataclass(frozen=True)
class Region:
    start: int  # first byte of the block (its header)
    body: int  # first byte of its payload
    end: int  # one past its last byte
    name: str


def regions(data: bytes) -> list[Region]:
    """The container's blocks, when `data` still looks like a container we know."""
    if data.startswith(b"\xff\xd8"):
        return _jpeg_segments(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_chunks(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _riff_chunks(data)
    if data[4:8] == b"ftyp":
        return _bmff_boxes(data)
    return []


def _jpeg_segments(data: bytes) -> list[Region]:
    found, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            found.append(Region(at, at + 2, len(data), "SOS"))
            break
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        name = f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else f"M{marker:02X}"
        name = "COM" if marker == 0xFE else name
        found.append(Region(at, at + 4, min(at + 2 + length, len(data)), name))
        at += 2 + length
    return found


def _png_chunks(data: bytes) -> list[Region]:
    found, at = [], 8
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        name = data[at + 4 : at + 8].decode("latin-1")
        end = min(at + 12 + length, len(data))
        found.append(Region(at, at + 8, end, name))
        at = end
    return found


def _riff_chunks(data: bytes) -> list[Region]:
    found, at = [], 12
    while at + 8 <= len(data):
        (size,) = struct.unpack("<I", data[at + 4 : at + 8])
        name = data[at : at + 4].decode("latin-1")
        end = min(at + 8 + size + (size & 1), len(data))
        found.append(Region(at, at + 8, end, name))
        at = end
    return found


def _bmff_boxes(data: bytes) -> list[Region]:
    found, at = [], 0
    while at + 8 <= len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        if size < 8:
            break
        name = data[at + 4 : at + 8].decode("latin-1")
        end = min(at + size, len(data))
        found.append(Region(at, at + 8, end, name))
        at = end
    return found


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute each PNG chunk's CRC, so a mutated chunk is read instead of refused."""
    out, at = bytearray(data), 8
    while at + 12 <= len(out):
        (length,) = struct.unpack(">I", out[at : at + 4])
        end = at + 12 + length
        if end > len(out):
            break
        out[end - 4 : end] = struct.pack(">I", zlib.crc32(out[at + 4 : end - 4]) & 0xFFFFFFFF)
        at = end
    return bytes(out)


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    payload = payload[:65533]
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


# ---------------------------------------------------------------- strategies


@st.composite
def _position(draw, data: bytes) -> int:
    return draw(st.integers(0, max(0, len(data) - 1)))


@st.composite
def _byte_mutation(draw, data: bytes) -> bytes:
    """One generic edit anywhere in the file."""
    if not data:
        return draw(st.binary(max_size=64))
    op = draw(st.sampled_from(["truncate", "flip", "boundary", "delete", "insert", "splice"]))
    at = draw(_position(data))
    if op == "truncate":
        return data[:at]
    if op == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            out[draw(_position(data))] ^= 1 << draw(st.integers(0, 7))
        return bytes(out)
    if op == "boundary":
        value = draw(st.sampled_from(INTERESTING))
        width = draw(st.sampled_from([1, 2, 4]))
        order = draw(st.sampled_from([">", "<"]))
        packed = struct.pack(order + {1: "B", 2: "H", 4: "I"}[width], value & (256**width - 1))
        return data[:at] + packed + data[at + width :]
    if op == "delete":
        return data[:at] + data[at + draw(st.integers(1, 256)) :]
    if op == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    donor = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    start = draw(st.integers(0, len(donor) - 1))
    piece = donor[start : start + draw(st.integers(1, 512))]
    if draw(st.booleans()):  # another format's header on this file's body
        return donor[: draw(st.integers(4, 64))] + data[at:]
    return data[:at] + piece + data[at + draw(st.integers(0, len(piece))) :]


@st.composite
def _region_mutation(draw, data: bytes) -> bytes:
    """An edit inside one container block, preferring metadata blocks."""
    found = regions(data)
    if not found:
        return draw(_byte_mutation(data))
    metadata = [r for r in found if r.name in _METADATA]
    region = draw(st.sampled_from(metadata if metadata and draw(st.booleans()) else found))
    body = data[region.body : region.end]
    op = draw(st.sampled_from(["cut-body", "length", "edit-body", "replace-body", "drop", "dup"]))
    if op == "cut-body":  # declared length kept, payload shortened: a truncated block
        return data[: region.body] + body[: draw(st.integers(0, len(body)))] + data[region.end :]
    if op == "length":  # declared length no longer matches the payload
        header_at = region.start + (2 if data.startswith(b"\xff\xd8") else 0)
        if data[4:8] == b"WEBP" or data[8:12] == b"WEBP":
            header_at = region.start + 4
        value = draw(st.sampled_from(INTERESTING + (len(body) + 1, max(0, len(body) - 1))))
        width = 2 if data.startswith(b"\xff\xd8") else 4
        order = "<" if data[8:12] == b"WEBP" else ">"
        packed = struct.pack(order + ("H" if width == 2 else "I"), value & (256**width - 1))
        return data[:header_at] + packed + data[header_at + width :]
    if op == "edit-body":
        edited = draw(_byte_mutation(body)) if body else body
        return data[: region.body] + edited + data[region.end :]
    if op == "replace-body":  # e.g. a TIFF file or random bytes where EXIF was
        donor = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
        new = draw(st.one_of(st.binary(max_size=256), st.just(donor[: len(body) or 64])))
        return data[: region.body] + new + data[region.end :]
    if op == "drop":
        return data[: region.start] + data[region.end :]
    return data[: region.end] + data[region.start : region.end] + data[region.end :]


def _size_fields(data: bytes) -> list[tuple[int, str]]:
    """(offset, struct format) of the width and height fields a header declares."""
    if data.startswith(b"\xff\xd8"):
        for segment in _jpeg_segments(data):
            if segment.name in ("MC0", "MC1", "MC2") and segment.end - segment.body >= 5:
                return [(segment.body + 1, ">H"), (segment.body + 3, ">H")]
        return []
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return [(16, ">I"), (20, ">I")]
    if data.startswith(b"GIF") and len(data) >= 10:
        return [(6, "<H"), (8, "<H")]
    for chunk in regions(data) if data[8:12] == b"WEBP" else []:
        if chunk.name == "VP8X" and chunk.end - chunk.body >= 10:  # 24-bit sides minus one
            return [(chunk.body + 4, "<3"), (chunk.body + 7, "<3")]
        if chunk.name == "VP8 " and chunk.end - chunk.body >= 10:  # 14-bit sides
            return [(chunk.body + 6, "<H"), (chunk.body + 8, "<H")]
    return []


@st.composite
def _claimed_size(draw, data: bytes) -> bytes:
    """The header claims another width or height (the pixels stay what they were)."""
    fields = _size_fields(data)
    if not fields:
        return draw(_byte_mutation(data))
    out = bytearray(data)
    for at, form in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=2, unique=True)):
        side = draw(st.sampled_from(CLAIMED_SIDES))
        if form == "<3":
            out[at : at + 3] = max(0, side - 1).to_bytes(3, "little")
        else:
            limit = 256 ** struct.calcsize(form) - 1
            out[at : at + struct.calcsize(form)] = struct.pack(form, min(side, limit))
    return fix_png_crcs(bytes(out)) if data.startswith(b"\x89PNG") else bytes(out)


@st.composite
def _tiff_like(draw) -> bytes:
    """An EXIF/TIFF body: the TIFF seed, the head of a real EXIF block, or random bytes."""
    tiff = SEEDS.get("photo.tiff", b"II*\x00\x08\x00\x00\x00")
    header = draw(st.sampled_from([b"II*\x00", b"MM\x00*", b"II+\x00", b"XX*\x00"]))
    return draw(
        st.one_of(
            st.just(tiff[: draw(st.integers(0, len(tiff)))]),
            st.binary(max_size=128).map(lambda tail: header + tail),
        )
    )


@st.composite
def _inserted_metadata(draw, data: bytes) -> bytes:
    """Add a crafted EXIF, ICC or XMP block, as an editor or a broken camera would."""
    orientation = draw(st.sampled_from([b"6", b"9", b"0", b"x", b"99999999999"]))
    xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="' + orientation + b'"/></x:xmpmeta>'
    icc = ICC_PREFIX + draw(st.binary(max_size=200))
    if data.startswith(b"\xff\xd8"):
        block = draw(
            st.sampled_from(
                [
                    jpeg_segment(0xE1, b"Exif\x00\x00" + draw(_tiff_like())),
                    jpeg_segment(0xE1, XMP_PREFIX + xmp),
                    jpeg_segment(0xE2, icc),
                    jpeg_segment(0xE2, b"MPF\x00" + draw(_tiff_like())),
                ]
            )
        )
        at = draw(st.sampled_from([2] + [r.start for r in _jpeg_segments(data)]))
        return data[:at] + block + data[at:]
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        block = draw(
            st.sampled_from(
                [
                    png_chunk(b"eXIf", draw(_tiff_like())),
                    png_chunk(b"iCCP", b"p\x00\x00" + zlib.compress(icc)),
                    png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp),
                ]
            )
        )
        return data[:33] + block + data[33:]  # right after IHDR
    return draw(_byte_mutation(data))


@st.composite
def mutated_image(draw) -> tuple[str, bytes]:
    """(seed name and what was done, mutated bytes): one to four mutations of one seed."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["bytes", "region", "region", "metadata", "size"]))
        steps.append(kind)
        mutate = {
            "bytes": _byte_mutation,
            "region": _region_mutation,
            "metadata": _inserted_metadata,
            "size": _claimed_size,
        }[kind]
        data = draw(mutate(data))
    if data.startswith(b"\x89PNG") and draw(st.booleans()):
        data = fix_png_crcs(data)
        steps.append("crc")
    return f"{name} [{' '.join(steps)}]", data
