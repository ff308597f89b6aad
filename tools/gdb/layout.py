#!/usr/bin/env python3
"""Draw a live kernel's address space: boot, ptdump, ptsim --format svg.

    tools/gdb/layout.py ARCH KERNEL PTSIM OUT.svg [SCRIPT]

Boots KERNEL (tools/qemu_run.py's command line) with `script=SCRIPT`
(default: a 2 MiB user leaf split by a protect), runs `ptdump all` on the
live tables once it prints READY, and draws the LEAF lines with
`PTSIM --format svg --from-dump`.  docs/kernel-layout-*.svg were made so:

    tools/gdb/layout.py x86_64 build-x86_64/kernel/kernel.elf \\
        build/tools/ptsim/ptsim docs/kernel-layout-x86_64.svg
"""
import subprocess
import sys

import live

DEFAULT_SCRIPT = "map 0x400000 2M 0 rwu huge;protect 0x401000 4K ru"
PTSIM_ARCH = {"x86_64": "x86_64", "riscv64": "sv48"}


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    arch, kernel, ptsim, out = sys.argv[1:5]
    script = sys.argv[5] if len(sys.argv) == 6 else DEFAULT_SCRIPT
    port = live.free_port()
    proc, serial = live.boot_until_ready(arch, kernel, "script=" + script, port)
    try:
        if not serial or serial[-1] != "READY":
            print("\n".join(serial[-20:]), file=sys.stderr)
            return 1
        status, lines, r = live.run_ptdump(arch, kernel, port, "all")
    finally:
        proc.kill()
        proc.wait()
    if status != 0:
        print(r.stderr, file=sys.stderr)
        return 1
    title = f"the demo kernel on {arch}, live (ptdump all; script={script})"
    with open(out, "wb") as f:
        p = subprocess.run([ptsim, "--arch", PTSIM_ARCH[arch], "--format", "svg", "--from-dump",
                            "--title", title], input="\n".join(lines).encode(), stdout=f)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
