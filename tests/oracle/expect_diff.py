#!/usr/bin/env python3
"""Negative end-to-end test of the oracle against live QEMU: run
tools/oracle/oracle.py with the arguments after `--` (a test-only
--test-perturb or --test-live-edit that plants one difference) and pass
only when it exits 1 (differences) and every --expect regular expression
matches one of its output lines, i.e. it names the planted difference.

    expect_diff.py --expect REGEX [--expect REGEX ...] -- ORACLE.PY ARGS...
"""
import re
import subprocess
import sys


def main(argv):
    if "--" not in argv:
        print("usage: expect_diff.py --expect REGEX ... -- ORACLE.PY ARGS...", file=sys.stderr)
        return 2
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    if len(opts) % 2 or any(o != "--expect" for o in opts[::2]) or not opts or not cmd:
        print("expect_diff.py: want --expect REGEX pairs before --", file=sys.stderr)
        return 2
    patterns = opts[1::2]
    proc = subprocess.run([sys.executable] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    print(proc.stdout, end="")
    lines = proc.stdout.splitlines()
    ok = proc.returncode == 1
    if not ok:
        print("expect_diff: oracle exited %d, wanted 1 (differences found)" % proc.returncode)
    for pat in patterns:
        if not any(re.search(pat, l) for l in lines):
            print("expect_diff: no output line matches %r" % pat)
            ok = False
    print("expect_diff: %s" % ("PASS: the oracle failed and named the difference" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
