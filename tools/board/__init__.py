"""The board lanes: MicroPython on an emulated Pico, CircuitPython on an emulated Feather."""
