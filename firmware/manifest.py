# ruff: noqa: F821 - include() and package() are provided by the manifest loader
# Freeze udlms and tokenpad into a custom MicroPython firmware (frozen bytecode runs from
# flash and leaves the heap for buffers). MicroPython's own build takes this file through
# FROZEN_MANIFEST=, run in a MicroPython checkout (this project builds no firmware):
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/udlms/firmware/manifest.py
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/udlms/firmware/manifest.py
# Relative base paths are taken from this file's directory (firmware/). Only the device code
# is frozen: udlms/host/ (CLI, trace decoder, PC back-ends) never goes onto a board.
include("$(PORT_DIR)/boards/manifest.py")
package("udlms", files=["__init__.py", "errors.py", "port.py", "results.py"],
        base_path="../lib", opt=2)
for layer in ("link", "cosem", "crypto", "client"):  # UART -> HDLC -> APDU -> security -> token
    package("udlms/" + layer, base_path="../lib", opt=2)
package("tokenpad", base_path=".", opt=2)
