// tools/board/bootrom.mjs: the RP2040 boot ROM, written in JavaScript for the emulated chip
// (rp2040js), so that the board runner needs only the firmware image (docs/BOARDS.md).
//
// What the firmware sees is a 16 KiB ROM image laid out as RP2040 datasheet §2.8 describes:
//   0x00  initial stack pointer (0x20042000) and reset vector (the boot path below)
//   0x10  magic 'M' 'u' 0x01, ROM version (2 = B1)
//   0x14  u16 pointer to the function table, 0x16 u16 pointer to the data table,
//   0x18  u16 pointer to rom_table_lookup(table, code)
// A table is a list of (u16 code, u16 address) ending with code 0 (function addresses
// with the Thumb bit set); a code is two ASCII characters, the first in the low byte
// ('RE' = 'R' | 'E' << 8).
// Every function is a two-instruction stub, `bkpt #n; bx lr`. rp2040js calls
// mcu.onBreak(n) while executing the BKPT; the handler here does the function's work on the
// registers (AAPCS: arguments r0-r3, result r0) and returns to LR, so the `bx lr` is never
// reached. Soft-float tables ('SF', 'SD') are served the same way when a firmware asks.
//
// Boot path (§2.8.1, flash boot): the reset stub copies the flash's first 256 bytes (boot2)
// to SRAM 0x20041F00 (the top 256 bytes; the stack sits below it), checks their CRC32
// (the last word; polynomial 0x04C11DB7, no reflection, initial value 0xFFFFFFFF), and
// enters it with LR = 0, as the ROM does; boot2 then sets up XIP and jumps through the
// vector table at 0x10000100. A bad CRC means no bootable image: reported through onError
// (a real chip would offer USB boot). The SSI's serial flash probe before it is not
// modelled: XIP reads come from the flash image whatever the SSI holds.
// Written from the datasheet's description; no ROM code is reproduced.

const ROM_WORDS = 4096; // 16 KiB
const STACK_TOP = 0x20042000;
const BOOT2_RAM = 0x20041f00;
const SRAM = 0x20000000;
const FLASH = 0x10000000;
const SSI = 0x18000000;
const IO_QSPI = 0x40018000;

/** 'RE' -> the u16 code the firmware asks for. */
export const code = (s) => s.charCodeAt(0) | (s.charCodeAt(1) << 8);

function crc32(bytes) {
  // CRC-32/MPEG-2 as boot2's checksum uses: MSB first, init 0xFFFFFFFF, no final xor
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
  }
  return c >>> 0;
}

/**
 * Build the ROM and install it in mcu (rp2040js RP2040): mcu.bootrom is filled, mcu.onBreak
 * serves the calls, and the core is reset to the ROM's vector (SP, reset stub).
 *   opts.erase(offset, count, block_size, block_cmd), opts.program(offset, Uint8Array):
 *     the flash operations
 *   opts.onError(message): boot failure or a call the ROM does not serve
 *   opts.trace(name, regs): optional, every call
 *   opts.cycles(n): optional, CPU cycles a memory helper's loop would have taken
 * Returns { calls: Map name -> count, lookups: Map code -> found? }.
 */
