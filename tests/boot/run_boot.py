#!/usr/bin/env python3
"""Boot tests of the kernel under QEMU (and the host half of the script tests).

    run_boot.py selftest ARCH KERNEL [OPTIONS] [QEMU_ARG ...]
        Boot with the default command line (or --append).  Pass only if the
        log has `RESULT PASS`, QEMU exits with status 33 (any other status,
        a timeout, or `RESULT FAIL` fails; on x86 a triple fault exits 0)
        and, with --mode, the kernel's `layout:` line names that mode.
        With --cpus=N QEMU runs N CPUs (tools/qemu_run.py --smp) and the log
        must have exactly one `smp: ...` line, `smp: N CPUs online`, and
        every SMP step (`selftest: smp-...`) `ok` for N > 1, `skipped` for 1.

    run_boot.py refuse ARCH KERNEL --expect=REGEX [OPTIONS] [QEMU_ARG ...]
        A boot the kernel must refuse: a line matching REGEX, `RESULT FAIL`,
        and QEMU's failing status 1, within the timeout (never a hang).

    run_boot.py script ARCH KERNEL SCRIPT EXPECTED [OPTIONS]
        Boot with `script=` + SCRIPT's commands joined by `;` (after
        `paging=MODE` with --mode).  The lines between `SANDBOX 0xBASE
        0xSIZE` and `READY` must equal EXPECTED byte for byte; the sandbox
        must be 1 GiB aligned and at least 64 MiB.

    run_boot.py host PTSIM MODE SCRIPT EXPECTED
        Run the host simulator on the same script (`--arch MODE --mem 1G`,
        checker on) and compare with the same EXPECTED: the kernel and ptsim
        agree.  MODE is a ptsim --arch name (riscv64 and x86_64 stand for
        sv48 and x86_64).
    run_boot.py refuse ARCH KERNEL TEXT [QEMU_ARG ...]
        Boot with the default command line on a machine the kernel must
        refuse (e.g. `-cpu qemu64,-nx`).  Pass only if a log line contains
        TEXT, QEMU exits with the kernel's failure status 1 (not a timeout,
        not a triple fault's 0) and there is no RESULT PASS.

    run_boot.py long-script ARCH KERNEL
        Boot with a `script=` longer than the kernel's command-line buffer:
        it must be refused with the `cmdline: longer than` line and status
        1, never run cut short (no SANDBOX, no READY).

OPTIONS: --mode=MODE (the paging mode, e.g. sv39, x86_64-la57), --cpus=N
(selftest: N CPUs, checked in the log), --append=TEXT
(more command line), --mmu-type=NAME (riscv64: tools/qemu_run.py's device
tree with that mmu-type).  ARCH is riscv64 or x86_64.  Exit status 0 =
pass, 1 = fail.
"""
import os
import re
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "ptsim"))
import qemu_run  # noqa: E402  (the one place that knows the QEMU command lines)
import run_golden  # noqa: E402  (its line-by-line difference report)

TIMEOUT = 120
PTSIM_ARCH = {"riscv64": "sv48", "x86_64": "x86_64"}
SANDBOX_RE = re.compile(r"^SANDBOX 0x([0-9a-f]+) 0x([0-9a-f]+)$")


LAYOUT_RE = re.compile(r"^layout: (\S+) ")


def boot(arch, kernel, append="", extra=(), stop_at=None, mmu_type=None, smp=None):
    """Run QEMU (`smp` CPUs, None: tools/qemu_run.py's default) until it
    exits, prints the line `stop_at` (then it is killed: script mode halts
    the CPU), or the timeout; QEMU is always stopped.  Returns (exit status
    or None, log lines)."""
    cmd = qemu_run.qemu_command(arch, kernel, append, extra, mmu_type, smp)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    timer = threading.Timer(TIMEOUT, proc.kill)
    timer.start()
    lines = []
    try:
        for raw in proc.stdout:
            line = raw.decode("ascii", "replace").rstrip("\r\n")
            lines.append(line)
            if stop_at is not None and line == stop_at:
                proc.kill()
                break
    finally:
        proc.kill()
        status = proc.wait()
        timer.cancel()
    stopped = stop_at is not None and stop_at in lines
    return (None if stopped else status), lines


