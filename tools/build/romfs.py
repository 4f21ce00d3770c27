"""Build a MicroPython ROMFS image (``vfs.VfsRom``, MicroPython >= 1.25) from a directory.

A board mounts such an image from a flash partition (``mpremote romfs deploy``) and runs
the ``.mpy`` files in it in place: bytecode, strings and qstrs stay in flash and only the
objects made when a module runs take heap. ``tools/bench/main.py`` hands one to the
WebAssembly port the same way (its ``romfs`` option, memory outside the GC heap).

Format (MicroPython ``extmod/vfs_rom.c``): integers are big-endian base-128 with the top
bit set on every byte but the last; a record is kind, payload length, payload; a file
record holds its name and a verbatim-data record, a directory record its name and its
children's records. The image is ``D2 CD 31``, the body length, the body; the length
field is padded (a leading 0x80) so that the image length is even.

Usage: python -m tools.build.romfs SRC_DIR OUT.img
"""

import os
import sys

_HEADER = b"\xd2\xcd\x31"
_VERBATIM = 2
_DIRECTORY = 4
_FILE = 5


def varuint(n):
    """Big-endian base-128, continuation bit on all but the last byte."""
    out = bytearray((n & 0x7F,))
    n >>= 7
    while n:
        out.insert(0, 0x80 | (n & 0x7F))
        n >>= 7
    return bytes(out)


def record(kind, payload):
    return varuint(kind) + varuint(len(payload)) + payload


def _named(name, body):
    raw = name.encode("ascii")
    return varuint(len(raw)) + raw + body


def _tree(path, only=None):
    out = bytearray()
    for name in sorted(os.listdir(path)):
        if only is not None and name not in only:
            continue
        p = os.path.join(path, name)
        if os.path.isdir(p):
            out += record(_DIRECTORY, _named(name, _tree(p)))
        else:
            with open(p, "rb") as f:
                out += record(_FILE, _named(name, record(_VERBATIM, f.read())))
    return bytes(out)


def image(src, only=None):
    """The ROMFS image (bytes) of everything under directory ``src`` (of its entries named
    in ``only``, when given)."""
    body = _tree(src, only)
    size = varuint(len(body))
    if (len(_HEADER) + len(size) + len(body)) % 2:
        size = b"\x80" + size
    return _HEADER + size + body


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    data = image(argv[0])
    with open(argv[1], "wb") as f:
        f.write(data)
    print("%s: %d bytes" % (argv[1], len(data)))


if __name__ == "__main__":
    main()
