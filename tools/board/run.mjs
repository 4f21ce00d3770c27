// tools/board/run.mjs: an emulated Raspberry Pi Pico (rp2040js) running a real firmware .uf2
// for the board lane (tools/board/board.py drives it; README.md, docs/BOARDS.md).
//
//   node run.mjs --uf2 FIRMWARE.uf2 [--flash IMG] [--fs IMG]
//                [--fs-offset 0xA0000] [--flash-model rom|PATH.mjs] [--bootsel released|pressed]
//                [--keypad 6,7,8,9:10,11,12,13] [--resend 15] [--de 2|none]
//                [--uart0 tcp://H:P] [--uart1 tcp://H:P]
//                [--high G,G,...]  (inputs idling high: I2C pull-ups, buttons; CircuitPython)
//
// The chip: rp2040js 1.4.1 (npm, pinned in package-lock.json) with our own boot ROM
// (bootrom.mjs: no ROM binary; the firmware .uf2 is the only input).
// What rp2040js lacks and this runner adds:
//  - flash writes: rp2040js drops flash program/erase. The ROM's flash_range_erase /
//    flash_range_program ('RE', 'RP', which MicroPython and CircuitPython call) apply the
//    operation to the flash image (bootrom.mjs, through board.flashErase/flashProgram).
//    ADDING A FLASH MODEL (e.g. a QSPI/SPI-flash model for CircuitPython, which drives the SSI
//    itself for its own commands): write a module exporting `install(board)` and pass
//    `--flash-model ./model.mjs`.
//    `board.mcu` is the RP2040, `board.flash` the persistent image (Uint8Array, = mcu.flash),
//    `board.flashErase(offset, length)` and `board.flashProgram(offset, bytes)` apply
//    operations to the image: call them (not mcu.flash directly) so that armed power cuts
//    can tear the operation in progress. `install` may return an object with `reset()`,
//    called at each power-on.
//    The QSPI SS pad (BOOTSEL button, CircuitPython waits on it at boot) reads high unless
//    `--bootsel pressed`.
//  - UART transmit: rp2040js raises the TX interrupt continually (MicroPython's UART IRQ
//    then never returns). Here each UART has a 32-byte TX FIFO drained at the baud rate
//    (10 bits per byte): FR.TXFF/TXFE/BUSY are real, TXINTR is raised when the FIFO level
//    falls to 16 or to empty. Each byte's shift interval and the RS-485 DE pin level at its
//    start and end are logged (the `de` command); received bytes are fed at the baud rate.
//  - keypad: a 4x4 matrix; when the firmware drives a row low, the columns of pressed keys
//    in that row read low (pull-ups otherwise). A key stays down until the firmware's scans
//    have seen it for its hold time, and up for its gap (scheduleKeys).
//  - I2C0/I2C1 devices: a PCF8574 + HD44780 LCD (0x27) decoded to text, an SSD1306 (0x3C)
//    framebuffer (`display` command; board.py makes the PNG and the text).
//  - power cut: `cut` now, or armed at the N-th flash operation (torn after a fraction of its
//    bytes), or at the next UART byte; the CPU stops, the flash image stays; `boot` powers
//    on again from it.
//  - boot: the ROM's reset vector copies boot2 to SRAM, checks its CRC and enters it, which
//    vectors into the firmware (bootrom.mjs); the ROM's function and data tables (flash,
//    memcpy, bit helpers, soft float) are served in JavaScript.
//  - USB: OUT reads are held until the host sends data (rp2040js answers them at once with
//    zero bytes, and the firmware then never sleeps). When the CPU sleeps with no timer
//    armed, the loop stops and the emulated clock stands still until the host speaks.
//
// Control: one JSON object per line on stdin ({"id":1,"cmd":"..."}); answers ({"re":1,...})
// and events ({"ev":"..."}) one per line on stdout. The USB-CDC REPL is a TCP server on
// 127.0.0.1 (port in the "ready" event); input is paced into the emulated USB FIFO.
// The emulated clock is virtual: every time reported is emulated nanoseconds.

