#!/usr/bin/env python3
"""oracle.py - hold the kernel's live page tables against QEMU's own page walker.

Boots a kernel (riscv64 or x86_64) with `script=CMDS`, waits for READY, asks
QEMU over QMP for the live translation (`info mem` on riscv64, `info tlb` on
x86_64) and compares it with the view the kernel printed (its final `dump`,
PAs shifted by the printed sandbox base).  Also checks the kernel half: W^X
of the kernel image's sections (from the ELF section headers) and the direct
map over RAM.  Prints every difference; exit status 0 only when all agree.

Python 3 standard library only.  See docs/ORACLE.md.
"""

import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

USER_TOP = 1 << 47                      # both arches: lower canonical half
DIRECT_MAP_BASE = 0xffff800000000000
KIMAGE_BASE = 0xffffffff80000000
K4, M2, G1 = 1 << 12, 1 << 21, 1 << 30
SIZE_WORDS = {"4K": K4, "2M": M2, "1G": G1, "512G": 1 << 39}
RAM_BASE = {"riscv64": 0x80000000, "x86_64": 0}

LEAF_RE = re.compile(r"^0x([0-9a-f]{16}) (4K|2M|1G|512G) 0x([0-9a-f]{16}) ([rwxug-]{5}):(wb|wt|uc|wc)$")
SANDBOX_RE = re.compile(r"SANDBOX 0x([0-9a-fA-F]+) (\S+)")
RV_ROW_RE = re.compile(r"^([0-9a-f]{16}) ([0-9a-f]+) ([0-9a-f]{16}) ([r-][w-][x-][u-][g-][a-][d-])$")
X86_ROW_RE = re.compile(r"^([0-9a-f]{16}): ([0-9a-f]{16}) ([X-][G-][P-][D-][A-][C-][T-][U-][W-])$")


class OracleError(Exception):
    """A failure to obtain the views (boot, QMP, parse), as opposed to a difference."""


# ---------------------------------------------------------------- script

def script_commands(text):
    """Commands of a script given as file text or `;`-separated string.
    Guarantees: comments and blank entries dropped, a trailing `dump` present."""
    cmds = []
    for line in text.split("\n"):
        for part in line.split("#", 1)[0].split(";"):   # a comment ends at its line
            if part.strip():
                cmds.append(" ".join(part.split()))
    # The expected view is the output of the LAST command: it must be a dump.
    if not cmds or cmds[-1] != "dump":
        cmds.append("dump")
    return cmds


# ---------------------------------------------------------------- kernel output

def parse_kernel_output(serial):
    """From the serial log, return (sandbox_base, outputs, leaves).
    outputs: every line between SANDBOX and READY; leaves: the final dump's
    LEAF lines as (va, size, pa_offset, prop5, cache).  Raises OracleError
    when a marker is missing."""
    lines = [l.strip("\r ") for l in serial.split("\n")]
    start = next((i for i, l in enumerate(lines) if SANDBOX_RE.search(l)), None)
    if start is None:
        raise OracleError("no SANDBOX line in the kernel output")
    base = int(SANDBOX_RE.search(lines[start]).group(1), 16)
    ready = next((i for i in range(start, len(lines)) if lines[i] == "READY"), None)
    if ready is None:
        raise OracleError("no READY line after SANDBOX")
    outputs = lines[start + 1:ready]
    # The dump is the last command: its LEAF lines directly precede its `end`.
    end = max((i for i, l in enumerate(outputs) if l == "end"), default=None)
    if end is None:
        raise OracleError("no `end` of the final dump before READY")
    leaves = []
    i = end - 1
    while i >= 0 and LEAF_RE.match(outputs[i]):
        m = LEAF_RE.match(outputs[i])
        leaves.append((int(m.group(1), 16), SIZE_WORDS[m.group(2)], int(m.group(3), 16),
                       m.group(4), m.group(5)))
        i -= 1
    leaves.reverse()
    return base, outputs, leaves


def parse_number(word):
    """A script number: decimal or 0x hex, optional K/M/G/T suffix."""
    m = re.fullmatch(r"(0x[0-9a-fA-F]+|[0-9]+)([KMGT]?)", word)
    if not m:
        raise OracleError("bad number in script: %r" % word)
    return int(m.group(1), 0) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


