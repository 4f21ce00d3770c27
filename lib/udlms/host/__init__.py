"""PC-only code (never on a board): CLI, trace decoder, OpenSSL/pyserial back-ends."""