import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { Simulator, USBCDC } from 'rp2040js';
import { installBootrom } from './bootrom.mjs';

const FLASH_SIZE = 2 * 1024 * 1024;
const SECTOR = 4096;

function parseArgs(argv) {
  const a = {
    fsOffset: 0xa0000, flashModel: 'rom', bootsel: 'released', keypad: '6,7,8,9:10,11,12,13',
    keys: '123A456B789C*0#D', de: 2, uart0: null, uart1: null, flash: null, fs: null,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
    a[k] = argv[i + 1];
  }
  a.fsOffset = Number(a.fsOffset);
  a.de = a.de === 'none' ? null : Number(a.de);
  return a;
}

const args = parseArgs(process.argv);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// -- the persistent flash image (survives power cuts) -------------------------------------
const flash = new Uint8Array(FLASH_SIZE).fill(0xff);
if (args.flash) {
  flash.set(readFileSync(args.flash).subarray(0, FLASH_SIZE));
} else {
  loadUF2(readFileSync(args.uf2), flash);
  if (args.fs) flash.set(readFileSync(args.fs), args.fsOffset);
}

function loadUF2(data, dest) {
  for (let off = 0; off + 512 <= data.length; off += 512) {
    const v = new DataView(data.buffer, data.byteOffset + off, 512);
    if (v.getUint32(0, true) !== 0x0a324655 || v.getUint32(4, true) !== 0x9e5d5157) continue;
    const addr = v.getUint32(12, true);
    const size = v.getUint32(16, true);
    if (addr < 0x10000000 || addr + size > 0x10000000 + FLASH_SIZE) continue;
    dest.set(data.subarray(off + 32, off + 32 + size), addr - 0x10000000);
  }
}

// -- state of one power-on -------------------------------------------------------------------
const board = {
  mcu: null, clock: null, flash, running: false, ops: 0, cutArm: null,
  flashErase, flashProgram, model: null,
};
let cdc = null;
let cdcIn = []; // host -> board bytes waiting to be paced into the USB FIFO
let cdcReady = false;
const uarts = [null, null];
const deLog = []; // {t, v}: DE pin changes
let pressed = new Set(); // "r,c"
let keyJobs = new Set(); // key jobs in progress: a power cut ends them (see powerCut)
const i2cDevs = new Map(); // address -> device (kept across power-ons: the LCD's state is lost though)

function flashOp(kind, offset, length, apply) {
  // one flash operation; an armed cut tears it after a fraction and stops the CPU
  board.ops++;
  const arm = board.cutArm;
  if (arm && board.ops >= arm.op) {
    const n = Math.floor(length * arm.frac);
    apply(n);
    mirror(offset, length);
    board.cutArm = null;
    powerCut({ reason: 'flash-op', op: board.ops, kind, offset, length, applied: n });
    return false;
  }
  apply(length);
  mirror(offset, length);
  return true;
}

function mirror(offset, length) {
  // XIP reads come from mcu.flash: keep it equal to the persistent image
  if (board.mcu) board.mcu.flash.set(flash.subarray(offset, offset + length), offset);
}

function flashErase(offset, length) {
  return flashOp('erase', offset, length, (n) => flash.fill(0xff, offset, offset + n));
}

function flashProgram(offset, bytes) {
  return flashOp('program', offset, bytes.length, (n) => {
    for (let i = 0; i < n; i++) flash[offset + i] &= bytes[i]; // NOR: program clears bits
  });
}

const romModel = { install() { return {}; } }; // the ROM's RE/RP do the flash writes

// -- UART with a TX FIFO at the baud rate ----------------------------------------------------
const TXFF = 1 << 5, RXFE = 1 << 4, RXFF = 1 << 6, TXFE = 1 << 7, BUSY = 1 << 3;
const UARTTXINTR = 1 << 5;

