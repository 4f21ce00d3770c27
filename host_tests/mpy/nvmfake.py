"""A model of CircuitPython's ``microcontroller.nvm`` on RP2040 for the CPython store tests
(kept out of powercut.py, which the MicroPython lane imports within a 64 KiB heap)."""

from powercut import PowerCut


class FakeNvm:
    """bytearray-like non-volatile memory that behaves as CircuitPython's
    ``microcontroller.nvm`` on RP2040 (measured on CircuitPython 10.2.1 in the emulator,
    tools/board): a slice assignment over bytes that are all 0xFF is programmed page by
    page (one write per 256-byte page); any other is a whole-sector rewrite: one erase,
    then every page of the sector programmed again (one write each). A torn write applies
    half: half the sector erased, or half the page's bytes. ``wipes`` counts cuts that
    fell inside a sector rewrite (``erase_on_cut`` forces every cut to wipe the sector)."""

    PAGE = 256

    def __init__(self, size, budget, erase_on_cut=False):
        self.mem = bytearray(b"\xff" * size)
        self.budget = budget
        self.erase_on_cut = erase_on_cut
        self.wipes = 0
        self.rewrites = 0

    def __len__(self):
        return len(self.mem)

    def __getitem__(self, i):
        return self.mem[i]

    def _program(self, start, data):
        p = start
        while p < start + len(data):
            end = min(start + len(data), (p // self.PAGE + 1) * self.PAGE)
            if self.budget.tick():
                half = (end - p) // 2
                src = data[p - start:p - start + half]
                self.mem[p:p + half] = bytes(a & b for a, b in zip(self.mem[p:p + half], src))
                raise PowerCut()
            self.mem[p:end] = bytes(a & b for a, b in zip(self.mem[p:end],
                                                          data[p - start:end - start]))
            p = end

    def __setitem__(self, i, data):
        if not isinstance(i, slice):
            data = bytes((data,))
            i = slice(i, i + 1)
        start = i.start or 0
        data = bytes(data)
        if self.erase_on_cut and self.budget.cut_at is not None and \
                self.budget.count + 1 >= self.budget.cut_at:
            self.budget.tick()
            self.wipes += 1
            for k in range(len(self.mem)):
                self.mem[k] = 0xFF
            raise PowerCut()
        if all(b == 0xFF for b in self.mem[start:start + len(data)]):
            self._program(start, data)
            return
        self.rewrites += 1
        image = bytearray(self.mem)
        image[start:start + len(data)] = data
        if self.budget.tick():  # the erase
            self.wipes += 1
            for k in range(len(self.mem) // 2):
                self.mem[k] = 0xFF
            raise PowerCut()
        for k in range(len(self.mem)):
            self.mem[k] = 0xFF
        try:
            self._program(0, bytes(image))
        except PowerCut:
            self.wipes += 1
            raise
