// A serial NOR flash on the RP2040's QSPI bus, for firmware that programs its flash itself
// through the SSI (CircuitPython: pico-sdk's flash_range_erase/program and flash_do_cmd
// call the bootrom, which drives SSI DR0 with the chip select forced through IO_QSPI).
// rp2040js 1.4.1 models neither the chip nor IO_QSPI: its SSI only answers "not busy" to
// READ STATUS, so erases and page programs are dropped and the JEDEC ID reads as zero.
//
// attachSpiFlash(mcu) replaces the SSI (0x18000000) and IO_QSPI (0x40018000) of an
// rp2040js RP2040 with the models below, acting on mcu.flash (the XIP view stays
// rp2040js's own, so what is programmed is read back at once), and makes the QSPI
// chip-select pad read high: CircuitPython reads the BOOTSEL button there at boot and waits
// forever while it reads low.
//
// The chip: a GigaDevice GD25Q64C (Feather RP2040), JEDEC ID C8 40 17 (8 MiB), 256-byte
// pages, 4 KiB sectors. Commands: 9F RDID, 4B unique ID, 05/35/15 status 1-3, 06/04 write
// enable/disable, 01/31 write status (ignored), 03 read, 0B fast read, 02 page program,
// 20 sector erase, 52 32 KiB erase, D8 64 KiB erase, 60/C7 chip erase; others (FF, 66, 99,
// AB, EB/BB set-up bytes of the boot stage 2) are accepted and ignored. Program and erase
// take effect when the chip select rises, as on the chip, and only after a write enable.
//
// Power cuts: every program or erase is one "operation" (ops counts them). With
// cutAt = N the N-th operation (0-based) is torn (an erase clears only the first half of
// its range, a page program writes only the first half of its bytes), the flash is frozen
// from then on and onCut() is called so the runner can stop the CPU: what is in mcu.flash
// then is what a board would hold after losing power at that instant.

import { BasePeripheral } from 'rp2040js';

const SECTOR = 4096;
const PAGE = 256;

export class SpiFlash {
  constructor(flash, { jedec = [0xc8, 0x40, 0x17], uid = [0xe4, 0x62, 0x58, 0x38, 0xd3, 0x4a, 0x2b, 0x27],
    erase = null, program = null } = {}) {
    this.flash = flash; // Uint8Array, offset 0 = flash address 0
    // where operations go: the runner's board.flashErase/flashProgram (which tear them at an
    // armed power cut) when given, else this model's own (cutAt/onCut below)
    this.eraseFn = erase;
    this.programFn = program;
    this.jedec = jedec;
    this.uid = uid;
    this.wel = false;
    this.selected = false;
    this.ops = 0; // programs + erases done (the power-cut clock)
    this.log = []; // [kind, address, length] per operation, when logOps is true
    this.logOps = false;
    this.cutAt = -1;
    this.dead = false;
    this.onCut = null;
    this.onOp = null;
    this._reset();
  }

  _reset() {
    this.cmd = -1;
    this.n = 0; // bytes after the command byte
    this.addr = 0;
    this.page = null; // bytes to program: [address, byte] pairs in order
  }

  select() {
    if (!this.selected) {
      this.selected = true;
      this._reset();
    }
  }

  deselect() {
    if (!this.selected) return;
    this.selected = false;
    const { cmd } = this;
    if (cmd === 0x02 && this.page && this.n >= 3) this._program();
    else if (cmd === 0x20 && this.n >= 3) this._erase(this.addr & ~(SECTOR - 1), SECTOR);
    else if (cmd === 0x52 && this.n >= 3) this._erase(this.addr & ~0x7fff, 0x8000);
    else if (cmd === 0xd8 && this.n >= 3) this._erase(this.addr & ~0xffff, 0x10000);
    else if (cmd === 0x60 || cmd === 0xc7) this._erase(0, this.flash.length);
    this._reset();
  }