function setupUart(mcu, clock, id) {
  const u = mcu.uart[id];
  const st = {
    id, tx: [], shifting: false, log: [], rxlog: [], rxq: [], rxBusy: false, sock: null, baud: 115200,
    target: args['uart' + id], txAlarm: null, rxAlarm: null,
  };
  const prev = uarts[id];
  if (prev) { st.sock = prev.sock; st.log = prev.log; st.rxlog = prev.rxlog; st.target = prev.target; }
  uarts[id] = st;
  const byteNs = () => 1e10 / (st.baud || 9600);
  u.onBaudRateChange = (b) => { st.baud = b; };
  Object.defineProperty(u, 'flags', {
    get() {
      const rx = this.rxFIFO;
      return (rx.full ? RXFF : 0) | (rx.empty ? RXFE : 0) | (st.tx.length >= 32 ? TXFF : 0)
        | (st.tx.length === 0 ? TXFE : 0) | (st.tx.length || st.shifting ? BUSY : 0);
    },
  });
  u.checkInterrupts = function () {
    mcu.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
  };
  const de = () => (args.de == null ? null : (mcu.gpio[args.de].outputValue ? 1 : 0));
  st.txAlarm = clock.createAlarm(() => {
    const e = st.cur;
    e.end = clock.nanos;
    e.deEnd = de();
    st.shifting = false;
    if (st.sock && !st.sock.destroyed) st.sock.write(Buffer.from([e.b]));
    startTx();
  });
  function startTx() {
    if (st.shifting || !st.tx.length) return;
    const before = st.tx.length;
    const b = st.tx.shift();
    st.shifting = true;
    st.cur = { b, start: clock.nanos, deStart: de() };
    st.log.push(st.cur);
    if ((before > 16 && st.tx.length <= 16) || st.tx.length === 0) {
      u.interruptStatus |= UARTTXINTR;
      u.checkInterrupts();
    }
    st.txAlarm.schedule(byteNs());
  }
  u.onByte = (b) => {
    if (board.cutOnTx) {
      board.cutOnTx = false;
      powerCut({ reason: 'uart-tx', uart: id, byte: b });
      return;
    }
    if (st.tx.length < 32) st.tx.push(b);
    startTx();
  };
  st.rxAlarm = clock.createAlarm(() => {
    st.rxBusy = false;
    if (st.rxq.length) {
      st.rxlog.push(clock.nanos);
      u.feedByte(st.rxq.shift());
      feedRx();
    }
  });
  function feedRx() {
    if (st.rxBusy || !st.rxq.length) return;
    st.rxBusy = true;
    st.rxAlarm.schedule(byteNs());
  }
  st.feedRx = feedRx;
  if (st.target && !st.sock) connectUart(st);
  return st;
}

function connectUart(st) {
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(st.target || '');
  if (!m) return;
  const s = net.connect(Number(m[2]), m[1]);
  s.setNoDelay(true);
  st.sock = s;
  s.on('data', (d) => { const cur = uarts[st.id]; cur.rxq.push(...d); cur.feedRx(); wake(); });
  s.on('error', (e) => out({ ev: 'uart-error', id: st.id, error: String(e) }));
  s.on('close', () => { if (uarts[st.id] && uarts[st.id].sock === s) uarts[st.id].sock = null; });
}