def mmio_ranges(cmds, outputs):
    """VA ranges whose leaves hold ABSOLUTE PAs: those of successful `mmio`
    commands not later overwritten by a successful `map ... replace`.
    Pairs each command with its output line (dump: its LEAF lines + `end`)."""
    ranges, i = [], 0
    for cmd in cmds:
        words = cmd.split()
        if words[0] == "dump":
            while i < len(outputs) and outputs[i] != "end":
                i += 1
            i += 1
            continue
        answer = outputs[i] if i < len(outputs) else ""
        i += 1
        if words[0] not in ("map", "mmio") or not answer.startswith("ok"):
            continue
        va, length = parse_number(words[1]), parse_number(words[2])
        # a later map over the range turns it back into sandbox frames
        ranges = [piece for a, b in ranges
                  for piece in ((a, min(b, va)), (max(a, va + length), b)) if piece[0] < piece[1]]
        if words[0] == "mmio":
            ranges.append((va, va + length))
    return ranges


def expected_user_view(leaves, base, absolute=()):
    """Split the dump into (present, absent): present leaves as
    (va, size, absolute pa, set of rwxug letters); absent = the no-access
    leaves (`-----`) which the hardware must see as not present.  PAs are
    sandbox offsets except for leaves inside the `absolute` (mmio) VA ranges."""
    present, absent = [], []
    for va, size, pa, prop, _cache in leaves:
        if prop == "-----":
            absent.append((va, size))
            continue
        shift = 0 if any(a <= va < b for a, b in absolute) else base
        present.append((va, size, pa + shift, frozenset(prop.replace("-", ""))))
    return present, absent


# ---------------------------------------------------------------- riscv info mem

def parse_info_mem_riscv(text):
    """Rows of riscv `info mem` as (va, size, pa, attr letters without a/d).
    Guarantees: header/separator lines skipped; any other unparsable line raises."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("vaddr") or set(line) <= set("- "):
            continue
        m = RV_ROW_RE.match(line)
        if not m:
            raise OracleError("unparsable info mem line: %r" % line)
        attrs = frozenset(c for c in m.group(4) if c in "rwxug")   # mask A/D
        rows.append((int(m.group(1), 16), int(m.group(3), 16), int(m.group(2), 16), attrs))
    return rows


def merge_ranges(rows):
    """Merge (va, size, pa, attrs) rows the way QEMU's riscv `info mem` does:
    adjacent when VA and PA are both contiguous and attrs are equal.  Applied
    to both views after masking A/D, so rows QEMU kept apart only because of
    A/D bits merge again (the canonical form)."""
    out = []
    for va, size, pa, attrs in sorted(rows):
        if out:
            pva, psize, ppa, pattrs = out[-1]
            if pva + psize == va and ppa + psize == pa and pattrs == attrs:
                out[-1] = (pva, psize + size, ppa, pattrs)
                continue
        out.append((va, size, pa, attrs))
    return out


def fmt_range(r):
    va, size, pa, attrs = r
    return "va 0x%016x..0x%016x pa 0x%016x %s" % (va, va + size, pa, fmt_attrs(attrs))


def fmt_attrs(attrs):
    return "".join(c if c in attrs else "-" for c in "rwxug")


def compare_ranges(expected, live, label):
    """Differences between two merged range lists (as text lines)."""
    exp, got = set(expected), set(live)
    diffs = ["%s: expected but not live: %s" % (label, fmt_range(r)) for r in sorted(exp - got)]
    diffs += ["%s: live but not expected: %s" % (label, fmt_range(r)) for r in sorted(got - exp)]
    return diffs


# ---------------------------------------------------------------- x86 info tlb

def parse_info_tlb_x86(text):
    """Lines of x86 `info tlb` as (va, pa, flags string).  Any line not of
    the `VA: PA FLAGS` form raises."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = X86_ROW_RE.match(line)
        if not m:
            raise OracleError("unparsable info tlb line: %r" % line)
        rows.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return rows


def x86_attrs(flags):
    """rwxug of one info tlb line.  Present implies r; x = no NX.  D, A, P,
    C, T are ignored: A/D are set by the CPU, P on a 4K line is the PAT bit
    and the page size is already told by the number of lines."""
    attrs = {"r"}
    if flags[0] != "X":
        attrs.add("x")
    if flags[1] == "G":
        attrs.add("g")
    if flags[7] == "U":
        attrs.add("u")
    if flags[8] == "W":
        attrs.add("w")
    return frozenset(attrs)


def x86_expected_lines(present):
    """info tlb prints one line per leaf (4K, 2M or 1G): the expected leaves
    map 1:1 onto lines (va -> (pa, attrs)).  x is only representable when
    r is (x86 `x` implies `r`, the kernel refuses x without r)."""
    return {va: (pa, attrs | {"r"}) for va, _size, pa, attrs in present}