export function installBootrom(mcu, opts = {}) {
  const rom = new Uint32Array(ROM_WORDS);
  const view = new DataView(rom.buffer);
  const handlers = [];
  const stats = { calls: new Map(), lookups: new Map() };
  const spend = opts.cycles || (() => {}); // time the real ROM's loop would take
  let next = 0x100; // stubs from here
  const onError = opts.onError || ((m) => { throw new Error(m); });
  const r = mcu.core.registers;

  function stub(name, fn) {
    const n = handlers.length;
    if (n > 255) throw new Error('bootrom: too many stubs');
    const addr = next;
    view.setUint16(addr, 0xbe00 | n, true); // bkpt #n
    view.setUint16(addr + 2, 0x4770, true); // bx lr
    next += 4;
    handlers.push({ name, fn });
    return addr;
  }

  // -- memory access: SRAM directly, everything else through the bus ------------------------
  const sram = mcu.sram;
  const inSram = (a, n) => a >= SRAM && a + n <= SRAM + sram.length;
  const rd8 = (a) => mcu.readUint8(a);
  const wr8 = (a, v) => mcu.writeUint8(a, v);
  function memcpy(d, s, n) {
    if (inSram(d, n) && inSram(s, n)) sram.copyWithin(d - SRAM, s - SRAM, s - SRAM + n);
    else if (inSram(d, n) && s >= FLASH && s + n <= FLASH + mcu.flash.length) {
      sram.set(mcu.flash.subarray(s - FLASH, s - FLASH + n), d - SRAM);
    } else for (let i = 0; i < n; i++) wr8(d + i, rd8(s + i));
  }
  function memset(d, v, n) {
    if (inSram(d, n)) sram.fill(v & 0xff, d - SRAM, d - SRAM + n);
    else for (let i = 0; i < n; i++) wr8(d + i, v);
  }

  // -- functions (datasheet §2.8.3) ----------------------------------------------------------
  const ret = (v) => { r[0] = v >>> 0; };
  const funcs = {
    // bit manipulation (§2.8.3.1.1)
    P3: () => { let v = r[0] >>> 0, c = 0; while (v) { v &= v - 1; c++; } ret(c); },
    R3: () => {
      let v = r[0] >>> 0, o = 0;
      for (let i = 0; i < 32; i++) { o = (o << 1) | (v & 1); v >>>= 1; }
      ret(o);
    },
    L3: () => ret(Math.clz32(r[0])),
    T3: () => { const v = r[0] >>> 0; ret(v ? 31 - Math.clz32(v & -v) : 32); },
    // memory (§2.8.3.1.2): return the destination
    MS: () => { const d = r[0] >>> 0; memset(d, r[1], r[2] >>> 0); spend(r[2] >>> 2); ret(d); },
    S4: () => { const d = r[0] >>> 0; memset(d, r[1], r[2] >>> 0); spend(r[2] >>> 3); ret(d); },
    MC: () => { const d = r[0] >>> 0; memcpy(d, r[1] >>> 0, r[2] >>> 0); spend(r[2] >>> 1); ret(d); },
    C4: () => { const d = r[0] >>> 0; memcpy(d, r[1] >>> 0, r[2] >>> 0); spend(r[2] >>> 2); ret(d); },
    // flash (§2.8.3.1.3): offsets from the start of flash. XIP reads come from the image at
    // all times on the model, so only what a firmware then does on the SSI itself needs
    // setting up: IF gives the QSPI pins back to the SSI (IO_QSPI CTRL funcsel 0, no
    // overrides); EX leaves the SSI in standard SPI, 8-bit frames, transmit and receive,
    // which is what pico-sdk's flash_do_cmd (JEDEC ID, unique ID) then drives.
    IF: () => { for (let pin = 0; pin < 6; pin++) mcu.writeUint32(IO_QSPI + 4 + 8 * pin, 0); },
    EX: () => {
      mcu.writeUint32(SSI + 0x08, 0); // SSIENR off
      mcu.writeUint32(SSI + 0x00, 7 << 16); // CTRLR0: DFS_32 = 8 bits, TMOD 0, FRF standard
      mcu.writeUint32(SSI + 0x10, 1); // SER: the one slave
      mcu.writeUint32(SSI + 0x08, 1); // SSIENR on
    },
    // FC flushes the XIP cache (none on the model) and also releases the forcing of QSPI
    // CSn, so that the SSI drives the chip select again (flash_do_cmd forces it high last)
    FC: () => mcu.writeUint32(IO_QSPI + 0x0c, 0),
    CX: () => {},
    RE: () => {
      // flash_range_erase(addr, count, block_size, block_cmd)
      if (opts.erase) opts.erase(r[0] >>> 0, r[1] >>> 0, r[2] >>> 0, r[3] & 0xff);
    },
    RP: () => {
      // flash_range_program(addr, data, count)
      const [addr, data, count] = [r[0] >>> 0, r[1] >>> 0, r[2] >>> 0];
      const bytes = new Uint8Array(count);
      for (let i = 0; i < count; i++) bytes[i] = rd8(data + i);
      if (opts.program) opts.program(addr, bytes);
    },
    // misc (§2.8.3.1.4)
    UB: () => onError('bootrom: reset_to_usb_boot called (the firmware asked for BOOTSEL mode)'),
    DT: () => onError('bootrom: debug_trampoline is not provided'),
    WV: () => onError('bootrom: wait_for_vector (core 1 start) is not provided'),
  };
  const ftable = [];
  for (const [k, fn] of Object.entries(funcs)) ftable.push([code(k), stub(k, fn) | 1]); // Thumb

  // -- data (§2.8.3.2): copyright string, git revision; soft float tables on demand ---------
  let dataAt = 0x800;
  function putBytes(bytes) {
    const a = dataAt;
    for (let i = 0; i < bytes.length; i++) view.setUint8(a + i, bytes[i]);
    dataAt = (a + bytes.length + 3) & ~3;
    return a;
  }
  const dtable = [
    [code('CR'), putBytes(Buffer.from('(C) udlms tokenpad board runner: JavaScript boot ROM\0'))],
    [code('GR'), putBytes(new Uint8Array(4))],
  ];
  for (const [c, a] of softFloatTables(stub, r, ret)) dtable.push([c, putBytes(a)]);

  function putTable(entries) {
    const a = dataAt;
    const bytes = new Uint8Array(entries.length * 4 + 4);
    const dv = new DataView(bytes.buffer);
    entries.forEach(([c, p], i) => { dv.setUint16(i * 4, c, true); dv.setUint16(i * 4 + 2, p, true); });
    putBytes(bytes);
    return a;
  }
  const funcTable = putTable(ftable);
  const dataTable = putTable(dtable);
  const lookup = stub('rom_table_lookup', () => {
    // rom_table_lookup(u16 *table, u32 code): the entry's address, or 0
    let p = r[0] >>> 0;
    const want = r[1] & 0xffff;
    for (;;) {
      const c = mcu.readUint16(p);
      if (!c) break;
      if (c === want) { stats.lookups.set(want, true); return ret(mcu.readUint16(p + 2)); }
      p += 4;
    }
    stats.lookups.set(want, false);
    if (opts.trace) opts.trace('lookup-miss', [want]);
    ret(0);
  });

  // -- reset: the flash boot path ------------------------------------------------------------
  const reset = stub('reset', () => {
    const boot2 = mcu.flash.subarray(0, 256);
    const want = (boot2[252] | (boot2[253] << 8) | (boot2[254] << 16) | (boot2[255] << 24)) >>> 0;
    if (crc32(boot2.subarray(0, 252)) !== want) {
      onError('bootrom: no bootable image in flash (boot2 CRC mismatch): is the .uf2 an RP2040 firmware?');
      return 'stop';
    }
    memcpy(BOOT2_RAM, FLASH, 256);
    mcu.core.SP = BOOT2_RAM; // boot2's stack grows down from below its own copy
    mcu.core.LR = 0;
    mcu.core.PC = BOOT2_RAM + 0; // boot2 is entered at its start (Thumb)
    return 'jump';
  });

  view.setUint32(0, STACK_TOP, true);
  view.setUint32(4, reset | 1, true);
  view.setUint8(0x10, 0x4d); // 'M'
  view.setUint8(0x11, 0x75); // 'u'
  view.setUint8(0x12, 0x01);
  view.setUint8(0x13, 0x02); // version 2: B1
  view.setUint16(0x14, funcTable, true);
  view.setUint16(0x16, dataTable, true);
  view.setUint16(0x18, lookup | 1, true);
  if (next > 0x800 || dataAt > ROM_WORDS * 4) throw new Error('bootrom: image overflow');

  mcu.onBreak = (n) => {
    const h = handlers[n];
    const core = mcu.core;
    const at = (core.PC - 2) >>> 0;
    if (!h || at >= 0x4000) {
      onError(`bootrom: breakpoint #${n} at 0x${at.toString(16)} (not a ROM function)`);
      core.breakRewind = 0;
      return;
    }
    stats.calls.set(h.name, (stats.calls.get(h.name) || 0) + 1);
    if (opts.trace) opts.trace(h.name, [r[0] >>> 0, r[1] >>> 0, r[2] >>> 0, r[3] >>> 0]);
    const how = h.fn();
    core.breakRewind = 0;
    if (how === 'stop') { core.PC = at; core.waiting = true; return; }
    if (how !== 'jump') core.PC = core.LR & ~1;
  };
  mcu.bootrom.set(rom);
  mcu.core.reset(); // SP and PC from the ROM's vector
  return stats;
}

