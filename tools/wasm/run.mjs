// Runs a MicroPython script in the WebAssembly port (a 32-bit MicroPython) with a given
// initial GC heap, for tools/bench.py. Usage:
//   node tools/wasm/run.mjs HEAP_BYTES SCRIPT.py (--lib DIR | --romfs IMAGE)
// --lib copies every file under DIR to /lib in the port's filesystem: imported .mpy files
// are loaded into the heap, as from a board's littlefs. --romfs hands the port a ROMFS image
// (tools/romfs.py), mounted at /rom from memory outside the GC heap, as a board mounts its
// romfs flash partition: .mpy code there runs in place.
// The port grows its heap when an allocation fails (split heap); the script reads
// "GC: total" from micropython.mem_info() to tell whether it had to.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [heap, script, how, path] = process.argv.slice(2);
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
  mp.runPython(readFileSync(script, "utf8"));
} catch (e) {
  process.stderr.write(String(e) + "\n");
  process.exit(1);
}