  /** One byte on the bus: what the host sends in, what the chip answers. */
  transfer(b) {
    if (!this.selected) return 0xff;
    if (this.cmd < 0) {
      this.cmd = b;
      this.n = 0;
      if (b === 0x06) this.wel = true;
      else if (b === 0x04) this.wel = false;
      else if (b === 0x02) this.page = [];
      return 0xff;
    }
    const i = this.n++;
    switch (this.cmd) {
      case 0x9f:
        return i < this.jedec.length ? this.jedec[i] : 0;
      case 0x4b:
        return i >= 4 && i < 12 ? this.uid[i - 4] : 0;
      case 0x05:
        return this.wel ? 0x02 : 0x00; // WIP is never set: operations are instant
      case 0x35:
        return 0x02; // QE set: the boot stage 2 leaves the status registers alone
      case 0x15:
        return 0x00;
      case 0x03:
      case 0x0b: {
        const dummy = this.cmd === 0x0b ? 1 : 0;
        if (i < 3) {
          this.addr = ((this.addr << 8) | b) & 0xffffff;
          return 0xff;
        }
        if (i < 3 + dummy) return 0xff;
        const v = this.flash[this.addr % this.flash.length];
        this.addr = (this.addr + 1) & 0xffffff;
        return v;
      }
      case 0x02:
        if (i < 3) {
          this.addr = ((this.addr << 8) | b) & 0xffffff;
        } else {
          const base = this.addr & ~(PAGE - 1);
          const off = (this.addr + (i - 3)) & (PAGE - 1); // wraps within the page
          this.page.push(base + off, b);
        }
        return 0xff;
      case 0x20:
      case 0x52:
      case 0xd8:
        if (i < 3) this.addr = ((this.addr << 8) | b) & 0xffffff;
        return 0xff;
      default:
        return 0xff;
    }
  }

  _begin(kind, addr, len) {
    // returns the fraction of the operation to apply (1, 0.5 when torn, 0 when dead)
    if (this.dead || !this.wel) return 0;
    this.wel = false;
    const k = this.ops++;
    if (this.logOps) this.log.push([kind, addr, len]);
    if (this.onOp) this.onOp(kind, addr, len, k);
    if (k === this.cutAt) {
      this.dead = true;
      return 0.5;
    }
    return 1;
  }

  _end() {
    if (this.dead && this.onCut) {
      const f = this.onCut;
      this.onCut = null;
      f(this.ops - 1);
    }
  }

  _program() {
    // false when power was cut during it (nothing more is written)
    const p = this.page;
    if (this.programFn) {
      if (!this.wel || !p.length) return true;
      this.wel = false;
      this.ops++;
      // contiguous runs (a page program wraps within its page)
      let j = 0;
      while (j < p.length) {
        let k = j + 2;
        while (k < p.length && p[k] === p[k - 2] + 1) k += 2;
        const bytes = new Uint8Array((k - j) / 2);
        for (let m = 0; m < bytes.length; m++) bytes[m] = p[j + 2 * m + 1];
        if (this.programFn(p[j], bytes) === false) return false;
        j = k;
      }
      return true;
    }
    const part = this._begin('program', p.length ? p[0] : this.addr, p.length / 2);
    if (!part) return !this.dead;
    const n = part === 1 ? p.length : Math.floor(p.length / 4) * 2;
    for (let j = 0; j < n; j += 2) {
      const a = p[j] % this.flash.length;
      this.flash[a] &= p[j + 1]; // NOR: programming only clears bits
    }
    this._end();
    return !this.dead;
  }

  /** The boot ROM's flash_range_erase(addr, count, block_size, block_cmd) (bootrom.mjs), as
   * the ROM sends it: WREN then a block_cmd erase where a whole block fits, else 4 KiB
   * sector erases (RP2040 datasheet §2.8.3.1.3). */
  romErase(addr, count, blockSize = 0, blockCmd = 0) {
    const end = addr + count;
    while (addr < end) {
      this.wel = true;
      if (blockSize > SECTOR && blockCmd === 0xd8 && addr % blockSize === 0
          && end - addr >= blockSize) {
        if (!this._erase(addr, blockSize)) return; // power cut
        addr += blockSize;
      } else {
        if (!this._erase(addr & ~(SECTOR - 1), SECTOR)) return;
        addr = (addr & ~(SECTOR - 1)) + SECTOR;
      }
    }
  }

