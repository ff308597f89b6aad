#!/usr/bin/env python3
"""ptdump (tools/gdb/ptdump.py) against the kernel's own dump, live.

    test_ptdump.py ARCH KERNEL [QEMU ARGS...]

Boots KERNEL under QEMU with a gdbstub on a free port and
`script=...;dump`, reads the kernel's SANDBOX line and its dump up to
READY, then attaches gdb-multiarch, runs `ptdump user sandbox=BASE,SIZE`
and requires the same LEAF lines and `end`, byte for byte.  Also: a
plain `ptdump` (all) holds the user leaves and, above them, the kernel's
own upper-half leaves.  Exit 0 on agreement, 1 otherwise, 77 (skipped)
without gdb-multiarch.
"""
import os
import shutil
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools", "gdb"))
import live  # noqa: E402

SCRIPTS = {
    "x86_64": "map 0x400000 2M 0 rwu huge;protect 0x401000 4K ru;protect 0x402000 4K -;"
              "mmio 0x40000000 2M 0x400000000 rw:uc huge;map 0x7ffffffff000 4K 0x5000 rxu;"
              "map 0x800000 8K 0x200000 rw:wc;dump",
    "riscv64": "map 0x400000 2M 0 rwu huge;protect 0x401000 4K ru;protect 0x402000 4K -;"
               "mmio 0x40000000 2M 0x400000000 rw huge;map 0x7ffffffff000 4K 0x5000 xu;"
               "map 0x800000 8K 0x200000 rwx;dump",
}


def main():
    arch, kernel = sys.argv[1], sys.argv[2]
    if shutil.which("gdb-multiarch") is None:
        print("gdb-multiarch not found (tools/setup-deps installs it): skipped")
        return 77
    port = live.free_port()
    proc, serial = live.boot_until_ready(arch, kernel, "script=" + SCRIPTS[arch], port,
                                         sys.argv[3:])
    failed = []
    try:
        if not serial or serial[-1] != "READY":
            print("\n".join(serial[-20:]))
            return fail("the kernel did not reach READY")
        sandbox = next(l for l in serial if l.startswith("SANDBOX "))
        base, size = (int(x, 16) for x in sandbox.split()[1:3])
        start = max(i for i, l in enumerate(serial) if l.startswith("ok"))
        want = [l for l in serial[start + 1:] if live.LEAF.match(l) or l == "end"]
        status, got, r = live.run_ptdump(arch, kernel, port, f"user sandbox={base:#x},{size:#x}")
        if status != 0 or got != want:
            print(r.stdout[-2000:], r.stderr[-2000:])
            failed.append(f"ptdump user: {len(got)} lines, the kernel's dump {len(want)}")
            for g, w in zip(got, want):
                if g != w:
                    failed.append(f"first difference: ptdump '{g}', dump '{w}'")
                    break
        status, every, r = live.run_ptdump(arch, kernel, port, "all")
        # The kernel half is the top bit's (its base depends on the paging mode).
        leaves = [l for l in every if live.LEAF.match(l)]
        upper = [l for l in leaves if int(l.split()[0], 16) >> 63]
        lower = [l for l in leaves if not int(l.split()[0], 16) >> 63]
        if status != 0 or len(lower) != len(want) - 1 or not upper:
            failed.append(f"ptdump all: {len(lower)} user and {len(upper)} kernel leaves")
        print(f"{arch}: ptdump matched the kernel's dump ({len(want) - 1} leaves); "
              f"{len(upper)} kernel-half leaves")
    finally:
        proc.kill()
        proc.wait()
    for f in failed:
        print("FAILED:", f)
    return 1 if failed else 0


def fail(msg):
    print("FAILED:", msg)
    return 1


if __name__ == "__main__":
    sys.exit(main())