def compare_x86_lines(expected, live, label):
    diffs = []
    for va in sorted(set(expected) | set(live)):
        e, g = expected.get(va), live.get(va)
        if e == g:
            continue
        fe = "pa 0x%016x %s" % (e[0], fmt_attrs(e[1])) if e else "not present"
        fg = "pa 0x%016x %s" % (g[0], fmt_attrs(g[1])) if g else "not present"
        diffs.append("%s: va 0x%016x expected %s, live %s" % (label, va, fe, fg))
    return diffs


def x86_line_sizes(rows):
    """(va, size, pa, attrs) for x86 lines.  info tlb does not print sizes:
    no P -> 4K; P -> 1G when VA and PA are 1G-aligned and the next line lies
    at least 1G further, else 2M (a heuristic, used for the kernel half only)."""
    rows = sorted(rows)
    out = []
    for i, (va, pa, flags) in enumerate(rows):
        size = K4
        if flags[2] == "P":
            nxt = rows[i + 1][0] if i + 1 < len(rows) else None
            if va % G1 == 0 and pa % G1 == 0 and (nxt is None or nxt - va >= G1):
                size = G1
            else:
                size = M2
        out.append((va, size, pa, x86_attrs(flags)))
    return out


# ---------------------------------------------------------------- live view, both arches

def live_ranges(arch, text):
    """The live translation as merged (va, size, pa, attrs) ranges (whole space)."""
    if arch == "riscv64":
        return merge_ranges(parse_info_mem_riscv(text))
    return merge_ranges(x86_line_sizes(parse_info_tlb_x86(text)))


def compare_user(arch, text, present, absent):
    """Differences in the user half between the expected leaves and QEMU's view."""
    diffs = []
    if arch == "riscv64":
        live = [r for r in merge_ranges(parse_info_mem_riscv(text)) if r[0] < USER_TOP]
        diffs += compare_ranges(merge_ranges(present), live, "user")
        covered = live
    else:
        rows = [r for r in parse_info_tlb_x86(text) if r[0] < USER_TOP]
        live = {va: (pa, x86_attrs(fl)) for va, pa, fl in rows}
        diffs += compare_x86_lines(x86_expected_lines(present), live, "user")
        covered = x86_line_sizes(rows)
    # No-access leaves must be not present to the hardware.
    for va, size in absent:
        for r in covered:
            if r[0] < va + size and va < r[0] + r[1]:
                diffs.append("user: no-access leaf va 0x%016x size 0x%x is present live: %s"
                             % (va, size, fmt_range(r)))
    return diffs


def lookup(ranges, va):
    """The range containing va, or None (ranges sorted, disjoint)."""
    for r in ranges:
        if r[0] <= va < r[0] + r[1]:
            return r
    return None


def check_covered(ranges, lo, hi, want_pa, want_attrs, ignore, label):
    """Check [lo, hi) is covered by live ranges mapping va -> want_pa(va) with
    attrs == want_attrs (letters in `ignore` not compared).  Walks range by
    range, so a 2 GiB direct map costs a few rows, not 500k pages.  Reports
    at most the first few defects."""
    diffs = []
    va = lo
    while va < hi and len(diffs) < 8:
        r = lookup(ranges, va)
        if r is None:
            nxt = min((x[0] for x in ranges if x[0] > va), default=hi)
            diffs.append("%s: va 0x%016x..0x%016x not mapped" % (label, va, min(nxt, hi)))
            va = nxt
            continue
        rva, rsize, rpa, rattrs = r
        if rpa + (va - rva) != want_pa(va):
            diffs.append("%s: va 0x%016x maps pa 0x%016x, expected 0x%016x"
                         % (label, va, rpa + (va - rva), want_pa(va)))
        if rattrs - set(ignore) != want_attrs - set(ignore):
            diffs.append("%s: va 0x%016x..0x%016x is %s, expected %s"
                         % (label, max(va, rva), min(hi, rva + rsize),
                            fmt_attrs(rattrs), fmt_attrs(want_attrs)))
        va = rva + rsize
    return diffs


# ---------------------------------------------------------------- kernel half