// -- keypad matrix ---------------------------------------------------------------------------
function setupKeypad(mcu) {
  const [rowsS, colsS] = args.keypad.split(':');
  const rows = rowsS.split(',').map(Number);
  const cols = colsS.split(',').map(Number);
  const update = () => {
    for (let c = 0; c < cols.length; c++) {
      let low = false;
      for (let r = 0; r < rows.length; r++) {
        const p = mcu.gpio[rows[r]];
        if (pressed.has(r + ',' + c) && p.outputEnable && !p.outputValue) low = true;
      }
      mcu.gpio[cols[c]].setInputValue(!low);
    }
  };
  // a row driven low then released is one scan of it by the firmware (its columns were read
  // in between): key jobs wait on these, see scheduleKeys
  const scanners = new Set();
  rows.forEach((r, i) => {
    const pin = mcu.gpio[r];
    let low = false;
    pin.addListener(() => {
      update();
      const now = pin.outputEnable && !pin.outputValue;
      if (low && !now) for (const f of [...scanners]) f(i, board.clock.nanos);
      low = now;
    });
  });
  board.keypad = { rows, cols, update, scanners };
  update();
}

function keyPos(k) {
  const i = args.keys.indexOf(k);
  const n = board.keypad.cols.length;
  return i < 0 ? null : Math.floor(i / n) + ',' + (i % n);
}

// -- I2C devices -----------------------------------------------------------------------------
class Lcd {
  // PCF8574 (P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7) driving an HD44780 (4-bit)
  constructor(cols = 16, rows = 2) {
    this.cols = cols; this.rows = rows; this.reset();
  }
  reset() {
    this.ddram = new Array(128).fill(32); this.addr = 0; this.four = false; this.half = null;
    this.port = 0; this.frames = []; this.backlight = false; this.on = false;
    this.stable = this.text();
  }
  attach(clock) { this.quiet = clock.createAlarm(() => this.snapshot()); }
  write(v) {
    const falling = (this.port & 4) && !(v & 4);
    this.port = v;
    this.backlight = !!(v & 8);
    if (!falling) return;
    const nib = v >> 4, rs = v & 1;
    if (!this.four) { // 8-bit interface: one transfer is a whole instruction (upper nibble)
      if (nib === 0x2) this.four = true; // function set with DL=0: 4-bit from now on
      return;
    }
    if (this.half === null) { this.half = nib; return; }
    const b = (this.half << 4) | nib;
    this.half = null;
    if (this.quiet) this.quiet.schedule(5e6); // a screen is complete after 5 ms without writes
    if (rs) { this.ddram[this.addr & 127] = b; this.addr = (this.addr + 1) & 127; return; }
    if (b & 0x80) {
      this.addr = b & 0x7f;
    } else if (b === 1) { this.ddram.fill(32); this.addr = 0; }
    else if ((b & 0xfe) === 2) this.addr = 0;
    else if ((b & 0xf8) === 8) this.on = !!(b & 4);
  }
  text() {
    const base = [0x00, 0x40, 0x14, 0x54];
    const lines = [];
    for (let r = 0; r < this.rows; r++) {
      let s = '';
      for (let c = 0; c < this.cols; c++) s += String.fromCharCode(this.ddram[base[r] + c]);
      lines.push(s);
    }
    return lines;
  }
  snapshot() {
    const t = this.text();
    this.stable = t;
    const last = this.frames[this.frames.length - 1];
    if (!last || last.join('\n') !== t.join('\n')) this.frames.push(t);
    if (this.frames.length > 200) this.frames.shift();
  }
}

class Oled {
  // SSD1306 128x64, I2C: control byte 0x00 = commands, 0x40 = data (horizontal addressing)
  constructor() { this.reset(); }
  reset() {
    this.fb = new Uint8Array(1024); this.col = 0; this.page = 0; this.c0 = 0; this.c1 = 127;
    this.p0 = 0; this.p1 = 7; this.mode = null; this.pending = []; this.on = false; this.frames = 0;
  }
  start() { this.mode = null; }
  write(v) {
    if (this.mode === null) { this.mode = v & 0x40 ? 'data' : 'cmd'; return; }
    if (this.mode === 'data') {
      this.fb[this.page * 128 + this.col] = v;
      if (++this.col > this.c1) { this.col = this.c0; if (++this.page > this.p1) this.page = this.p0; }
      return;
    }
    this.pending.push(v);
    const p = this.pending;
    const need = { 0x21: 3, 0x22: 3, 0x20: 2, 0x81: 2, 0x8d: 2, 0xa8: 2, 0xd3: 2, 0xd5: 2, 0xd9: 2, 0xda: 2, 0xdb: 2 }[p[0]] || 1;
    if (p.length < need) return;
    if (p[0] === 0x21) { this.c0 = p[1]; this.c1 = p[2]; this.col = p[1]; this.frames++; }
    else if (p[0] === 0x22) { this.p0 = p[1]; this.p1 = p[2]; this.page = p[1]; }
    else if (p[0] === 0xaf) this.on = true;
    else if (p[0] === 0xae) this.on = false;
    this.pending = [];
  }
}

