// tools/board/bootrom_check.mjs: checks of our JavaScript boot ROM (bootrom.mjs) on the
// emulated core, no firmware needed (host_tests/test_bootrom.py runs it). Every call goes the
// way a firmware's does: table pointers read from 0x14/0x16, rom_table_lookup called
// through its pointer at 0x18, the function entered at its address (BKPT stub), the result
// read from r0 (r0:r1) once the core is back at LR. Prints one line per check; exits 1 on any
// failure.

import { Simulator } from 'rp2040js';
import { code, installBootrom } from './bootrom.mjs';

const SRAM = 0x20000000;
const RET = SRAM + 0x100; // where calls return to
let failed = 0;
let passed = 0;
function check(name, got, want) {
  const ok = JSON.stringify(got) === JSON.stringify(want);
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : `: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`}`);
}

function chip(opts = {}) {
  const sim = new Simulator();
  const mcu = sim.rp2040;
  mcu.logger = { debug() {}, info() {}, warn() {}, error() {} };
  const log = [];
  const errors = [];
  installBootrom(mcu, {
    erase: (a, n, bs, cmd) => log.push(['erase', a, n, bs, cmd]),
    program: (a, bytes) => log.push(['program', a, [...bytes]]),
    onError: (m) => errors.push(m),
    ...opts,
  });
  return { mcu, log, errors };
}

function call(mcu, addr, args = []) {
  const core = mcu.core;
  args.forEach((v, i) => { core.registers[i] = v >>> 0; });
  core.LR = RET | 1;
  core.PC = addr & ~1;
  for (let n = 0; n < 4 && core.PC !== RET; n++) core.executeInstruction();
  if (core.PC !== RET) throw new Error(`call to 0x${addr.toString(16)} did not return`);
  return core.registers[0] >>> 0;
}

const lookup = (mcu, table, c) => call(mcu, mcu.readUint16(0x18), [mcu.readUint16(table), c]);
const func = (mcu, s) => lookup(mcu, 0x14, code(s));
const data = (mcu, s) => lookup(mcu, 0x16, code(s));

// -- header, vector, tables ----------------------------------------------------------------
{
  const { mcu } = chip();
  check('magic Mu\\x01 and version 2 (B1)', [0x10, 0x11, 0x12, 0x13].map((a) => mcu.readUint8(a)),
    [0x4d, 0x75, 0x01, 0x02]);
  check('initial SP from the vector', mcu.core.SP >>> 0, 0x20042000);
  check('lookup pointer has the Thumb bit', mcu.readUint16(0x18) & 1, 1);
  const names = ['IF', 'EX', 'RE', 'RP', 'FC', 'CX', 'MS', 'S4', 'MC', 'C4', 'P3', 'R3', 'L3', 'T3'];
  check('every function found, Thumb addresses', names.map((s) => func(mcu, s) & 1),
    names.map(() => 1));
  check('an unknown code gives 0', func(mcu, 'ZZ'), 0);
  check('data: SF and SD tables', [data(mcu, 'SF') > 0, data(mcu, 'SD') > 0], [true, true]);
}

// -- bit helpers ---------------------------------------------------------------------------
{
  const { mcu } = chip();
  const f = (s, v) => call(mcu, func(mcu, s), [v]);
  check('popcount32', [0, 1, 0xffffffff, 0x80000001, 0x0f0f].map((v) => f('P3', v)), [0, 1, 32, 2, 8]);
  check('reverse32', [1, 0x80000000, 0x12345678].map((v) => f('R3', v)), [0x80000000, 1, 0x1e6a2c48]);
  check('clz32', [0, 1, 0x80000000, 0x00010000].map((v) => f('L3', v)), [32, 31, 0, 15]);
  check('ctz32', [0, 1, 0x80000000, 0x00010000].map((v) => f('T3', v)), [32, 0, 31, 16]);
}

// -- memory helpers ------------------------------------------------------------------------
{
  const { mcu } = chip();
  const a = SRAM + 0x1000;
  const b = SRAM + 0x2000;
  for (let i = 0; i < 64; i++) mcu.writeUint8(b + i, i + 1);
  const rd = (p, n) => Array.from({ length: n }, (_, i) => mcu.readUint8(p + i));
  check('memcpy returns dest', call(mcu, func(mcu, 'MC'), [a, b, 10]), a);
  check('memcpy copies', rd(a, 11), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]);
  call(mcu, func(mcu, 'C4'), [a + 16, b, 8]);
  check('memcpy44 copies', rd(a + 16, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
  check('memset returns dest', call(mcu, func(mcu, 'MS'), [a, 0x1a7, 5]), a);
  check('memset fills with the low byte', rd(a, 6), [0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 6]);
  mcu.writeUint8(a + 24, 9); // past the end: untouched
  call(mcu, func(mcu, 'S4'), [a + 16, 0, 8]);
  check('memset4 fills', rd(a + 16, 9), [0, 0, 0, 0, 0, 0, 0, 0, 9]);
  call(mcu, func(mcu, 'MC'), [a, 0x10000000 + 0x100, 4]);
  check('memcpy from flash (XIP)', rd(a, 4), [0xff, 0xff, 0xff, 0xff]);
}

// -- flash ---------------------------------------------------------------------------------
{
  const { mcu, log } = chip();
  const src = SRAM + 0x3000;
  [9, 8, 7].forEach((v, i) => mcu.writeUint8(src + i, v));
  call(mcu, func(mcu, 'RE'), [0x1000, 0x2000, 0x10000, 0xd8]);
  call(mcu, func(mcu, 'RP'), [0x1000, src, 3]);
  for (const s of ['IF', 'EX', 'FC', 'CX']) call(mcu, func(mcu, s), []);
  check('flash_range_erase / flash_range_program reach the flash model', log,
    [['erase', 0x1000, 0x2000, 0x10000, 0xd8], ['program', 0x1000, [9, 8, 7]]]);
  check('exit_xip leaves the SSI in 8-bit standard SPI', (mcu.readUint32(0x18000000) >>> 16) & 0x1f, 7);
}

// -- soft float ----------------------------------------------------------------------------
{
  const { mcu } = chip();
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const bits = (x) => { f32[0] = x; return u32[0]; };
  const val = (u) => { u32[0] = u; return f32[0]; };
  const sf = data(mcu, 'SF');
  const fn = (off) => mcu.readUint32(sf + off);
  check('fadd 1.5 + 2.25', val(call(mcu, fn(0x00), [bits(1.5), bits(2.25)])), 3.75);
  check('fmul rounds to single', val(call(mcu, fn(0x08), [bits(0.1), bits(3)])), Math.fround(Math.fround(0.1) * 3));
  check('fdiv', val(call(mcu, fn(0x0c), [bits(1), bits(4)])), 0.25);
  check('float2int rounds towards -Infinity', [2.5, -2.5, 1e20, -1e20].map((x) => call(mcu, fn(0x1c), [bits(x)]) | 0),
    [2, -3, 0x7fffffff, -0x80000000]);
  check('int2float', val(call(mcu, fn(0x2c), [-7])), -7);
  const sd = data(mcu, 'SD');
  const f64 = new Float64Array(1);
  const w = new Uint32Array(f64.buffer);
  f64[0] = 1.25;
  const [a0, a1] = [w[0], w[1]];
  f64[0] = 2.5;
  const [b0, b1] = [w[0], w[1]];
  call(mcu, mcu.readUint32(sd + 0x08), [a0, a1, b0, b1]);
  w[0] = mcu.core.registers[0]; w[1] = mcu.core.registers[1];
  check('dmul 1.25 * 2.5 (r0:r1, r2:r3)', f64[0], 3.125);
  check('double2float', val(call(mcu, mcu.readUint32(sd + 0x7c), [b0, b1])), 2.5);
}

// -- boot path -----------------------------------------------------------------------------
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
  }
  return c >>> 0;
}
{
  const { mcu, errors } = chip();
  const boot2 = new Uint8Array(256);
  for (let i = 0; i < 252; i++) boot2[i] = (i * 7) & 0xff;
  new DataView(boot2.buffer).setUint32(252, crc32(boot2.subarray(0, 252)), true);
  mcu.flash.set(boot2);
  mcu.core.reset();
  mcu.core.executeInstruction(); // the reset stub
  check('reset enters boot2 copied to 0x20041F00', [mcu.core.PC >>> 0, mcu.core.LR >>> 0,
    mcu.readUint8(0x20041f00 + 9), errors.length], [0x20041f00, 0, (9 * 7) & 0xff, 0]);
}
{
  const { mcu, errors } = chip();
  mcu.flash.fill(0xff, 0, 256);
  mcu.core.reset();
  mcu.core.executeInstruction();
  check('a bad boot2 CRC is reported, not run', [errors.length, /CRC/.test(errors[0] || '')], [1, true]);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
