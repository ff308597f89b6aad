#!/usr/bin/env python3
"""Build (and optionally run) the QEMU command line that boots a kernel.elf.

One place knows how each architecture is started, so boot tests and
ad-hoc runs agree:

    tools/qemu_run.py riscv64 build-riscv64/kernel/kernel.elf -- 'script=...'

Exit statuses follow the guest: on riscv the sifive_test device gives
33 for a pass; on x86 isa-debug-exit gives an odd status (v << 1 | 1).
"""
import argparse
import subprocess
import sys
import threading

# riscv64: OpenSBI (QEMU's default firmware) enters the kernel in S-mode.
# 2 GiB of RAM so the script sandbox (0xc0000000..) lies inside RAM.
RISCV64_BASE = ["qemu-system-riscv64", "-machine", "virt", "-nographic",
                "-bios", "default", "-m", "2G", "-no-reboot"]

# x86_64: PVH entry through -kernel; -cpu max has NX, pdpe1gb, SMEP, SMAP
# under TCG; isa-debug-exit at 0xf4 (0x10 -> 33).  A triple fault exits 0
# under -no-reboot, so 0 is never a pass.  -nic none skips the iPXE ROM.
# 3 GiB: QEMU's memory map ends 128 KiB short of the top of RAM, so only
# with 3 GiB is one 1 GiB-aligned GiB wholly RAM ([1 GiB, 2 GiB)), which the
# self-test needs for its 1 GiB leaf.  (script= works with 2 GiB too.)
X86_64_BASE = ["qemu-system-x86_64", "-cpu", "max", "-nographic", "-no-reboot",
               "-m", "3G", "-nic", "none",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]

COMMANDS = {
    "riscv64": RISCV64_BASE,
    "x86_64": X86_64_BASE,
}


def qemu_command(arch, kernel, append="", extra=()):
    """Return the argv that boots `kernel` on `arch` with command line `append`.

    Raises KeyError for an architecture this helper does not know."""
    if arch not in COMMANDS:
        raise KeyError(f"unknown architecture {arch!r}; known: {sorted(COMMANDS)}")
    cmd = list(COMMANDS[arch]) + ["-kernel", kernel]
    if append:
        cmd += ["-append", append]
    return cmd + list(extra)


def main():
    """Run QEMU for the given arch/kernel; print the command with --print."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("arch")
    p.add_argument("kernel")
    p.add_argument("append", nargs="?", default="")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--print", action="store_true", help="print the command only")
    p.add_argument("--stop-at", metavar="LINE",
                   help="stop QEMU and exit 0 once the guest prints this line (e.g. READY)")
    a = p.parse_args()
    try:
        cmd = qemu_command(a.arch, a.kernel, a.append)
    except KeyError as e:
        print(f"qemu_run: {e}", file=sys.stderr)
        return 2
    if a.print:
        print(" ".join(cmd))
        return 0
    if a.stop_at:
        return run_until(cmd, a.stop_at, a.timeout)
    try:
        return subprocess.run(cmd, timeout=a.timeout).returncode
    except subprocess.TimeoutExpired:
        print(f"qemu_run: timed out after {a.timeout} s", file=sys.stderr)
        return 124


def run_until(cmd, stop_at, timeout):
    """Echo the guest's output; stop QEMU when it prints `stop_at` (exit 0),
    or at the timeout (124); QEMU's own status if it exits first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    seen = False
    try:
        for raw in proc.stdout:
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()
            if raw.decode("ascii", "replace").rstrip("\r\n") == stop_at:
                seen = True
                break
    finally:
        proc.kill()
        status = proc.wait()
        fired = not timer.is_alive()
        timer.cancel()
    if seen:
        return 0
    if fired:
        print(f"qemu_run: timed out after {timeout} s", file=sys.stderr)
        return 124
    return status


if __name__ == "__main__":
    sys.exit(main())