function setupI2c(mcu) {
  if (!i2cDevs.size) { i2cDevs.set(0x27, new Lcd()); i2cDevs.set(0x3c, new Oled()); }
  for (const d of i2cDevs.values()) { d.reset(); if (d.attach) d.attach(board.clock); }
  for (const bus of mcu.i2c) {
    let dev = null;
    bus.onStart = () => bus.completeStart();
    bus.onConnect = (addr) => {
      dev = i2cDevs.get(addr) || null;
      if (dev && dev.start) dev.start();
      bus.completeConnect(!!dev);
    };
    bus.onWriteByte = (v) => { if (dev) dev.write(v); bus.completeWrite(!!dev); };
    bus.onReadByte = () => bus.completeRead(dev && dev.port != null ? dev.port : 0xff);
    bus.onStop = () => bus.completeStop();
  }
}

const quiet = {
  debug() {}, info() {}, warn() {},
  error(tag, msg) { if (process.env.BOARD_DEBUG) process.stderr.write(tag + ': ' + msg + '\n'); },
};

// -- power ---------------------------------------------------------------------------------------
function powerOn() {
  const sim = new Simulator(); // only for its chip and virtual clock: the loop is ours
  const { clock } = sim;
  const mcu = sim.rp2040;
  mcu.logger = quiet; // stdout carries the protocol
  mcu.flash.set(flash);
  // our ROM (bootrom.mjs): the core starts at its reset vector, which boots from flash
  // the flash model is installed first: when it models the chip, the ROM's flash
  // functions go through it (sector erases and page programs, as the real ROM sends them)
  board.mcu = mcu;
  board.clock = clock;
  const model = args.flashModel === 'rom' ? romModel : board.loadedModel;
  board.model = model.install(board) || {};
  const m = board.model;
  board.rom = installBootrom(mcu, {
    erase: m.erase || ((a, n) => flashErase(a, n)),
    program: m.program || ((a, bytes) => flashProgram(a, bytes)),
    cycles: (n) => clock.tick(n * 8),
    onError: (msg) => { out({ ev: 'error', error: msg }); powerCut({ reason: 'rom', error: msg }); },
    trace: process.env.BOARD_ROM_TRACE
      ? (name, regs) => process.stderr.write(`rom ${name} ${regs.map((v) => v.toString(16))}\n`) : null,
  });
  board.mcu = mcu;
  board.clock = clock;
  board.ops = 0;
  board.cutArm = null;
  board.cutOnTx = false;
  board.slices = 0;
  board.instr = 0;
  board.prof = new Map();
  if (board.model.reset) board.model.reset();
  mcu.qspi[1].setInputValue(args.bootsel !== 'pressed');
  // --high G,G: inputs that idle high (pull-ups the board has: I2C lines, buttons); a
  // `boot` command's "low": [G] holds those low from power-on (a pin held at reset)
  for (const g of String(args.high || '').split(',').filter(Boolean)) mcu.gpio[Number(g)].setInputValue(true);
  for (const g of board.holdLow || []) mcu.gpio[Number(g)].setInputValue(false);
  setupI2c(mcu);
  setupKeypad(mcu);
  // rp2040js inputs read low unless set: the resend button is released (pulled up)
  mcu.gpio[Number(args.resend || 15)].setInputValue(true);
  for (const id of [0, 1]) setupUart(mcu, clock, id);
  if (args.de != null) {
    mcu.gpio[args.de].addListener(() => {
      deLog.push({ t: clock.nanos, v: mcu.gpio[args.de].outputValue ? 1 : 0 });
    });
  }
  cdc = new USBCDC(mcu.usbCtrl);
  cdcReady = false;
  cdc.onDeviceConnected = () => {
    cdcReady = true;
    out({ ev: 'usb', t: clock.nanos });
  };
  cdc.onSerialData = (buf) => { for (const c of clients) c.write(Buffer.from(buf)); };
  // rp2040js answers every OUT read at once, with zero bytes when the host has sent
  // nothing: the firmware re-arms at once and the CPU never sleeps. Hold the read until
  // there is data (as a real host does).
  const read = mcu.usbCtrl.onEndpointRead;
  board.usbRead = read;
  board.usbPending = null;
  mcu.usbCtrl.onEndpointRead = (ep, size) => {
    if (ep === cdc.outEndpoint && cdc.txFIFO.itemCount === 0) {
      board.usbPending = [ep, size];
      return;
    }
    read(ep, size);
  };
  keyJobs = new Set();
  pressed = new Set();
  board.running = true;
  board.idle = false;
  board.stopReason = null;
  setImmediate(loop);
}

