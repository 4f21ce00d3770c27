// Standalone check that CircuitPython boots to its REPL on rp2040js with the SPI-flash
// model (spiflash.mjs) and our boot ROM (bootrom.mjs): .uf2 (+ an optional CIRCUITPY image at 0x100000), USB CDC,
// prints what the REPL says, types the given lines, exits 0 when the REPL prompt came back.
//
//   node tools/board/cp_boot_check.mjs FIRMWARE.uf2 [--fs IMAGE] [--flash-out F]
//        [--line 'print(1)'] ... [--timeout SECONDS]
//
// The board lane uses the shared runner (run.mjs); this file only proves the flash model.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Simulator, USBCDC } from 'rp2040js';
import { installBootrom } from './bootrom.mjs';
import { attachSpiFlash } from './spiflash.mjs';

const args = process.argv.slice(2);
const opt = { lines: [], timeout: 120 };
const pos = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--fs') opt.fs = args[++i];
  else if (a === '--flash-out') opt.flashOut = args[++i];
  else if (a === '--line') opt.lines.push(args[++i]);
  else if (a === '--timeout') opt.timeout = Number(args[++i]);
  else if (a === '--flash-mb') opt.flashMb = Number(args[++i]);
  else pos.push(a);
}
const [uf2Path] = pos;
if (!uf2Path) {
  console.error('usage: cp_boot_check.mjs FIRMWARE.uf2 [--fs IMAGE] [--line L]...');
  process.exit(2);
}
if (!existsSync(uf2Path)) {
  console.error(`cp_boot_check: ${uf2Path}: no such file`);
  process.exit(2);
}

export function loadUF2(flash, data) {
  for (let off = 0; off + 512 <= data.length; off += 512) {
    const v = new DataView(data.buffer, data.byteOffset + off, 512);
    if (v.getUint32(0, true) !== 0x0a324655 || v.getUint32(4, true) !== 0x9e5d5157) continue;
    const addr = v.getUint32(12, true) - 0x10000000;
    const size = v.getUint32(16, true);
    flash.set(data.subarray(off + 32, off + 32 + size), addr);
  }
}

const sim = new Simulator();
const mcu = sim.rp2040;
mcu.logger = { debug() {}, info() {}, warn() {}, error() {} };
loadUF2(mcu.flash, readFileSync(uf2Path));
if (opt.fs) mcu.flash.set(readFileSync(opt.fs), 0x100000);
const chip = attachSpiFlash(mcu, { jedec: [0xc8, 0x40, Math.log2((opt.flashMb || 8) << 20)] });
// our boot ROM (bootrom.mjs): its reset vector boots from flash; its RE/RP go to the chip
installBootrom(mcu, {
  // BOARD_ROM_TRACE=1: every ROM call on stderr
  trace: process.env.BOARD_ROM_TRACE
    ? (n, r) => console.error('rom', n, r.map((v) => v.toString(16)).join(',')) : null,
  erase: (a, n, bs, cmd) => chip.romErase(a, n, bs, cmd),
  program: (a, bytes) => chip.romProgram(a, bytes),
  onError: (m) => { console.error(m); process.exit(1); },
});
// (installBootrom replaces the Simulator's onBreak, which would stop the loop)
chip.logOps = true;

const cdc = new USBCDC(mcu.usbCtrl);
let out = '';
let queue = [];
cdc.onDeviceConnected = () => {
  queue.push(...Buffer.from('\r\n'));
};
cdc.onSerialData = (buf) => {
  const s = Buffer.from(buf).toString('latin1');
  out += s;
  process.stdout.write(s);
};
const pump = setInterval(() => {
  // paced input: a few bytes per tick so the emulated FIFO never overflows
  for (let k = 0; k < 8 && queue.length; k++) cdc.sendSerialByte(queue.shift());
}, 5);

const started = Date.now();
sim.execute();
let stage = 0;
const poll = setInterval(() => {
  if (stage === 0 && out.includes('>>> ')) {
    stage = 1;
    for (const l of opt.lines) queue.push(...Buffer.from(l + '\r\n'));
  }
  const prompts = out.split('>>> ').length - 1;
  const done = stage === 1 && prompts > opt.lines.length && !queue.length;
  const late = (Date.now() - started) / 1000 > opt.timeout;
  if (done || late) {
    clearInterval(poll);
    clearInterval(pump);
    sim.stop();
    const t = mcu.clock.timeUs !== undefined ? mcu.clock.timeUs / 1e6 : NaN;
    console.error(`\n[cp_boot_check] ${done ? 'REPL reached' : 'TIMEOUT'} after ${((Date.now() - started) / 1000).toFixed(1)} s wall, ` +
      `${chip.ops} flash ops ${JSON.stringify(chip.log.slice(0, 8))} emulated ${t}`);
    if (opt.flashOut) writeFileSync(opt.flashOut, mcu.flash);
    process.exit(done ? 0 : 1);
  }
}, 100);
