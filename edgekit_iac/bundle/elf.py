"""Read the DT_NEEDED entries of an ELF shared object: which libraries it links against.

The bundler uses this to drop the libraries that auditwheel vendors into
`<package>.libs/` but that no kept extension module needs any more (Pillow's
freetype/harfbuzz/brotli once `_imagingft` is pruned). A ~60-line reader of the
program headers is enough for that and avoids depending on `readelf` (binutils
is not on every machine) or on pyelftools.
"""

from __future__ import annotations

import struct

ELF_MAGIC = b"\x7fELF"
_PT_LOAD = 1
_PT_DYNAMIC = 2
_DT_NULL = 0
_DT_NEEDED = 1
_DT_STRTAB = 5


class ElfFormatError(ValueError):
    """The bytes start like an ELF file but their headers do not hold together."""


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def needed_libraries(data: bytes) -> list[str]:
    """The DT_NEEDED sonames of an ELF file, in link order ([] for a static file).

    Raises ElfFormatError when `data` is not a well-formed ELF file.
    """
    if not is_elf(data) or len(data) < 64:
        raise ElfFormatError("not an ELF file")
    elf_class, byte_order = data[4], data[5]
    if elf_class not in (1, 2) or byte_order not in (1, 2):
        raise ElfFormatError(f"unknown ELF class {elf_class} or byte order {byte_order}")
    is64 = elf_class == 2
    end = "<" if byte_order == 1 else ">"
    try:
        return _read_needed(data, is64, end)
    except (struct.error, IndexError) as error:
        raise ElfFormatError(f"truncated or malformed ELF headers: {error}") from error


def _read_needed(data: bytes, is64: bool, end: str) -> list[str]:
    if is64:
        phoff, phentsize, phnum = (
            struct.unpack_from(end + "Q", data, 0x20)[0],
            *struct.unpack_from(end + "HH", data, 0x36),
        )
        phdr_format, dyn_format = end + "IIQQQQQQ", end + "qQ"
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(end + "I", data, 0x1C)[0],
            *struct.unpack_from(end + "HH", data, 0x2A),
        )
        phdr_format, dyn_format = end + "IIIIIIII", end + "iI"

    loads: list[tuple[int, int, int]] = []  # (vaddr, filesz, offset)
    dynamic: tuple[int, int] | None = None  # (offset, filesz)
    for index in range(phnum):
        fields = struct.unpack_from(phdr_format, data, phoff + index * phentsize)
        if is64:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz = fields[:5]
        if p_type == _PT_LOAD:
            loads.append((p_vaddr, p_filesz, p_offset))
        elif p_type == _PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return []

    needed_offsets: list[int] = []
    strtab_vaddr: int | None = None
    entry_size = struct.calcsize(dyn_format)
    offset, size = dynamic
    for position in range(offset, offset + size, entry_size):
        tag, value = struct.unpack_from(dyn_format, data, position)
        if tag == _DT_NULL:
            break
        if tag == _DT_NEEDED:
            needed_offsets.append(value)
        elif tag == _DT_STRTAB:
            strtab_vaddr = value
    if not needed_offsets:
        return []
    if strtab_vaddr is None:
        raise ElfFormatError("DT_NEEDED entries without a DT_STRTAB")
    strtab = _file_offset(strtab_vaddr, loads)
    return [_c_string(data, strtab + name_offset) for name_offset in needed_offsets]


def _file_offset(vaddr: int, loads: list[tuple[int, int, int]]) -> int:
    # The string table is addressed by virtual address; map it back through the
    # PT_LOAD segment that contains it.
    for seg_vaddr, seg_filesz, seg_offset in loads:
        if seg_vaddr <= vaddr < seg_vaddr + seg_filesz:
            return vaddr - seg_vaddr + seg_offset
    raise ElfFormatError(f"address {vaddr:#x} is in no loaded segment")


def _c_string(data: bytes, start: int) -> str:
    stop = data.index(b"\x00", start)
    return data[start:stop].decode("utf-8", "replace")
