// Runs a MicroPython script in the WebAssembly port (a 32-bit MicroPython) with a given
// initial GC heap, for tools/bench/main.py and the test lane. Usage:
//   node tools/wasm/run.mjs HEAP_BYTES SCRIPT.py (--lib DIR | --romfs IMAGE) [--serial TTY]
// --lib copies every file under DIR to /lib in the port's filesystem: imported .mpy files
// are loaded into the heap, as from a board's littlefs. --romfs hands the port a ROMFS image
// (tools/build/romfs.py), mounted at /rom from memory outside the GC heap, as a board mounts its
// romfs flash partition: .mpy code there runs in place.
// --serial opens a tty (the meter simulator's pty, `udlms.host.sim --pty`) without blocking
// and offers it to Python as js.globalThis.udlmsSerial: write(hex) and read(n) -> hex, ""
// when nothing has arrived (host_tests/mpy/mpytest.py wraps it as a stream).
// The port grows its heap when an allocation fails (split heap); the script reads
// "GC: total" from micropython.mem_info() to tell whether it had to. It frees garbage only
// between runPython calls (see "# --- next run ---" below).
import { closeSync, constants, openSync, readFileSync, readSync, readdirSync, statSync,
  writeSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [heap, script, how, path, opt, tty] = process.argv.slice(2);
let fd = null;
if (opt === "--serial") {
  fd = openSync(tty, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  const chunk = Buffer.alloc(256);
  globalThis.udlmsSerial = {
    write(hex) {
      const b = Buffer.from(hex, "hex");
      let done = 0;
      while (done < b.length) {
        try {
          done += writeSync(fd, b, done, b.length - done);
        } catch (e) {
          if (e.code !== "EAGAIN") throw e;
        }
      }
    },
    read(n) {
      try {
        const got = readSync(fd, chunk, 0, Math.min(n, chunk.length), null);
        return chunk.subarray(0, got).toString("hex");
      } catch (e) {
        if (e.code === "EAGAIN") return "";
        throw e;
      }
    },
  };
}
const mp = await loadMicroPython({
  heapsize: parseInt(heap, 10),
  romfs: how === "--romfs" ? readFileSync(path) : undefined,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
  linebuffer: true,
});

function copy(src, dst) {
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = dst + "/" + name;
    if (statSync(s).isDirectory()) {
      mp.FS.mkdir(d);
      copy(s, d);
    } else {
      mp.FS.writeFile(d, readFileSync(s));
    }
  }
}

if (how === "--lib") {
  mp.FS.mkdir("/lib");
  copy(path, "/lib");
}
try {
  // a line "# --- next run ---" starts another runPython call: this port frees garbage
  // only between runs, so a script measures what stays resident in a run of its own
  for (const part of readFileSync(script, "utf8").split(/^# --- next run ---$/m)) {
    mp.runPython(part);
  }
} catch (e) {
  process.stderr.write(String(e) + "\n");
  process.exit(1);
} finally {
  if (fd !== null) closeSync(fd);
}
