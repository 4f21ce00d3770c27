# ruff: noqa: F821 - include() and package() are provided by the manifest loader
# Freeze udlms and tokenpad into a custom MicroPython firmware (frozen bytecode runs from
# flash and leaves the heap for buffers):
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/udlms/firmware/manifest.py
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/udlms/firmware/manifest.py
# Relative base paths are taken from this file's directory (firmware/).
include("$(PORT_DIR)/boards/manifest.py")
package("udlms", base_path="../lib", opt=2)
package("tokenpad", base_path=".", opt=2)