def script_commands(path):
    """The script's commands, comments and blank lines dropped, joined by ';'."""
    cmds = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                cmds.append(line)
    return ";".join(cmds)


def compare(name, got, expected):
    """Print the first differing line; True if equal."""
    if got == expected:
        return True
    run_golden.print_first_difference(name, got, expected)
    return False


def read_expected(path):
    with open(path) as f:
        return f.read().rstrip("\n").split("\n")


def mode_in_log(lines):
    """The paging mode the kernel's `layout:` line names, or None."""
    for l in lines:
        m = LAYOUT_RE.match(l)
        if m:
            return m.group(1)
    return None


SMP_STEP_RE = re.compile(r"^selftest: (smp-\S+) (\S+)$")


def smp_lines_ok(lines, cpus):
    """The one `smp:` line says `cpus` CPUs online; the SMP steps ran
    (`ok`) with more than one, said `skipped` with one.  Prints what is
    wrong; True if nothing."""
    ok = True
    smp = [l for l in lines if l.startswith("smp: ")]
    if smp != [f"smp: {cpus} CPUs online"]:
        print(f"FAIL: smp lines {smp}, want exactly ['smp: {cpus} CPUs online']")
        ok = False
    steps = [SMP_STEP_RE.match(l).groups() for l in lines if SMP_STEP_RE.match(l)]
    want = "ok" if cpus > 1 else "skipped"
    if not steps or any(result != want for _, result in steps):
        print(f"FAIL: SMP steps {steps}, each must be {want!r} with {cpus} CPUs")
        ok = False
    return ok


def run_selftest(arch, kernel, extra, opts):
    append = " ".join(w for w in (opts.get("append", ""),) if w)
    cpus = int(opts["cpus"]) if "cpus" in opts else None
    status, lines = boot(arch, kernel, append, extra, mmu_type=opts.get("mmu-type"), smp=cpus)
    log = [l for l in lines if l.startswith(("selftest", "  ", "RESULT", "mm:", "ram ", "paging:",
                                             "layout:", "smp:", "apic:"))]
    print("\n".join(log))
    passed = "RESULT PASS" in lines and status == 33
    if not passed:
        print("\n".join(lines[-40:]))
        print(f"FAIL: status {status} (33 expected), RESULT PASS "
              f"{'present' if 'RESULT PASS' in lines else 'missing'}")
    want = opts.get("mode")
    if want is not None and mode_in_log(lines) != want:
        print(f"FAIL: the kernel ran in {mode_in_log(lines)}, {want} expected")
        passed = False
    if cpus is not None and not smp_lines_ok(lines, cpus):
        passed = False
    return passed


def run_refuse(arch, kernel, extra, opts):
    status, lines = boot(arch, kernel, opts.get("append", ""), extra,
                         mmu_type=opts.get("mmu-type"))
    print("\n".join(lines[-6:]))
    want = re.compile(opts["expect"])
    ok = True
    if not any(want.search(l) for l in lines):
        print(f"FAIL: no line matches {opts['expect']!r}")
        ok = False
    if not any(l.startswith("RESULT FAIL") for l in lines):
        print("FAIL: no RESULT FAIL line")
        ok = False
    if status != 1:
        print(f"FAIL: QEMU status {status} (1 expected: a clean failing stop)")
        ok = False
    return ok


