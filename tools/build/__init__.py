"""Building what goes onto a board: .mpy, ROMFS and FAT images, the message table, firmware, deploy."""
