"""``make demo``: a token delivered to the simulated meter, end to end.

Starts udlms.host.sim (HDLC over TCP, HLS-GMAC, suite 0, Token Gateway expecting ASCII
digits), then runs the same ``udlms enter-token`` a technician would run on a PC:
1. a fresh invocation counter is read from the meter with the public client (resync),
2. the token is entered and accepted (the decoded exchange is printed),
3. the same token again is refused (token already used),
4. a token in the wrong encoding is refused with the type-unmatched explanation,
5. a 19-digit token is refused before any byte is sent,
6. a wrong authentication key gives AUTH FAILED,
7. a second meter that wants BCD: with encoding auto (the default) the first token finds
   the form in one association and says so once, the next goes in one attempt.
Exit status 0 only if every step behaved as described.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")
EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
TOKEN = "1781 3034 3131 9155 8529"


def start_sim(encoding="ascii"):
    p = subprocess.Popen([os.path.join(BIN, "python"), "-m", "udlms.host.sim",
                          "--tcp", "0", "--ek", EK, "--ak", AK, "--encoding", encoding],
                         stdout=subprocess.PIPE, text=True)
    url = None
    t0 = time.time()
    while time.time() - t0 < 10:
        line = p.stdout.readline()
        if not line:
            break
        print("  " + line.rstrip())
        if "tcp://" in line:
            url = line.split()[-1]
            break
    if url is None:
        p.kill()
        raise SystemExit("demo: the simulator did not start")
    return p, url


def command_line(args):
    """The command as a user would paste it into a shell (the token quoted)."""
    import shlex

    return " ".join(shlex.quote(a) for a in [".venv/bin/udlms"] + list(args))


def udlms(args):
    cmd = [os.path.join(BIN, "udlms")] + args
    print("$ " + command_line(args))
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    return r.returncode


def main():
    print("== starting the simulated meter")
    sim, url = start_sim()
    tmp = tempfile.mkdtemp(prefix="udlms-demo-")  # the counter file: gone after the demo
    counters = os.path.join(tmp, "counters.json")
    conn = ["--port", url, "--ek", EK, "--ak", AK, "--system-title", "4D4D4D0000000001",
            "--counter-file", counters]
    ok = True
    try:
        print("\n== 1. enter a token (counter resynchronised from the meter first)")
        ok &= udlms(["enter-token", TOKEN, "-v"] + conn) == 0
        print("\n== 2. the same token again: the meter refuses it")
        ok &= udlms(["enter-token", TOKEN] + conn) == 1
        print("\n== 3. a new token sent as BCD to a meter that wants ASCII digits")
        ok &= udlms(["enter-token", "0571-8854-5901-9721-1241", "--encoding", "bcd"] + conn) == 1
        print("\n== 4. a 19-digit token: refused before anything is sent")
        ok &= udlms(["enter-token", "1781 3034 3131 9155 852"] + conn) == 2
        print("\n== 5. the wrong authentication key: the meter refuses our proof")
        bad = list(conn)
        bad[bad.index("--ak") + 1] = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDE00"
        ok &= udlms(["enter-token", "0571 8854 5901 9721 1241"] + bad) == 4
        ok &= auto_steps(conn)
    finally:
        sim.terminate()
        sim.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)
    print("\ndemo: %s" % ("every step behaved as expected" if ok else "SOMETHING WENT WRONG"))
    sys.exit(0 if ok else 1)


def auto_steps(conn):
    """Step 7: encoding auto against a meter that wants BCD (issue 20)."""
    print("\n== 7. another meter, one that wants BCD: encoding auto (the default) finds it")
    sim, url = start_sim("bcd")
    conn = list(conn)
    conn[conn.index("--port") + 1] = url
    try:
        ok = udlms(["enter-token", "3562 8260 6078 9593 2800"] + conn) == 0
        print("\n   the next token goes in one attempt, in the remembered form:")
        ok &= udlms(["enter-token", "1234 5678 9012 3456 7890", "--json"] + conn) == 0
    finally:
        sim.terminate()
        sim.wait(5)
    return ok


if __name__ == "__main__":
    main()
