#!/usr/bin/env python3
"""ptsim's command line: SIZE parsing, option errors, FILE handling, limits.

usage: options.py PTSIM
Each case runs ptsim with an argument vector (and `stats` on standard
input) and checks the exit status, standard output and standard error as
docs/PTSIM_USAGE.md describes them.  Exit 0 = every case passed.
"""
import os
import re
import subprocess
import sys
import tempfile

USAGE = re.compile(rb"^usage: ptsim \[--arch x86_64\|x86_64-la57\|sv39\|sv48\|sv57\].*\[FILE\|-\]\n\Z")
LIMIT = re.compile(rb"^ptsim: --mem \+ --pt-pool must be at most 16T - 8K \(0xfffffffe000\)")
EMPTY = b"nodes=1 mapped=0x0 frames=0\n"


def cases(tmpdir):
    """(name, argv, stdin bytes, exit status, stdout, stderr regex or None)."""
    bad_sizes = [" 1G", "1G ", "+1G", "-1G", "1g", "0x", "", "1.5G", "0b100", "4096K4K", "0X1000",
                 "18446744073709551616",         # 2^64: overflow
                 "0x10000000000000000",          # 2^64 in hex
                 "16777216T",                    # 2^64 after the suffix
                 "1000", "0x800",                # not 4 KiB aligned
                 "0"]                            # empty
    out = []
    for opt in ("--mem", "--pt-pool"):
        for s in bad_sizes:
            out.append((f"{opt} {s!r}", [opt, s], b"stats\n", 1, b"", USAGE))
    # Every mode of docs/SCRIPT.md is accepted (Svpbmt with the RISC-V ones).
    for arch in ("x86_64", "x86_64-la57", "sv39", "sv48", "sv57"):
        out.append(("--arch " + arch, ["--arch", arch], b"stats\n", 0, EMPTY, None))
    for arch in ("sv39", "sv48", "sv57"):
        out.append(("--arch %s --svpbmt" % arch, ["--arch", arch, "--svpbmt"], b"stats\n", 0,
                    EMPTY, None))
    # Valid sizes parse like script numbers: 08K is decimal (not octal, not an error).
    out.append(("--pt-pool 08K", ["--pt-pool", "08K"], b"stats\n", 0, EMPTY, None))
    out.append(("--mem 0x10M", ["--mem", "0x10M", "--pt-pool", "16K"],
                b"map 0 4K 0xfff000 r\nmap 0x1000 4K 0x1000000 r\n", 0, b"ok\nerror perm\n", None))
    # Other option errors: usage on stderr, exit 1, nothing on stdout.
    for argv in (["--mem"], ["--arch"], ["--arch", "sv32"], ["--arch", "SV39"],
                 ["--arch", "x86_64-la48"], ["--space", "both"], ["--svpbmt"],
                 ["--arch", "x86_64", "--svpbmt"], ["--arch", "x86_64-la57", "--svpbmt"],
                 ["--bogus"], ["-x"], ["a.pt", "b.pt"], ["-", "-"]):
        out.append((" ".join(argv), argv, b"stats\n", 1, b"", USAGE))
    # FILE: "-" is standard input; a missing or unreadable FILE exits 1.
    out.append(("FILE -", ["-"], b"stats\n", 0, EMPTY, None))
    missing = os.path.join(tmpdir, "missing.pt")
    out.append(("missing FILE", [missing], b"stats\n", 1, b"",
                re.compile(rb"^ptsim: .*missing\.pt: No such file or directory\n\Z")))
    out.append(("FILE a directory", [tmpdir], b"stats\n", 1, b"",
                re.compile(rb"^ptsim: .*: Is a directory\n\Z")))
    # The frame-table limit: refused before any memory is reserved.
    for argv in (["--mem", "16T"], ["--mem", "0xfffffffc000", "--pt-pool", "12K"],
                 ["--mem", "0xfffffffffffff000", "--pt-pool", "8K"], ["--pt-pool", "16T"]):
        out.append(("limit " + " ".join(argv), argv, b"stats\n", 1, b"", LIMIT))
    return out


def main():
    ptsim = sys.argv[1]
    failed = 0
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, argv, stdin, status, stdout, stderr in cases(tmpdir):
            run = subprocess.run([ptsim] + argv, input=stdin, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=60)
            problems = []
            if run.returncode != status:
                problems.append(f"exit {run.returncode}, expected {status}")
            if run.stdout != stdout:
                problems.append(f"stdout {run.stdout!r}, expected {stdout!r}")
            if stderr is not None and not stderr.search(run.stderr):
                problems.append(f"stderr {run.stderr!r} does not match {stderr.pattern!r}")
            if stderr is None and run.stderr:
                problems.append(f"unexpected stderr {run.stderr!r}")
            if problems:
                failed += 1
                print(f"{name}: " + "; ".join(problems))
    print(f"{failed} failed" if failed else "all cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
