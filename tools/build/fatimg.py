"""FAT12/FAT16 volume images: the CIRCUITPY drive without a host mount.

CircuitPython keeps its drive in flash as a FAT volume of 512-byte sectors (on the RP2040
from flash offset 0x100000 to the end of the chip: ports/raspberrypi/mpconfigport.h,
CIRCUITPY_CIRCUITPY_DRIVE_START_ADDR = 1020 KiB of firmware + 4 KiB of nvm).
``build`` lays out the same shape CircuitPython's own format makes (one FAT, 512 root
entries, no partition table, label CIRCUITPY) with long file names (VFAT), so the emulated
board (tools/board) boots with our files already on its drive; ``read_tree`` reads a volume
back (to look at boot_out.txt or a file the firmware wrote).

  python -m tools.build.fatimg build DIR IMAGE [--size BYTES]   # DIR's files onto a fresh volume
  python -m tools.build.fatimg ls IMAGE [--offset N]             # list the files
  python -m tools.build.fatimg cat IMAGE PATH [--offset N]       # print one file
"""

import argparse
import os
import struct
import sys

SECTOR = 512
ROOT_ENTRIES = 512
LABEL = "CIRCUITPY"
DATE = ((2026 - 1980) << 9) | (1 << 5) | 1  # fixed timestamps: reproducible images
TIME = 0
FAT12_MAX = 4085


def _geometry(sectors):
    """(sectors per cluster, FAT sectors, FAT bits) like FatFs's f_mkfs for this size."""
    root_secs = ROOT_ENTRIES * 32 // SECTOR
    for spc in (1, 2, 4, 8, 16, 32, 64):
        data = sectors - 1 - root_secs
        # clusters and FAT size depend on each other: iterate to a fixed point
        fat_secs = 1
        for _ in range(8):
            clusters = (data - fat_secs) // spc
            bits = 12 if clusters <= FAT12_MAX else 16
            need = ((clusters + 2) * bits + 7) // 8
            fat_secs = (need + SECTOR - 1) // SECTOR
        clusters = (data - fat_secs) // spc
        if clusters <= 0xFFF5 - 1 and clusters > 0:
            bits = 12 if clusters <= FAT12_MAX else 16
            return spc, fat_secs, bits, clusters
    raise ValueError("volume of %d sectors is too large for FAT16" % sectors)


def _short_name(name, taken):
    """8.3 directory name (11 bytes) and NT case flags, or a ~N alias when LFN is needed."""
    base, dot, ext = name.rpartition(".")
    if not dot:
        base, ext = name, ""
    ok = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-~!#$%&'()@^`{}")
    fits = (0 < len(base) <= 8 and len(ext) <= 3 and name.count(".") <= 1
            and all(c.upper() in ok for c in base + ext))
    if fits:
        flags = 0
        for part, bit in ((base, 0x08), (ext, 0x10)):
            if part.islower():
                flags |= bit
            elif not part.isupper() and any(c.isalpha() for c in part):
                fits = False
    if fits:
        sn = (base.upper().ljust(8) + ext.upper().ljust(3)).encode()
        if sn not in taken:
            return sn, flags, False
    clean = "".join(c for c in base.upper() if c in ok) or "_"
    cext = "".join(c for c in ext.upper() if c in ok)[:3]
    for n in range(1, 1000):
        tail = "~%d" % n
        sn = (clean[:8 - len(tail)] + tail).ljust(8) + cext.ljust(3)
        sn = sn.encode()
        if sn not in taken:
            return sn, 0, True
    raise ValueError("too many similar names: %s" % name)


def _lfn_entries(name, short):
    csum = 0
    for b in short:
        csum = (((csum & 1) << 7) + (csum >> 1) + b) & 0xFF
    units = [ord(c) for c in name]
    if len(units) % 13:  # a terminator, then padding, unless the name fills its entries
        units.append(0)
        units += [0xFFFF] * (-len(units) % 13)
    chunks = [units[i:i + 13] for i in range(0, len(units), 13)]
    out = []
    for seq in range(len(chunks), 0, -1):
        u = chunks[seq - 1]
        order = seq | (0x40 if seq == len(chunks) else 0)
        e = bytearray(32)
        e[0] = order
        e[11] = 0x0F
        e[13] = csum
        struct.pack_into("<5H", e, 1, *u[0:5])
        struct.pack_into("<6H", e, 14, *u[5:11])
        struct.pack_into("<2H", e, 28, *u[11:13])
        out.append(bytes(e))
    return out