function powerCut(info) {
  board.running = false;
  // key jobs waiting for scans would wait forever on a stopped CPU: they end here, keys up
  for (const end of [...keyJobs]) end();
  board.stopReason = info;
  // `flash` already holds every completed (or torn) operation
  out(Object.assign({ ev: 'cut', t: board.clock.nanos }, info));
}

// -- the CPU loop ------------------------------------------------------------------------------
const PROFILE = !!process.env.BOARD_PROFILE;
const DEBUG = !!process.env.BOARD_DEBUG;
const CHUNK_NS = 2e6; // emulated time per slice between host I/O
function loop() {
  if (!board.running) return;
  const { mcu, clock } = board;
  const core = mcu.core;
  // pace host input into the USB FIFO
  if (cdcReady && cdcIn.length && cdc.txFIFO.itemCount < 256) {
    const n = Math.min(cdcIn.length, 256 - cdc.txFIFO.itemCount);
    for (let i = 0; i < n; i++) cdc.sendSerialByte(cdcIn[i]);
    cdcIn = cdcIn.slice(n);
    if (board.usbPending) {
      const [ep, size] = board.usbPending;
      board.usbPending = null;
      board.usbRead(ep, size);
    }
  }
  const end = clock.nanos + CHUNK_NS;
  while (board.running && clock.nanos < end) {
    if (core.waiting) {
      // WFI/WFE with an enabled interrupt already pending does not sleep (ARMv6-M, also
      // with PRIMASK set); rp2040js only wakes the core when an interrupt *becomes*
      // pending. CircuitPython masks interrupts, checks for work, then WFIs: a tick that
      // fell in between left it asleep for good.
      if (core.pendingInterrupts & core.enabledInterrupts) {
        core.waiting = false;
        continue;
      }
      const dt = clock.nanosToNextAlarm;
      if (dt <= 0 && !(cdcReady && cdcIn.length)) {
        // asleep with no timer armed: only the host can wake it. Stop here (the emulated
        // clock stands still) until host input arrives: wake().
        board.idle = true;
        return;
      }
      if (dt <= 0) break;
      clock.tick(Math.min(dt, end - clock.nanos + 1));
      continue;
    }
    clock.tick(core.executeInstruction() * 8);
    board.instr++;
    if (PROFILE && (board.instr & 255) === 0) {
      const k = (core.PC >>> 4).toString(16);
      board.prof.set(k, (board.prof.get(k) || 0) + 1);
    }
  }
  board.slices++;
  if (DEBUG && Date.now() - (board.lastDbg || 0) > 2000) {
    board.lastDbg = Date.now();
    if (PROFILE) {
      const top = [...board.prof.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
      process.stderr.write(JSON.stringify(top) + '\n');
    }
    process.stderr.write(`t=${clock.nanos / 1e6}ms pc=${core.PC.toString(16)} wait=${core.waiting} instr=${board.instr}\n`);
  }
  if (board.running) setImmediate(loop);
}

function wake() {
  if (board.idle && board.running) {
    board.idle = false;
    setImmediate(loop);
  }
}

// -- key jobs in emulated time ------------------------------------------------------------
// A key is held until the firmware has seen it: it goes down, and is released only after a
// scan of its row that came at least hold_ms (emulated) after the first scan that saw it
// down; the next key waits the same way for gap_ms of scans seeing it up. So a debouncing
// scanner (tokenpad: a state must read the same for 30 ms) sees every press and release
// however busy the app loop is when the keys come, and however loaded the host is: nothing
// depends on when the host's command arrived. A firmware that never scans (app not
// running) gets time-only presses after 5 s emulated; the reply then says unscanned.
const UNSCANNED_NS = 5e9;

function scheduleKeys(seq, id) {
  // seq: [[key, hold_ms, gap_ms], ...]; "R" is the resend button (args.resend pin, active low)
  const { clock } = board;
  let i = 0;
  let phase = 'press';
  let first = null; // emulated time of the first whole scan in this phase
  let partial = true; // the scan in progress when the key changed may have read it either way
  let unscanned = 0;
  const alarm = clock.createAlarm(step);
  const fallback = clock.createAlarm(() => { unscanned++; advance(); });
  const scanners = board.keypad.scanners;
  const end = () => {
    // the power went: the rest of the sequence is not typed (the reply says where it stopped)
    keyJobs.delete(end);
    alarm.cancel();
    fallback.cancel();
    scanners.delete(onScan);
    pressed.clear();
    out({ re: id, ok: true, t: clock.nanos, unscanned, cut: true, typed: i });
  };
  keyJobs.add(end);
  function set(k, down) {
    if (k === 'R') {
      board.mcu.gpio[Number(args.resend || 15)].setInputValue(!down);
      return;
    }
    const pos = keyPos(k);
    if (pos == null) return;
    if (down) pressed.add(pos); else pressed.delete(pos);
    board.keypad.update();
  }
  function rowOf(k) {
    const pos = k === 'R' ? null : keyPos(k);
    return pos == null ? null : Number(pos.split(',')[0]);
  }
  function onScan(row, t) {
    const k = seq[i] && seq[i][0];
    if (rowOf(k) !== row) return;
    const ms = phase === 'release' ? seq[i][1] : seq[i][2];
    if (partial) { partial = false; return; }
    if (first === null) first = t;
    else if (t - first >= ms * 1e6) advance();
  }
  function advance() {
    // end the current phase: release the key, or (after its gap) go to the next one
    scanners.delete(onScan);
    fallback.cancel();
    first = null;
    if (phase === 'release') {
      set(seq[i][0], false);
      phase = 'gap';
      wait(seq[i][0], seq[i][2]);
    } else {
      i++;
      phase = 'press';
      step();
    }
  }
  function wait(k, ms) {
    if (rowOf(k) === null) { alarm.schedule(ms * 1e6); return; } // the button: time only
    partial = true;
    scanners.add(onScan);
    fallback.schedule(Math.max(UNSCANNED_NS, ms * 1e6));
  }
  function step() {
    if (phase === 'gap') { advance(); return; } // a button's gap has elapsed
    if (i >= seq.length) {
      keyJobs.delete(end);
      out({ re: id, ok: true, t: clock.nanos, unscanned });
      return;
    }
    if (phase === 'press') {
      const [k, hold] = seq[i];
      set(k, true);
      phase = 'release';
      if (rowOf(k) === null) { phase = 'release'; alarm.schedule(hold * 1e6); return; }
      wait(k, hold);
    } else {
      advance(); // the button's hold has elapsed
    }
  }
  alarm.schedule(1e6);
}

// -- the host side ----------------------------------------------------------------------------
const clients = new Set();
const server = net.createServer((s) => {
  clients.add(s);
  s.on('data', (d) => { cdcIn.push(...d); wake(); });
  s.on('close', () => clients.delete(s));
  s.on('error', () => clients.delete(s));
});

async function main() {
  if (args.flashModel !== 'rom') board.loadedModel = await import(args.flashModel);
  server.listen(0, '127.0.0.1', () => {
    out({ ev: 'ready', cdc: server.address().port });
    powerOn();
  });
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let m;
    try { m = JSON.parse(line); } catch (e) { out({ ev: 'error', error: 'bad json' }); return; }
    try { command(m); } catch (e) { out({ re: m.id, error: String(e.stack || e) }); }
    wake(); // a key job or a pin change may have armed a timer or raised an interrupt
  });
  rl.on('close', () => process.exit(0));
}

