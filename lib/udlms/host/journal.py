"""The token journal (``~/.config/udlms/journal.jsonl``): every token appended as
``pending`` before its first byte goes out, then its outcome; files created 0600."""

from udlms.host.cli.base import _bad


# -- files ------------------------------------------------------------------------------
def _config_dir():
    import os

    return os.path.join(os.path.expanduser("~"), ".config", "udlms")


def _counter_path(d):
    import os

    return d.get("counter_file") or os.path.join(_config_dir(), "counters.json")


def _journal_path(d):
    import os

    return d.get("journal") or os.path.join(os.path.dirname(os.path.abspath(
        _counter_path(d))), "journal.jsonl")


class Journal:
    """Host token journal: one JSON line per event, appended and fsync'ed (file 0600).
    A token is written as ``pending`` before the first byte is sent and gets its final
    state after (accepted / refused / not-sent / unknown), so a crash never loses a token."""

    def __init__(self, path):
        self.path = path

    def add(self, digits, state, **extra):
        import json
        import os
        import time

        d = os.path.dirname(os.path.abspath(self.path))
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "token": digits, "state": state}
        rec.update(extra)
        try:
            os.makedirs(d, 0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                try:
                    os.fchmod(fd, 0o600)  # a journal made by an older udlms was 0644
                except (AttributeError, OSError):  # not ours, or no fchmod (Windows)
                    pass
                os.write(fd, (json.dumps(rec) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise _bad("cannot write the journal %s: %s" % (self.path, e.strerror or e))

    def entries(self):
        """Latest state per token, in the order tokens were first journaled."""
        import json

        out = {}
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        out.setdefault(rec["token"], {}).update(rec)
                    except (ValueError, KeyError, TypeError, AttributeError):
                        continue  # a line cut by power loss: the previous state stands
        except FileNotFoundError:
            pass
        except OSError as e:
            raise _bad("cannot read the journal %s: %s" % (self.path, e.strerror or e))
        return list(out.values())

    def state(self, digits):
        for e in self.entries():
            if e.get("token") == digits:
                return e.get("state")
        return None