def _entry(short, attr, cluster, size, ntflags=0):
    return struct.pack("<11sBBBHHHHHHHI", short, attr, ntflags, 0, TIME, DATE, DATE, 0,
                       TIME, DATE, cluster, size)


class _Volume:
    def __init__(self, sectors):
        self.sectors = sectors
        self.spc, self.fat_secs, self.bits, self.clusters = _geometry(sectors)
        self.csize = self.spc * SECTOR
        self.fat = [0] * (self.clusters + 2)
        self.fat[0] = 0xFF8 if self.bits == 12 else 0xFFF8
        self.fat[1] = 0xFFF if self.bits == 12 else 0xFFFF
        self.next = 2
        self.data = {}  # first cluster -> bytes

    def alloc(self, payload):
        if not payload:
            return 0
        n = (len(payload) + self.csize - 1) // self.csize
        if self.next + n > self.clusters + 2:
            raise ValueError("volume full: %d clusters of %d bytes" % (self.clusters, self.csize))
        first = self.next
        for i in range(n):
            c = first + i
            self.fat[c] = c + 1 if i < n - 1 else (0xFFF if self.bits == 12 else 0xFFFF)
        self.next += n
        self.data[first] = payload
        return first

    def fat_bytes(self):
        if self.bits == 16:
            raw = struct.pack("<%dH" % len(self.fat), *self.fat)
        else:
            raw = bytearray()
            f = self.fat + [0] * (len(self.fat) % 2)
            for i in range(0, len(f), 2):
                a, b = f[i], f[i + 1]
                raw += bytes((a & 0xFF, ((a >> 8) & 0x0F) | ((b & 0x0F) << 4), b >> 4))
        return bytes(raw).ljust(self.fat_secs * SECTOR, b"\0")


def _tree(files):
    root = {}
    for path, payload in files.items():
        parts = [p for p in path.replace("\\", "/").split("/") if p]
        d = root
        for p in parts[:-1]:
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                raise ValueError("%s: a file and a folder share a name" % path)
        d[parts[-1]] = bytes(payload)
    return root