function command(m) {
  const reply = (o) => out(Object.assign({ re: m.id }, o));
  const t = board.clock ? board.clock.nanos : 0;
  switch (m.cmd) {
    case 'status':
      return reply({ t, running: board.running, ops: board.ops, usb: cdcReady,
        stop: board.stopReason });
    case 'keys':
      if (!board.running) return reply({ error: 'board is off' });
      return scheduleKeys(m.seq, m.id);
    case 'pin':
      board.mcu.gpio[m.gpio].setInputValue(!!m.value);
      return reply({ t });
    case 'gpio': {
      const p = board.mcu.gpio[m.gpio];
      return reply({ t, out: p.outputEnable, value: p.outputValue ? 1 : 0, input: p.inputValue });
    }
    case 'uart': {
      const st = uarts[m.uart];
      if (st.sock) { st.sock.destroy(); st.sock = null; }
      st.target = m.target || null;
      if (st.target) connectUart(st);
      return reply({ t });
    }
    case 'de': {
      const st = uarts[m.uart || 0];
      const r = { t, bytes: st.log, rx: st.rxlog, changes: deLog.slice() };
      if (m.clear) { st.log = []; st.rxlog = []; deLog.length = 0; }
      return reply(r);
    }
    case 'cut':
      if (m.uart) {
        board.cutOnTx = true;
        return reply({ t, armed: 'uart' });
      }
      if (m.op != null) {
        board.cutArm = { op: board.ops + m.op, frac: m.frac || 0 };
        return reply({ t, armed: board.cutArm });
      }
      if (board.running) powerCut({ reason: 'host' });
      return reply({ t });
    case 'boot':
      if (board.running) powerCut({ reason: 'host' });
      board.holdLow = m.low || [];
      cdcIn = [];
      for (const c of clients) c.destroy();
      powerOn();
      return reply({ t: 0 });
    case 'display': {
      const lcd = i2cDevs.get(0x27), oled = i2cDevs.get(0x3c);
      const r = { t, lcd: lcd.stable, raw: lcd.text(), lcdOn: lcd.on, frames: lcd.frames, backlight: lcd.backlight,
        oled: Buffer.from(oled.fb).toString('hex'), oledOn: oled.on, oledFrames: oled.frames };
      if (m.clear) lcd.frames = [];
      return reply(r);
    }
    case 'save': {
      const off = m.offset || 0;
      writeFileSync(m.path, flash.subarray(off, off + (m.length || FLASH_SIZE - off)));
      return reply({ t });
    }
    case 'quit':
      reply({ t });
      process.exit(0);
      break;
    default:
      return reply({ error: 'unknown command ' + m.cmd });
  }
}

main();
