#!/usr/bin/env python3
"""Run one ptsim golden script and compare its output byte for byte.

usage: run_golden.py PTSIM SCRIPT.pt
The script's header lines choose the run:
    # ptsim: OPTIONS     command-line options (default none)
    # exit: N            expected exit status (default 0)
    # input: stdin       feed the script on standard input, no FILE
    # input: -           feed it on standard input, FILE is "-"
Expected standard output is SCRIPT.out next to it.  Exit 0 = match.
"""
import subprocess
import sys


def header(script_bytes):
    """Options, expected exit status and input mode from the leading '#' lines."""
    options, status, mode = [], 0, "file"
    for raw in script_bytes.split(b"\n"):
        if not raw.startswith(b"#"):
            break
        text = raw.decode("ascii", "replace")[1:].strip()
        if text.startswith("ptsim:"):
            options = text[len("ptsim:"):].split()
        elif text.startswith("exit:"):
            status = int(text[len("exit:"):])
        elif text.startswith("input:"):
            mode = text[len("input:"):].strip()
            if mode not in ("stdin", "-"):
                raise SystemExit(f"bad input mode {mode!r}")
    return options, status, mode


def print_first_difference(name, got, expected):
    """Print the first line where the lists `got` and `expected` differ."""
    for i in range(max(len(got), len(expected))):
        g = got[i] if i < len(got) else "<missing>"
        e = expected[i] if i < len(expected) else "<missing>"
        if g != e:
            print(f"{name}: output line {i + 1}: expected {e!r}, got {g!r}")
            return


def main():
    ptsim, script = sys.argv[1], sys.argv[2]
    with open(script, "rb") as f:
        data = f.read()
    with open(script[:-3] + ".out", "rb") as f:
        expected = f.read()
    options, want_status, mode = header(data)
    if mode == "file":
        run = subprocess.run([ptsim] + options + [script], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, timeout=120)
    else:
        args = [ptsim] + options + ([] if mode == "stdin" else ["-"])
        run = subprocess.run(args, input=data, stdout=subprocess.PIPE, timeout=120)
    ok = True
    if run.returncode != want_status:
        print(f"{script}: exit status {run.returncode}, expected {want_status}")
        ok = False
    if run.stdout != expected:
        print_first_difference(script, run.stdout.decode("ascii", "replace").splitlines(),
                               expected.decode("ascii", "replace").splitlines())
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