def _dir_entries(vol, node, self_cluster, parent_cluster):
    """Entries of one directory; sub-directories are laid out first (depth first)."""
    out = []
    if self_cluster is not None:
        out.append(_entry(b".          ", 0x10, self_cluster, 0))
        out.append(_entry(b"..         ", 0x10, parent_cluster, 0))
    taken = set()
    for name in sorted(node):
        child = node[name]
        short, flags, lfn = _short_name(name, taken)
        taken.add(short)
        if isinstance(child, dict):
            # reserve the folder's clusters first, then fill them with its entries
            n_entries = 2 + sum(1 + (len(k) + 12) // 13 for k in child)
            size = max(1, (n_entries * 32 + vol.csize - 1) // vol.csize) * vol.csize
            first = vol.alloc(b"\0" * size)
            body = b"".join(_dir_entries(vol, child, first, self_cluster or 0))
            vol.data[first] = body.ljust(size, b"\0")
            attr, cluster, length = 0x10, first, 0
        else:
            attr, cluster, length = 0x20, vol.alloc(child), len(child)
        if lfn:
            out.extend(_lfn_entries(name, short))
        out.append(_entry(short, attr, cluster, length, flags))
    return out


def build(files, size, label=LABEL):
    """A FAT volume of ``size`` bytes holding ``files`` ({"lib/x.py": b"...", ...})."""
    sectors = size // SECTOR
    vol = _Volume(sectors)
    root = [_entry(label.upper().encode().ljust(11)[:11], 0x08, 0, 0)]
    root += _dir_entries(vol, _tree(files), None, 0)
    if len(root) > ROOT_ENTRIES:
        raise ValueError("too many entries in the root folder (%d)" % len(root))
    boot = bytearray(SECTOR)
    boot[0:3] = b"\xEB\xFE\x90"
    boot[3:11] = b"MSDOS5.0"
    struct.pack_into("<HBHBHHBHHHII", boot, 11, SECTOR, vol.spc, 1, 1, ROOT_ENTRIES,
                     sectors if sectors < 0x10000 else 0, 0xF8, vol.fat_secs, 63, 255, 0,
                     sectors if sectors >= 0x10000 else 0)
    struct.pack_into("<BBBI11s8s", boot, 36, 0x80, 0, 0x29, 0x55444C4D,
                     label.upper().encode().ljust(11)[:11],
                     b"FAT12   " if vol.bits == 12 else b"FAT16   ")
    boot[510:512] = b"\x55\xAA"
    img = bytearray(b"\xFF" * 0) + boot + vol.fat_bytes()
    img += b"".join(root).ljust(ROOT_ENTRIES * 32, b"\0")
    data = bytearray(vol.clusters * vol.csize)
    for first, payload in vol.data.items():
        off = (first - 2) * vol.csize
        data[off:off + len(payload)] = payload
    img += data
    return bytes(img.ljust(size, b"\0"))


def from_dir(path):
    files = {}
    for d, _, names in os.walk(path):
        for n in names:
            full = os.path.join(d, n)
            with open(full, "rb") as f:
                files[os.path.relpath(full, path).replace(os.sep, "/")] = f.read()
    return files


# -- reading -----------------------------------------------------------------------------------
def read_tree(image, offset=0):
    """{path: bytes} of every file on the volume at ``offset`` of ``image``."""
    img = memoryview(image)[offset:]
    bps, spc, rsv, nfats, nroot, tot16, _, fatsz = struct.unpack_from("<HBHBHHBH", img, 11)
    if bytes(img[510:512]) != b"\x55\xAA" or bps != SECTOR:
        raise ValueError("no FAT volume at offset 0x%x" % offset)
    tot = tot16 or struct.unpack_from("<I", img, 32)[0]
    fat_off = rsv * bps
    root_off = fat_off + nfats * fatsz * bps
    data_off = root_off + nroot * 32
    clusters = (tot - data_off // bps) // spc
    bits = 12 if clusters <= FAT12_MAX else 16
    csize = spc * bps

    def nxt(c):
        if bits == 16:
            return struct.unpack_from("<H", img, fat_off + 2 * c)[0]
        v = struct.unpack_from("<H", img, fat_off + c * 3 // 2)[0]
        return v >> 4 if c & 1 else v & 0xFFF

    def chain(c, size=None):
        out = bytearray()
        end = 0xFF8 if bits == 12 else 0xFFF8
        seen = 0
        while 2 <= c < end and seen <= clusters:
            o = data_off + (c - 2) * csize
            out += img[o:o + csize]
            c = nxt(c)
            seen += 1
        return bytes(out[:size]) if size is not None else bytes(out)

    files = {}

    def walk(raw, prefix):
        lfn = []
        for i in range(0, len(raw), 32):
            e = raw[i:i + 32]
            if e[0] == 0:
                break
            if e[0] == 0xE5:
                lfn = []
                continue
            if e[11] == 0x0F:
                part = struct.unpack_from("<5H", e, 1) + struct.unpack_from("<6H", e, 14) + \
                    struct.unpack_from("<2H", e, 28)
                lfn.insert(0, "".join(chr(u) for u in part if u not in (0, 0xFFFF)))
                continue
            attr = e[11]
            if attr & 0x08:
                lfn = []
                continue
            if lfn:
                name = "".join(lfn)
            else:
                base = e[0:8].decode("latin-1").rstrip()
                ext = e[8:11].decode("latin-1").rstrip()
                if e[12] & 0x08:
                    base = base.lower()
                if e[12] & 0x10:
                    ext = ext.lower()
                name = base + ("." + ext if ext else "")
            lfn = []
            if name in (".", ".."):
                continue
            first = struct.unpack_from("<H", e, 26)[0]
            size = struct.unpack_from("<I", e, 28)[0]
            if attr & 0x10:
                walk(chain(first), prefix + name + "/")
            else:
                files[prefix + name] = chain(first, size)

    walk(bytes(img[root_off:data_off]), "")
    return files


def main(argv=None):
    p = argparse.ArgumentParser(prog="fatimg", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("dir")
    b.add_argument("image")
    b.add_argument("--size", type=int, default=1024 * 1024)
    for name in ("ls", "cat"):
        s = sub.add_parser(name)
        s.add_argument("image")
        if name == "cat":
            s.add_argument("path")
        s.add_argument("--offset", type=lambda v: int(v, 0), default=0)
    a = p.parse_args(argv)
    if a.cmd == "build":
        img = build(from_dir(a.dir), a.size)
        with open(a.image, "wb") as f:
            f.write(img)
        print("fatimg: %s, %d bytes" % (a.image, len(img)))
        return 0
    with open(a.image, "rb") as f:
        tree = read_tree(f.read(), a.offset)
    if a.cmd == "ls":
        for k in sorted(tree):
            print("%8d  %s" % (len(tree[k]), k))
        return 0
    if a.path not in tree:
        raise SystemExit("fatimg: no %s on the volume" % a.path)
    sys.stdout.buffer.write(tree[a.path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
