#!/usr/bin/env python3
"""The goldens cover every command and every error code in every mode and space.

usage: coverage.py DIR
Reads every DIR/NAME.pt with its NAME.out.  A command counts for the
(arch, space) of its golden's `# ptsim:` header if the golden runs to the
end (expected exit 0); an error code counts if some expected output line
is `error CODE`.  Exit 0 if nothing is missing.  The one exception, which
docs/PTSIM_USAGE.md explains: x86_64 and x86_64-la57 never answer
`notsup`, because ptsim always enables NX (PTMM_FEAT_X86_NX), and without NX
a readable non-executable page is the only x86 property that is valid but
unsupported.
"""
import glob
import os
import sys

COMMANDS = ["map", "mmio", "unmap", "protect", "query", "find", "dump", "check", "stats"]
CODES = ["inval", "align", "range", "exist", "nomem", "perm", "notsup"]
MODES = ("x86_64", "x86_64-la57", "sv39", "sv48", "sv57")
MACHINES = [(a, s) for a in MODES for s in ("user", "kernel")]
UNREACHABLE = {(a, s, "notsup") for a in ("x86_64", "x86_64-la57") for s in ("user", "kernel")}


def header(lines):
    """(arch, space, expected exit status) from the leading '#' lines."""
    options, status = [], 0
    for line in lines:
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if text.startswith("ptsim:"):
            options = text[len("ptsim:"):].split()
        elif text.startswith("exit:"):
            status = int(text[len("exit:"):])
    def value(opt, default):
        return options[options.index(opt) + 1] if opt in options else default
    return value("--arch", "x86_64"), value("--space", "user"), status


def main():
    seen = {m: set() for m in MACHINES}
    for pt in sorted(glob.glob(os.path.join(sys.argv[1], "*.pt"))):
        with open(pt, "rb") as f:
            lines = f.read().decode("latin-1").split("\n")
        with open(pt[:-3] + ".out", "rb") as f:
            out = f.read().decode("latin-1").split("\n")
        arch, space, status = header(lines)
        got = seen[(arch, space)]
        if status == 0:
            for line in lines:
                words = line.split("#")[0].split()
                if words:
                    got.add(words[0])
        for line in out:
            if line.startswith("error "):
                got.add(line[len("error "):])
    missing = [f"{a} {s}: {w}" for (a, s) in MACHINES for w in COMMANDS + CODES
               if w not in seen[(a, s)] and (a, s, w) not in UNREACHABLE]
    for m in missing:
        print("not covered by any golden:", m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