def elf_sections(path):
    """Allocated sections of an ELF64 LE file as (name, addr, size, flags)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise OracleError("%s: not a little-endian ELF64 file" % path)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    heads = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = heads[shstrndx][4]

    def name(off):
        end = data.index(b"\0", stroff + off)
        return data[stroff + off:end].decode()

    SHF_ALLOC = 2
    return [(name(h[0]), h[3], h[5], h[2]) for h in heads if h[2] & SHF_ALLOC and h[5]]


def image_page_classes(sections):
    """Map each 4K page of the kernel image (VAs >= KIMAGE_BASE) to the
    permission its sections promise: text r-x, data/bss rw-, others r--.
    A page shared by sections of different classes is itself a W^X defect,
    returned in `clashes`."""
    SHF_WRITE, SHF_EXEC = 1, 4
    pages, clashes = {}, []
    for name, addr, size, flags in sections:
        if addr < KIMAGE_BASE:
            continue            # boot code linked low (PVH entry) is not the image
        want = frozenset("rx") if flags & SHF_EXEC else frozenset("rw") if flags & SHF_WRITE else frozenset("r")
        for page in range(addr & ~(K4 - 1), addr + size, K4):
            if pages.get(page, want) != want:
                clashes.append("image: page 0x%016x holds sections of different permissions (%s)"
                               % (page, name))
            pages[page] = want
    return pages, clashes


def check_image(live, sections):
    """W^X of the kernel image in the live view (supervisor only; g ignored)."""
    pages, diffs = image_page_classes(sections)
    if not pages:
        return ["image: kernel.elf has no allocated sections at 0x%016x+" % KIMAGE_BASE]
    for page in sorted(pages):
        r = lookup(live, page)
        if r is None:
            diffs.append("image: page 0x%016x not mapped" % page)
        elif r[3] - {"g"} != pages[page]:
            diffs.append("image: page 0x%016x is %s, promised %s"
                         % (page, fmt_attrs(r[3]), fmt_attrs(pages[page])))
        if len(diffs) >= 16:
            diffs.append("image: (further defects not listed)")
            break
    return diffs


def ram_ranges_from_log(serial):
    """RAM ranges the kernel printed, if any line reads like `ram 0xBASE 0xSIZE`
    or `RAM 0xBASE-0xEND`; an empty list otherwise."""
    out = []
    for line in serial.splitlines():
        m = re.match(r"\s*ram\b[^0-9]*0x([0-9a-f]+)\s*(-|\.\.|\+|size|\s)\s*0x([0-9a-f]+)", line, re.I)
        if m:
            a, b = int(m.group(1), 16), int(m.group(3), 16)
            out.append((a, b - a) if m.group(2) in ("-", "..") else (a, b))
    return out


def check_direct_map(live, ram):
    """Every RAM byte is mapped at DIRECT_MAP_BASE + PA, rw, not x, not u."""
    diffs = []
    for base, size in ram:
        diffs += check_covered(live, DIRECT_MAP_BASE + base, DIRECT_MAP_BASE + base + size,
                               lambda va: va - DIRECT_MAP_BASE, frozenset("rw"), "g",
                               "direct map")
    return diffs


def default_ram(arch, mem_bytes):
    """RAM as the machine lays it out for -m: riscv virt from 0x80000000;
    x86 from 1 MiB (the legacy hole below is not RAM in the PVH memory map)
    up to min(-m, 3 GiB)."""
    if arch == "riscv64":
        return [(RAM_BASE[arch], mem_bytes)]
    return [(0x100000, min(mem_bytes, 3 * G1) - 0x100000)]


# ---------------------------------------------------------------- QEMU

def qemu_command(arch, kernel, append, serial_path, qmp_path, mem, extra):
    """The QEMU command line (own builder; see docs/ORACLE.md)."""
    common = ["-m", mem, "-display", "none", "-no-reboot", "-serial", "file:" + serial_path,
              "-qmp", "unix:%s,server=on,wait=off" % qmp_path, "-kernel", kernel, "-append", append]
    if arch == "riscv64":
        return ["qemu-system-riscv64", "-machine", "virt", "-bios", "default"] + common + extra
    return ["qemu-system-x86_64", "-cpu", "max", "-nic", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4"] + common + extra


class Qmp:
    """Minimal QMP client over a unix socket: one command at a time."""

    def __init__(self, path, deadline):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(max(0.1, deadline - time.monotonic()))
        self.sock.connect(path)
        self.buf = b""
        self._read()                                    # greeting

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OracleError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, cmd, args=None):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise OracleError("QMP %s: %s" % (cmd, reply["error"]))
            # anything else is an asynchronous event: skip it

    def close(self):
        self.sock.close()


def run_qemu(arch, kernel, cmds, mem, timeout, extra):
    """Boot, wait for READY, fetch the monitor view; always stop QEMU.
    Returns (serial text, monitor text)."""
    tmp = tempfile.mkdtemp(prefix="oracle-")
    serial_path, qmp_path = os.path.join(tmp, "serial.log"), os.path.join(tmp, "qmp.sock")
    argv = qemu_command(arch, kernel, "script=" + ";".join(cmds), serial_path, qmp_path, mem, extra)
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    qmp = None
    try:
        serial = ""
        while True:
            if os.path.exists(serial_path):
                with open(serial_path, "rb") as f:
                    serial = f.read().decode("utf-8", "replace")
                if re.search(r"^READY\r?$", serial, re.M):
                    break
            if proc.poll() is not None:
                out = proc.stdout.read().decode("utf-8", "replace")
                raise OracleError("QEMU exited (status %d) before READY\n%s\n--- serial ---\n%s"
                                  % (proc.returncode, out, serial[-3000:]))
            if time.monotonic() > deadline:
                raise OracleError("timeout (%ds) waiting for READY\n--- serial ---\n%s"
                                  % (timeout, serial[-3000:]))
            time.sleep(0.02)
        qmp = Qmp(qmp_path, deadline)
        qmp.execute("qmp_capabilities")
        monitor = qmp.execute("human-monitor-command",
                              {"command-line": "info mem" if arch == "riscv64" else "info tlb"})
        try:
            qmp.execute("quit")
        except (OracleError, OSError):
            pass                                        # QEMU may close before replying
        return serial, monitor
    finally:
        if qmp:
            qmp.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        for p in (serial_path, qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(tmp)


# ---------------------------------------------------------------- main

def parse_mem(text):
    m = re.fullmatch(r"(\d+)([MG])", text)
    if not m:
        raise SystemExit("--mem must look like 2G or 512M")
    return int(m.group(1)) << (30 if m.group(2) == "G" else 20)


def compare_all(arch, cmds, serial, monitor, sections, mem_bytes, allow_errors):
    """Every difference between the kernel's promises and the live view."""
    base, outputs, leaves = parse_kernel_output(serial)
    diffs = []
    if not allow_errors:
        diffs += ["kernel: command answered %r" % l for l in outputs
                  if l.startswith("error") or l.startswith("violation")]
    present, absent = expected_user_view(leaves, base, mmio_ranges(cmds, outputs))
    diffs += compare_user(arch, monitor, present, absent)
    if sections is None:
        return base, leaves, diffs
    live = live_ranges(arch, monitor)
    diffs += check_image(live, sections)
    ram = ram_ranges_from_log(serial) or default_ram(arch, mem_bytes)
    diffs += check_direct_map(live, ram)
    return base, leaves, diffs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", required=True, choices=["riscv64", "x86_64"])
    ap.add_argument("--kernel", required=True, help="kernel.elf")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--script", help="commands separated by ';'")
    src.add_argument("--script-file", help="a ptsim script file")
    ap.add_argument("--mem", default="2G", help="QEMU -m (default 2G)")
    ap.add_argument("--timeout", type=int, default=30, help="seconds until QEMU is stopped")
    ap.add_argument("--allow-errors", action="store_true",
                    help="do not fail when a script command answers error")
    ap.add_argument("--no-kernel-half", action="store_true", help="skip image and direct-map checks")
    ap.add_argument("--qemu-arg", action="append", default=[], help="extra QEMU argument")
    ap.add_argument("-v", "--verbose", action="store_true", help="print kernel output and monitor view")
    args = ap.parse_args(argv)

    text = args.script
    if args.script_file:
        with open(args.script_file) as f:
            text = f.read()
    cmds = script_commands(text)
    mem_bytes = parse_mem(args.mem)
    try:
        sections = None if args.no_kernel_half else elf_sections(args.kernel)
        serial, monitor = run_qemu(args.arch, args.kernel, cmds, args.mem, args.timeout, args.qemu_arg)
        if args.verbose:
            print(serial)
            print(monitor)
        base, leaves, diffs = compare_all(args.arch, cmds, serial, monitor, sections, mem_bytes,
                                          args.allow_errors)
    except (OracleError, OSError) as e:
        print("oracle: error: %s" % e, file=sys.stderr)
        return 2
    for d in diffs:
        print(d)
    if diffs:
        print("oracle: %s: %d difference(s)" % (args.arch, len(diffs)))
        return 1
    print("oracle: %s: live page tables agree: %d user leaves (sandbox 0x%x)%s"
          % (args.arch, len(leaves), base, "" if args.no_kernel_half else ", kernel half ok"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