  /** flash_range_program(addr, data, count): WREN and a page program per 256-byte page. */
  romProgram(addr, bytes) {
    let i = 0;
    while (i < bytes.length) {
      const n = Math.min(bytes.length - i, 256 - ((addr + i) & 255));
      this.wel = true;
      this.page = [];
      for (let k = 0; k < n; k++) this.page.push(addr + i + k, bytes[i + k]);
      const go = this._program();
      this.page = null;
      if (!go) return; // power cut
      i += n;
    }
  }

  _erase(addr, len) {
    // false when power was cut during it
    if (this.eraseFn) {
      if (!this.wel) return true;
      this.wel = false;
      this.ops++;
      return this.eraseFn(addr, Math.min(len, this.flash.length - addr)) !== false;
    }
    const part = this._begin('erase', addr, len);
    if (!part) return !this.dead;
    const end = Math.min(this.flash.length, addr + Math.floor(len * part));
    this.flash.fill(0xff, addr, end);
    this._end();
    return !this.dead;
  }
}

// SSI registers (RP2040 datasheet 4.10.13)
const CTRLR0 = 0x00, CTRLR1 = 0x04, SSIENR = 0x08, SER = 0x10, BAUDR = 0x14;
const TXFLR = 0x20, RXFLR = 0x24, SR = 0x28, IMR = 0x2c, ISR = 0x30, RISR = 0x34;
const DR0 = 0x60, RX_SAMPLE_DLY = 0xf0, SPI_CTRLR0 = 0xf4, TXD_DRIVE_EDGE = 0xf8;
const IDR = 0x58, VERSION = 0x5c;
const RX_FIFO_DEPTH = 16;

/** The SSI with a chip behind it. CS comes from IO_QSPI's SS override when forced (bootrom
 * flash routines); otherwise the SSI itself asserts it for a burst of writes, which ends when
 * the firmware polls SR to wait for the burst to finish (the boot stage 2's pattern). */
export class SpiFlashSSI extends BasePeripheral {
  constructor(rp2040, chip, ioqspi) {
    super(rp2040, 'SSI');
    this.chip = chip;
    this.ioqspi = ioqspi;
    this.regs = new Map();
    this.rx = [];
    this.autoCs = false;
  }

  get ctrlr0() {
    return this.regs.get(CTRLR0) || 0;
  }

  _frameBits() {
    return ((this.ctrlr0 >>> 16) & 0x1f) + 1;
  }

  _tmod() {
    return (this.ctrlr0 >>> 8) & 3; // 0 TX+RX, 1 TX only, 2 RX only, 3 EEPROM read
  }

  _endBurst() {
    if (this.autoCs) {
      this.autoCs = false;
      if (!this.ioqspi.csForced) this.chip.deselect();
    }
  }

  readUint32(offset) {
    switch (offset) {
      case SR:
        this._endBurst();
        return 0x06 | (this.rx.length ? 0x08 : 0) | (this.rx.length >= RX_FIFO_DEPTH ? 0x10 : 0);
      case TXFLR:
        return 0;
      case RXFLR:
        return this.rx.length;
      case DR0:
        return this.rx.length ? this.rx.shift() : 0;
      case IDR:
        return 0x51535049;
      case VERSION:
        return 0x3430312a;
      case ISR:
      case RISR:
        return 0;
      default:
        return this.regs.get(offset) || 0;
    }
  }

  writeUint32(offset, value) {
    if (offset === DR0) {
      this._send(value >>> 0);
      return;
    }
    if (offset === SSIENR && !(value & 1)) {
      this.rx.length = 0; // disabling the SSI clears its FIFOs
      this._endBurst();
    }
    if ([CTRLR0, CTRLR1, SSIENR, SER, BAUDR, IMR, RX_SAMPLE_DLY, SPI_CTRLR0, TXD_DRIVE_EDGE, 0x18, 0x1c, 0x0c, 0x4c, 0x50, 0x54].includes(offset)) {
      this.regs.set(offset, value >>> 0);
    }
  }

