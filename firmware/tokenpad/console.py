"""The console display for ``tokenpad.display`` (a board without one, or whose display
failed to start): its own module, loaded only then (issue 26). The console key hook is
:mod:`tokenpad.keyhook`."""

from tokenpad.display import Display


class Console(Display):
    """Prints each screen on one line: ``[ CONNECTING ]``."""

    cols = 72
    rows = 6

    def __init__(self, out=None):
        super().__init__()
        self.out = out

    def _draw(self):
        s = "[ " + " | ".join(self.lines) + " ]"
        if self.out is not None:
            self.out.write(s + "\n")
        else:
            print(s)
