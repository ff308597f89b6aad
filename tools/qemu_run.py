#!/usr/bin/env python3
"""Build (and optionally run) the QEMU command line that boots a kernel.elf.

One place knows how each architecture is started, so boot tests and
ad-hoc runs agree:

    tools/qemu_run.py riscv64 build-riscv64/kernel/kernel.elf -- 'script=...'
    tools/qemu_run.py --mmu-type sv57 riscv64 build-riscv64/kernel/kernel.elf

--smp N boots with N CPUs instead of the default 4 (both architectures;
QEMU's multi-threaded TCG runs them in parallel host threads).

--mmu-type (riscv64 only) boots with QEMU's own device tree, dumped for
the same machine, with /cpus/cpu@0/mmu-type rewritten to riscv,NAME
(sv39, sv48, sv57 or none): QEMU 7.2 always says riscv,sv48 (riscv,none
with mmu=false), and the kernel takes mmu-type as the cap of its paging
mode, so this is how the Sv57 default and a lying device tree are tested.

Exit statuses follow the guest: on riscv the sifive_test device gives
33 for a pass; on x86 isa-debug-exit gives an odd status (v << 1 | 1).
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading

# riscv64: OpenSBI (QEMU's default firmware) enters the kernel in S-mode.
# 2 GiB of RAM so the script sandbox (0xc0000000..) lies inside RAM.
# Four harts (-smp 4, MTTCG): the kernel starts the others with SBI HSM
# (docs/BOOT.md, SMP bring-up).
DEFAULT_SMP = 4
RISCV64_BASE = ["qemu-system-riscv64", "-machine", "virt", "-nographic",
                "-bios", "default", "-m", "2G", "-smp", str(DEFAULT_SMP), "-no-reboot"]

# x86_64: PVH entry through -kernel; -cpu max has NX, pdpe1gb, SMEP, SMAP
# under TCG; isa-debug-exit at 0xf4 (0x10 -> 33).  Four CPUs (-smp 4,
# MTTCG): the kernel starts the APs from the ACPI MADT with INIT-SIPI-SIPI.
# A triple fault exits 0 under -no-reboot, so 0 is never a pass.  -nic none skips the iPXE ROM.
# 3 GiB: QEMU's memory map ends 128 KiB short of the top of RAM, so only
# with 3 GiB is one 1 GiB-aligned GiB wholly RAM ([1 GiB, 2 GiB)), which the
# self-test needs for its 1 GiB leaf.  (script= works with 2 GiB too.)
X86_64_BASE = ["qemu-system-x86_64", "-cpu", "max", "-nographic", "-no-reboot",
               "-m", "3G", "-nic", "none", "-smp", str(DEFAULT_SMP),
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]

COMMANDS = {
    "riscv64": RISCV64_BASE,
    "x86_64": X86_64_BASE,
}


MMU_TYPES = ("sv39", "sv48", "sv57", "none")


def patched_dtb(extra, mmu_type, smp=None):
    """Path of QEMU's riscv virt device tree for this machine (RISCV64_BASE +
    `extra`) with mmu-type set to riscv,`mmu_type`.  Dumped once per machine
    and kept in the temporary directory (written atomically: tests run in
    parallel).  Raises ValueError if the dump has no single mmu-type to patch."""
    if mmu_type not in MMU_TYPES:
        raise ValueError(f"--mmu-type must be one of {', '.join(MMU_TYPES)}")
    base = base_command("riscv64", smp) + list(extra)
    key = hashlib.sha256(repr((base, mmu_type)).encode()).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"ptmm-virt-{key}.dtb")
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(prefix="ptmm-dtb-") as tmp:
        dump = os.path.join(tmp, "virt.dtb")
        subprocess.run(base + ["-machine", "dumpdtb=" + dump], check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        blob = open(dump, "rb").read()
        old = [t for t in (b"riscv,sv39\0", b"riscv,sv48\0", b"riscv,sv57\0", b"riscv,none\0")
               if t in blob]
        # One mmu-type value, once per hart (-smp N gives N cpu nodes).
        if len(old) != 1:
            raise ValueError("QEMU's device tree has no single mmu-type to rewrite")
        out = os.path.join(tmp, "patched.dtb")
        with open(out, "wb") as f:
            f.write(blob.replace(old[0], b"riscv," + mmu_type.encode() + b"\0"))
        os.replace(out, path)
    return path


def base_command(arch, smp=None):
    """The machine of `arch` with `smp` CPUs (None: DEFAULT_SMP)."""
    cmd = list(COMMANDS[arch])
    if smp is not None:
        if smp < 1:
            raise ValueError("--smp must be at least 1")
        cmd[cmd.index("-smp") + 1] = str(smp)
    return cmd


def qemu_command(arch, kernel, append="", extra=(), mmu_type=None, smp=None):
    """Return the argv that boots `kernel` on `arch` with command line `append`,
    `extra` QEMU arguments, `smp` CPUs (None: DEFAULT_SMP) and (riscv64) a
    device tree whose mmu-type is `mmu_type` (see patched_dtb; dumped for
    the same CPU count).

    Raises KeyError for an architecture this helper does not know, ValueError
    for an mmu_type or CPU count it cannot apply."""
    if arch not in COMMANDS:
        raise KeyError(f"unknown architecture {arch!r}; known: {sorted(COMMANDS)}")
    cmd = base_command(arch, smp) + ["-kernel", kernel]
    if append:
        cmd += ["-append", append]
    if mmu_type is not None:
        if arch != "riscv64":
            raise ValueError("--mmu-type is for riscv64 only")
        cmd += ["-dtb", patched_dtb(extra, mmu_type, smp)]
    return cmd + list(extra)


def main():
    """Run QEMU for the given arch/kernel; print the command with --print."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("arch")
    p.add_argument("kernel")
    p.add_argument("append", nargs="?", default="")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--print", action="store_true", help="print the command only")
    p.add_argument("--smp", type=int, metavar="N",
                   help=f"boot with N CPUs (default {DEFAULT_SMP})")
    p.add_argument("--mmu-type", choices=MMU_TYPES,
                   help="riscv64: boot with QEMU's device tree saying mmu-type riscv,NAME")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                   help="one more QEMU argument (repeatable; e.g. --qemu-arg=-cpu "
                        "--qemu-arg=qemu64)")
    p.add_argument("--stop-at", metavar="LINE",
                   help="stop QEMU and exit 0 once the guest prints this line (e.g. READY)")
    a = p.parse_args()
    try:
        cmd = qemu_command(a.arch, a.kernel, a.append, a.qemu_arg, a.mmu_type, a.smp)
    except (KeyError, ValueError) as e:
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