  _send(value) {
    const { chip, ioqspi } = this;
    if (!ioqspi.csForced && !ioqspi.csHigh) {
      if (!this.autoCs) {
        this.autoCs = true;
        chip.select();
      }
    }
    const bits = this._frameBits();
    let answer = 0;
    if (bits === 8 && ((this.ctrlr0 >>> 21) & 3) === 0) {
      answer = chip.transfer(value & 0xff); // standard SPI, 8-bit frames
    } else {
      // dual/quad set-up words of the boot stage 2 (EB + address/mode): XIP reads are
      // served by rp2040js from mcu.flash directly, so these only need to be accepted
      for (let k = bits - 8; k >= 0; k -= 8) chip.transfer((value >>> k) & 0xff);
    }
    if (this._tmod() === 0 && this.rx.length < RX_FIFO_DEPTH) this.rx.push(answer);
  }
}

/** IO_QSPI: the six QSPI pins' STATUS/CTRL registers. Only SS matters: OUTOVER 2 forces the
 * chip select low (selected), 3 high. */
export class IOQSPI extends BasePeripheral {
  constructor(rp2040, chip) {
    super(rp2040, 'IO_QSPI');
    this.chip = chip;
    this.ctrl = new Uint32Array(6);
    this.ssi = null;
  }

  get csOver() {
    return (this.ctrl[1] >>> 8) & 3;
  }

  get csForced() {
    return this.csOver === 2;
  }

  get csHigh() {
    return this.csOver === 3;
  }

  readUint32(offset) {
    const pin = offset >>> 3;
    if (pin < 6) {
      if (offset & 4) return this.ctrl[pin];
      // STATUS: report the SS pad as high when it is not driven low (BOOTSEL released)
      return pin === 1 && this.csOver !== 2 ? 1 << 17 | 1 << 19 : 0;
    }
    return 0;
  }

  writeUint32(offset, value) {
    const pin = offset >>> 3;
    if (pin >= 6 || !(offset & 4)) return;
    const before = this.csOver;
    this.ctrl[pin] = value >>> 0;
    if (pin !== 1 || this.csOver === before) return;
    if (this.csOver === 2) {
      if (this.ssi) this.ssi.autoCs = false;
      this.chip.deselect(); // a fresh transaction starts on a falling edge
      this.chip.select();
    } else {
      this.chip.deselect();
    }
  }
}

/** Puts the chip on an rp2040js RP2040's QSPI bus; returns the SpiFlash (ops, cutAt, ...). */
export function attachSpiFlash(mcu, options = {}) {
  const chip = new SpiFlash(mcu.flash, options);
  const io = new IOQSPI(mcu, chip);
  const ssi = new SpiFlashSSI(mcu, chip, io);
  io.ssi = ssi;
  mcu.peripherals[0x18000] = ssi;
  mcu.peripherals[0x40018] = io;
  releaseBootsel(mcu);
  return chip;
}

/** The tools/board/run.mjs flash model (``--flash-model spiflash.mjs``): the chip's size is
 * the runner's flash image (2 MiB: JEDEC C8 40 15, so CircuitPython's CIRCUITPY drive is the
 * 1 MiB from 0x100000), and its programs and erases go through board.flashProgram /
 * board.flashErase, so the runner's armed power cuts tear them. */
export function install(board) {
  const size = board.flash.length;
  const chip = attachSpiFlash(board.mcu, {
    jedec: [0xc8, 0x40, Math.round(Math.log2(size))],
    erase: (a, n) => board.flashErase(a, n),
    program: (a, bytes) => board.flashProgram(a, bytes),
  });
  chip.flash = board.flash;
  return { chip, erase: (a, n, bs, cmd) => chip.romErase(a, n, bs, cmd),
    program: (a, bytes) => chip.romProgram(a, bytes) };
}

/** BOOTSEL not pressed: the QSPI SS pad reads high when the firmware stops driving it. */
export function releaseBootsel(mcu) {
  // rp2040js resets every pad to 0x36 (input disabled); the RP2040's QSPI_SS pad resets
  // to 0x5a (input enabled, pull-up), which is what makes the released button read high
  mcu.qspi[1].padValue = 0x5a;
  mcu.qspi[1].setInputValue(true);
}