// -- soft float (§2.8.3.2.1, .2): 'SF' single and 'SD' double function tables ---------------
// Entries are function pointers (u32, Thumb bit set). IEEE operations are done with
// JavaScript doubles, rounded to single precision with Math.fround for 'SF'.
function softFloatTables(stub, r, ret) {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const f64 = new Float64Array(1);
  const u64 = new Uint32Array(f64.buffer);
  const F = (i) => { u32[0] = r[i]; return f32[0]; };
  const D = (i) => { u64[0] = r[i]; u64[1] = r[i + 1]; return f64[0]; };
  const retF = (x) => { f32[0] = x; ret(u32[0]); };
  const retD = (x) => { f64[0] = x; r[0] = u64[0]; r[1] = u64[1]; };
  const ret64 = (x) => {
    // x: BigInt, two's complement in r0 (low), r1 (high)
    const v = BigInt.asUintN(64, x);
    r[0] = Number(v & 0xffffffffn); r[1] = Number(v >> 32n);
  };
  const I64 = (i) => BigInt.asIntN(64, (BigInt(r[i + 1] >>> 0) << 32n) | BigInt(r[i] >>> 0));
  const U64 = (i) => (BigInt(r[i + 1] >>> 0) << 32n) | BigInt(r[i] >>> 0);
  // float -> integer conversions round towards -Infinity and clamp (§2.8.3.2.1)
  const sat = (x, lo, hi) => (Number.isNaN(x) ? 0 : Math.min(hi, Math.max(lo, Math.floor(x))));
  const satBig = (x, lo, hi) => {
    if (Number.isNaN(x)) return 0n;
    if (x <= Number(lo)) return lo;
    if (x >= Number(hi)) return hi;
    return BigInt(Math.floor(x));
  };
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0) >>> 0; // NaN: 0 here, callers check
  const I32 = [-0x80000000, 0x7fffffff];
  const U32 = [0, 0xffffffff];
  const I64R = [-(1n << 63n), (1n << 63n) - 1n];
  const U64R = [0n, (1n << 64n) - 1n];
  // one list per table, in table order (offset = 4 * index); null: a deprecated slot
  // add, sub, mul, div; b is the second argument's first register (r1 single, r2 double)
  const single = (X, b, retX, round) => [
    ['add', () => retX(round(X(0) + X(b)))],
    ['sub', () => retX(round(X(0) - X(b)))],
    ['mul', () => retX(round(X(0) * X(b)))],
    ['div', () => retX(round(X(0) / X(b)))],
  ];
  const sfList = [
    ...single(F, 1, retF, Math.fround),
    null, null,
    ['fsqrt', () => retF(Math.sqrt(F(0)))],
    ['float2int', () => ret(sat(F(0), ...I32))],
    ['float2fix', () => ret(sat(F(0) * 2 ** (r[1] | 0), ...I32))],
    ['float2uint', () => ret(sat(F(0), ...U32))],
    ['float2ufix', () => ret(sat(F(0) * 2 ** (r[1] | 0), ...U32))],
    ['int2float', () => retF(r[0] | 0)],
    ['fix2float', () => retF((r[0] | 0) / 2 ** (r[1] | 0))],
    ['uint2float', () => retF(r[0] >>> 0)],
    ['ufix2float', () => retF((r[0] >>> 0) / 2 ** (r[1] | 0))],
    ['fcos', () => retF(Math.cos(F(0)))],
    ['fsin', () => retF(Math.sin(F(0)))],
    ['ftan', () => retF(Math.tan(F(0)))],
    null,
    ['fexp', () => retF(Math.exp(F(0)))],
    ['fln', () => retF(Math.log(F(0)))],
    ['fcmp', () => ret(cmp(F(0), F(1)))],
    ['fatan2', () => retF(Math.atan2(F(0), F(1)))],
    ['int642float', () => retF(Number(I64(0)))],
    ['fix642float', () => retF(Number(I64(0)) / 2 ** (r[2] | 0))],
    ['uint642float', () => retF(Number(U64(0)))],
    ['ufix642float', () => retF(Number(U64(0)) / 2 ** (r[2] | 0))],
    ['float2int64', () => ret64(satBig(F(0), ...I64R))],
    ['float2fix64', () => ret64(satBig(F(0) * 2 ** (r[1] | 0), ...I64R))],
    ['float2uint64', () => ret64(satBig(F(0), ...U64R))],
    ['float2ufix64', () => ret64(satBig(F(0) * 2 ** (r[1] | 0), ...U64R))],
    ['float2double', () => retD(F(0))],
  ];
  const sdList = [
    ...single(D, 2, retD, (x) => x),
    null, null,
    ['dsqrt', () => retD(Math.sqrt(D(0)))],
    ['double2int', () => ret(sat(D(0), ...I32))],
    ['double2fix', () => ret(sat(D(0) * 2 ** (r[2] | 0), ...I32))],
    ['double2uint', () => ret(sat(D(0), ...U32))],
    ['double2ufix', () => ret(sat(D(0) * 2 ** (r[2] | 0), ...U32))],
    ['int2double', () => retD(r[0] | 0)],
    ['fix2double', () => retD((r[0] | 0) / 2 ** (r[1] | 0))],
    ['uint2double', () => retD(r[0] >>> 0)],
    ['ufix2double', () => retD((r[0] >>> 0) / 2 ** (r[1] | 0))],
    ['dcos', () => retD(Math.cos(D(0)))],
    ['dsin', () => retD(Math.sin(D(0)))],
    ['dtan', () => retD(Math.tan(D(0)))],
    null,
    ['dexp', () => retD(Math.exp(D(0)))],
    ['dln', () => retD(Math.log(D(0)))],
    ['dcmp', () => ret(cmp(D(0), D(2)))],
    ['datan2', () => retD(Math.atan2(D(0), D(2)))],
    ['int642double', () => retD(Number(I64(0)))],
    ['fix642double', () => retD(Number(I64(0)) / 2 ** (r[2] | 0))],
    ['uint642double', () => retD(Number(U64(0)))],
    ['ufix642double', () => retD(Number(U64(0)) / 2 ** (r[2] | 0))],
    ['double2int64', () => ret64(satBig(D(0), ...I64R))],
    ['double2fix64', () => ret64(satBig(D(0) * 2 ** (r[2] | 0), ...I64R))],
    ['double2uint64', () => ret64(satBig(D(0), ...U64R))],
    ['double2ufix64', () => ret64(satBig(D(0) * 2 ** (r[2] | 0), ...U64R))],
    ['double2float', () => retF(D(0))],
  ];
  const deprecated = (name) => () => { throw new Error('bootrom: deprecated soft-float slot ' + name); };
  const table = (prefix, list) => {
    const bytes = new Uint8Array(list.length * 4);
    const dv = new DataView(bytes.buffer);
    list.forEach((e, i) => {
      const [name, fn] = e || [prefix + '_slot' + i, deprecated(prefix + i)];
      dv.setUint32(i * 4, stub(prefix + '.' + name, fn) | 1, true);
    });
    return bytes;
  };
  return [[code('SF'), table('SF', sfList)], [code('SD'), table('SD', sdList)]];
}