def run_script(arch, kernel, script, expected_path, opts):
    mode = opts.get("mode")
    append = ("paging=" + mode + " " if mode else "") + "script=" + script_commands(script)
    status, lines = boot(arch, kernel, append, stop_at="READY", mmu_type=opts.get("mmu-type"))
    start = next((i for i, l in enumerate(lines) if SANDBOX_RE.match(l)), None)
    ready = next((i for i, l in enumerate(lines) if l == "READY"), None)
    if start is None or ready is None or ready < start:
        print("\n".join(lines[-40:]))
        print(f"FAIL: no SANDBOX ... READY in the log (status {status})")
        return False
    base, size = (int(x, 16) for x in SANDBOX_RE.match(lines[start]).groups())
    ok = True
    if mode is not None and mode_in_log(lines) != mode:
        print(f"FAIL: the kernel ran in {mode_in_log(lines)}, {mode} expected")
        ok = False
    if base % (1 << 30) or size < (64 << 20):
        print(f"FAIL: sandbox 0x{base:x} 0x{size:x} is not 1 GiB aligned and >= 64 MiB")
        ok = False
    return compare(script, lines[start + 1:ready], read_expected(expected_path)) and ok


def run_host(ptsim, mode, script, expected_path):
    run = subprocess.run([ptsim, "--arch", PTSIM_ARCH.get(mode, mode), "--mem", "1G", "--check",
                          script],
                         stdout=subprocess.PIPE, timeout=TIMEOUT)
    got = run.stdout.decode("ascii", "replace").rstrip("\n").split("\n")
    ok = compare(script, got, read_expected(expected_path))
    if run.returncode != 0:
        print(f"FAIL: ptsim exit status {run.returncode}")
        ok = False
    return ok


def split_options(args):
    """(--name=value options as a dict, the other arguments in order)."""
    opts, rest = {}, []
    for w in args:
        if w.startswith("--") and "=" in w:
            k, v = w[2:].split("=", 1)
            opts[k] = v
        else:
            rest.append(w)
    return opts, rest


def run_refuse_text(arch, kernel, text, append="", extra=()):
    """A boot the kernel must refuse with a line containing `text`."""
    status, lines = boot(arch, kernel, append, extra, stop_at="READY")
    return run_refuse_lines(lines, status, text)


# The kernels' command-line buffers hold 1023 bytes; this one is longer, and
# its last command would be the first to go.
LONG_SCRIPT = ";".join(["map 0x%x 4K 0x%x r" % (0x400000 + i * 0x1000, 0x1000 + i * 0x1000)
                        for i in range(60)] + ["map 0x800000 2M 0x200000 rwu huge"])


def run_long_script(arch, kernel):
    """A script= past the buffer is an error line, never a shorter script."""
    append = "script=" + LONG_SCRIPT
    assert len(append) > 1100, len(append)
    status, lines = boot(arch, kernel, append, (), stop_at="READY")
    if any(SANDBOX_RE.match(l) for l in lines):
        print("FAIL: the script ran (SANDBOX printed)")
        print("\n".join(lines[-12:]))
        return False
    return run_refuse_lines(lines, status, "cmdline: longer than")


def run_refuse_lines(lines, status, text):
    said = [l for l in lines if text in l]
    ok = bool(said) and status == 1 and "RESULT PASS" not in lines and "READY" not in lines
    print("\n".join(lines[-6:]))
    if not ok:
        print(f"FAIL: status {status} (1 expected), line with {text!r} "
              f"{'present' if said else 'missing'}")
    return ok


def main():
    opts, a = split_options(sys.argv[1:])
    if len(a) >= 3 and a[0] == "selftest":
        ok = run_selftest(a[1], a[2], a[3:], opts)
    elif len(a) >= 3 and a[0] == "refuse" and "expect" in opts:
        ok = run_refuse(a[1], a[2], a[3:], opts)
    elif len(a) == 5 and a[0] == "script":
        ok = run_script(a[1], a[2], a[3], a[4], opts)
    elif len(a) == 5 and a[0] == "host":
        ok = run_host(a[1], a[2], a[3], a[4])
    elif len(a) >= 4 and a[0] == "refuse":
        ok = run_refuse_text(a[1], a[2], a[3], "", a[4:])
    elif len(a) == 3 and a[0] == "long-script":
        ok = run_long_script(a[1], a[2])
    else:
        print(__doc__)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
