#!/usr/bin/env python3
"""oracle.py - hold the kernel's live page tables against QEMU's own page walker.

Boots a kernel (riscv64 or x86_64) with `script=CMDS`, waits for READY, asks
QEMU over QMP for the live translation and compares it with the view the
kernel printed (its final `dump`, PAs shifted by the printed sandbox base).
riscv64: `info mem`, plus leaf sizes from a walk of the user half read with
`xp` from satp (checked against `info mem`).  x86_64: `info tlb` (leaves),
`info mem` (U/W combined over all levels), `gva2gpa` probes (2M or 1G) and
the upper-level entries read with `xp` from CR3 (NX combined over all
levels).  Also checks the kernel half: W^X of the kernel image's sections
(from the ELF section headers) and the direct map over RAM.  Prints every
difference; exit status 0 only when all agree.

Python 3 standard library only.  See docs/ORACLE.md.
"""

import argparse
import bisect
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

# The paging mode's geometry: set by configure_mode() from the kernel's
# `layout:` boot line (48-bit values until then).
VA_BITS = 48
USER_TOP = 1 << 47                      # the lower canonical half
DIRECT_MAP_BASE = 0xffff800000000000
CANON = (1 << 48) - 1                    # x86 info mem works on uncanonical VAs
KIMAGE_BASE = 0xffffffff80000000
K4, M2, G1 = 1 << 12, 1 << 21, 1 << 30
SIZE_WORDS = {"4K": K4, "2M": M2, "1G": G1, "512G": 1 << 39, "256T": 1 << 48}
SIZE_NAMES = {v: k for k, v in SIZE_WORDS.items()}
RV_PA_MASK = (1 << 56) - 1               # riscv PAs are 56 bits
RAM_BASE = {"riscv64": 0x80000000, "x86_64": 0}

LEAF_RE = re.compile(r"^0x([0-9a-f]{16}) (4K|2M|1G|512G|256T) 0x([0-9a-f]{16}) ([rwxug-]{5}):(wb|wt|uc|wc)$")
SANDBOX_RE = re.compile(r"SANDBOX 0x([0-9a-fA-F]+) (\S+)")
RV_ROW_RE = re.compile(r"^([0-9a-f]{16}) ([0-9a-f]+) ([0-9a-f]{16}) ([r-][w-][x-][u-][g-][a-][d-])$")
X86_ROW_RE = re.compile(r"^([0-9a-f]{16}): ([0-9a-f]{16}) ([X-][G-][P-][D-][A-][C-][T-][U-][W-])$")
X86_MEM_RE = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16}) ([0-9a-f]{16}) ([u-])r([w-])$")
XP_RE = re.compile(r"^([0-9a-f]+): ((?:0x[0-9a-f]+ ?)+)$")
LAYOUT_RE = re.compile(r"^layout: (\S+) direct 0x([0-9a-f]+) ")
MODE_VA_BITS = {"sv39": 39, "sv48": 48, "sv57": 57, "x86_64": 48, "x86_64-la57": 57}
ARCH_MODES = {"riscv64": ("sv39", "sv48", "sv57"), "x86_64": ("x86_64", "x86_64-la57")}


def configure_mode(mode, direct_map=None):
    """Set the geometry globals for paging mode `mode`: the user half's top,
    the x86 info mem VA mask, and the direct map's base (the kernel's own
    figure when given, else the base of the kernel half, as docs/BOOT.md
    lays it out)."""
    global VA_BITS, USER_TOP, DIRECT_MAP_BASE, CANON
    VA_BITS = MODE_VA_BITS[mode]
    USER_TOP = 1 << (VA_BITS - 1)
    CANON = (1 << VA_BITS) - 1
    DIRECT_MAP_BASE = direct_map if direct_map is not None else (1 << 64) - USER_TOP


def mode_from_log(serial):
    """(mode, direct map base) from the kernel's `layout:` line, or None."""
    for line in serial.splitlines():
        m = LAYOUT_RE.match(line.strip())
        if m and m.group(1) in MODE_VA_BITS:
            return m.group(1), int(m.group(2), 16)
    return None


class OracleError(Exception):
    """A failure to obtain the views (boot, QMP, parse), as opposed to a difference."""


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived: unwind (stopping QEMU), then die of it."""

    def __init__(self, signum):
        super().__init__("signal %d" % signum)
        self.signum = signum


def size_name(size):
    return SIZE_NAMES.get(size, "0x%x" % size)


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
    outputs: every line between SANDBOX and READY; leaves: the LEAF lines
    directly before the last `end` (empty when there is none; compare_all
    takes the expected view from the answer of the final dump instead, see
    pair_answers).  Raises OracleError when a marker is missing."""
    lines = [l.strip("\r ") for l in serial.split("\n")]
    start = next((i for i, l in enumerate(lines) if SANDBOX_RE.search(l)), None)
    if start is None:
        raise OracleError("no SANDBOX line in the kernel output")
    base = int(SANDBOX_RE.search(lines[start]).group(1), 16)
    ready = next((i for i in range(start, len(lines)) if lines[i] == "READY"), None)
    if ready is None:
        raise OracleError("no READY line after SANDBOX")
    outputs = lines[start + 1:ready]
    end = max((i for i, l in enumerate(outputs) if l == "end"), default=None)
    leaves = parse_leaves(outputs[:end]) if end is not None else []
    return base, outputs, leaves


def parse_leaves(lines):
    """The LEAF lines at the end of `lines` as (va, size, pa_offset, prop5, cache)."""
    leaves = []
    i = len(lines) - 1
    while i >= 0 and LEAF_RE.match(lines[i]):
        m = LEAF_RE.match(lines[i])
        leaves.append((int(m.group(1), 16), SIZE_WORDS[m.group(2)], int(m.group(3), 16),
                       m.group(4), m.group(5)))
        i -= 1
    leaves.reverse()
    return leaves


# The one-line answers each command may give (docs/SCRIPT.md).  `syntax` is never
# a valid answer: the kernel stops the script there.
LEAF_OR_NONE = LEAF_RE.pattern[1:-1] + r"|none"
ANSWER_RE = {
    "map": r"ok", "mmio": r"ok", "unmap": r"ok 0x[0-9a-f]+", "protect": r"ok 0x[0-9a-f]+",
    "query": LEAF_OR_NONE, "find": LEAF_OR_NONE, "check": r"ok|violation: .*",
    "stats": r"nodes=\d+ mapped=0x[0-9a-f]+ frames=\d+",
}


def pair_answers(cmds, outputs):
    """Pair each command with its answer lines: one line per command, a
    dump's LEAF lines plus `end`.  Returns (answers, problems): answers[i]
    is the list of lines of cmds[i], None when it got none (or an
    incomplete dump); problems are text lines for answers no command can
    give (`syntax ...`, unknown lines, missing answers, extra output).
    `error` and `violation` answers are valid here (see compare_all)."""
    answers, problems, i = [], [], 0

    def bad(n, cmd, line):
        problems.append("kernel: command %d `%s` answered %r" % (n + 1, cmd, line))

    for n, cmd in enumerate(cmds):
        word = cmd.split()[0]
        if i >= len(outputs):
            problems.append("kernel: command %d `%s` got no answer" % (n + 1, cmd))
            answers.append(None)
            continue
        if word == "dump":
            lines = []
            while i < len(outputs) and LEAF_RE.match(outputs[i]):
                lines.append(outputs[i])
                i += 1
            if i < len(outputs) and outputs[i] == "end":
                answers.append(lines + ["end"])
                i += 1
            else:
                bad(n, cmd, outputs[i] if i < len(outputs) else "(output ends)")
                answers.append(None)
                i += 1
            continue
        line = outputs[i]
        i += 1
        pat = ANSWER_RE.get(word)
        if line.startswith("error ") or line.startswith("violation: ") or \
                (pat and re.fullmatch(pat, line)):
            answers.append([line])
        else:
            bad(n, cmd, line)
            answers.append(None)
    problems += ["kernel: output after the last command: %r" % l for l in outputs[i:]]
    return answers, problems


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
    answers, _problems = pair_answers(cmds, outputs)
    ranges = []
    for cmd, answer in zip(cmds, answers):
        words = cmd.split()
        if words[0] not in ("map", "mmio") or not answer or not answer[0].startswith("ok"):
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
    leaves (no r, w or x: `-----`, and `---u-` / `----g` alike, since u and
    g grant nothing by themselves) which the hardware must see as not
    present.  PAs are sandbox offsets except for leaves inside the
    `absolute` (mmio) VA ranges."""
    present, absent = [], []
    for va, size, pa, prop, _cache in leaves:
        if prop[:3] == "---":
            absent.append((va, size))
            continue
        shift = 0 if any(a <= va < b for a, b in absolute) else base
        present.append((va, size, pa + shift, frozenset(prop.replace("-", ""))))
    return present, absent


# ---------------------------------------------------------------- test-only perturbations

def perturb_expected(present, specs):
    """--test-perturb: change the expected view before comparing, so a test
    can prove the comparison fails against live QEMU.  SPEC is
    `perm:VA:LETTER` (flip one of r w x u g), `pa:VA:DELTA` (add DELTA,
    may be negative) or `size:VA:SIZE` (4K/2M/1G/512G/256T), applied to the
    present expected leaf that starts at VA."""
    present = list(present)
    for spec in specs:
        parts = spec.split(":")
        if len(parts) != 3 or parts[0] not in ("perm", "pa", "size"):
            raise OracleError("--test-perturb %r: want perm:VA:L, pa:VA:DELTA or size:VA:SIZE" % spec)
        kind, va = parts[0], int(parts[1], 0)
        idx = next((i for i, l in enumerate(present) if l[0] == va), None)
        if idx is None:
            raise OracleError("--test-perturb %r: no present expected leaf at va 0x%x" % (spec, va))
        lva, size, pa, attrs = present[idx]
        if kind == "perm":
            if parts[2] not in list("rwxug"):
                raise OracleError("--test-perturb %r: the letter is one of r w x u g" % spec)
            attrs = attrs ^ {parts[2]}
        elif kind == "pa":
            pa += int(parts[2], 0)
        else:
            if parts[2] not in SIZE_WORDS:
                raise OracleError("--test-perturb %r: size is one of 4K 2M 1G 512G 256T" % spec)
            size = SIZE_WORDS[parts[2]]
        present[idx] = (lva, size, pa, frozenset(attrs))
    return present


# ---------------------------------------------------------------- riscv info mem

def parse_info_mem_riscv(text):
    """Rows of riscv `info mem` as (va, size, pa, attr letters without a/d),
    pa cut to 56 bits.  Guarantees: header/separator lines skipped; any
    other unparsable line raises."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("vaddr") or set(line) <= set("- "):
            continue
        m = RV_ROW_RE.match(line)
        if not m:
            raise OracleError("unparsable info mem line: %r" % line)
        attrs = frozenset(c for c in m.group(4) if c in "rwxug")   # mask A/D
        # QEMU 7.2 prints (pte >> 10) << 12 unmasked: Svpbmt's PBMT bits land
        # above PA bit 55 (NC shows as bit 63).  They are not address bits.
        pa = int(m.group(2), 16) & RV_PA_MASK
        rows.append((int(m.group(1), 16), int(m.group(3), 16), pa, attrs))
    return rows


def merge_ranges(rows):
    """Merge (va, size, pa, attrs, ...) rows the way QEMU's riscv `info mem`
    does: adjacent when VA and PA are both contiguous and attrs are equal.
    Applied to both views after masking A/D, so rows QEMU kept apart only
    because of A/D bits merge again (the canonical form).  Returns
    4-tuples (extra fields dropped)."""
    out = []
    for va, size, pa, attrs in sorted(r[:4] for r in rows):
        if out:
            pva, psize, ppa, pattrs = out[-1]
            if pva + psize == va and ppa + psize == pa and pattrs == attrs:
                out[-1] = (pva, psize + size, ppa, pattrs)
                continue
        out.append((va, size, pa, attrs))
    return out


def fmt_range(r):
    va, size, pa, attrs = r[:4]
    return "va 0x%016x..0x%016x pa 0x%016x %s" % (va, va + size, pa, fmt_attrs(attrs))


def fmt_attrs(attrs):
    return "".join(c if c in attrs else "-" for c in "rwxug")


def compare_ranges(expected, live, label):
    """Differences between two merged range lists (as text lines)."""
    exp, got = set(expected), set(live)
    diffs = ["%s: expected but not live: %s" % (label, fmt_range(r)) for r in sorted(exp - got)]
    diffs += ["%s: live but not expected: %s" % (label, fmt_range(r)) for r in sorted(got - exp)]
    return diffs


# ---------------------------------------------------------------- page tables read with xp

def parse_xp(text, pa, count):
    """`xp /COUNTgx PA` output as a list of COUNT integers; raises on any
    other text (wrong address, short output)."""
    vals, addr = [], pa
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = XP_RE.match(line)
        if not m or int(m.group(1), 16) != addr:
            raise OracleError("unexpected xp output at 0x%x: %r" % (addr, line))
        words = [int(w, 16) for w in m.group(2).split()]
        vals += words
        addr += 8 * len(words)
    if len(vals) != count:
        raise OracleError("xp at 0x%x gave %d entries, wanted %d" % (pa, len(vals), count))
    return vals


class Tables:
    """Page-table pages read from guest physical memory with `xp /512gx`
    (QEMU's own view of RAM), cached by physical address."""

    def __init__(self, hmp):
        self.hmp, self.cache = hmp, {}

    def __call__(self, pa):
        if pa not in self.cache:
            self.cache[pa] = parse_xp(self.hmp("xp /512gx 0x%x" % pa), pa, 512)
        return self.cache[pa]


def register(text, name):
    """A register's hex value from `info registers` (x86 `CR3=...`, riscv ` satp  ...`)."""
    m = re.search(r"(?:^|\s)%s\s*=?\s*([0-9a-f]+)\b" % re.escape(name), text, re.M)
    if not m:
        raise OracleError("info registers: no %s" % name)
    return int(m.group(1), 16)


# ---------------------------------------------------------------- riscv live view

RV_LEVELS = {8: 3, 9: 4, 10: 5}          # satp.MODE -> levels (Sv39, Sv48, Sv57)
RV_PPN_MASK = (1 << 44) - 1


def riscv_walk_user(tables, root, levels):
    """Every leaf of the lower half (root entries 0..255) as (va, size, pa,
    rwxug letters), walking from the root the way QEMU's `info mem` does:
    V clear -> skipped; R, W or X set -> leaf; else a pointer (one at the
    last level is not a translation and skipped).  A/D not kept."""
    leaves = []

    def walk(pa, level, va_base, limit):
        span = 1 << (12 + 9 * level)
        for i, e in enumerate(tables(pa)[:limit]):
            if not e & 1:
                continue
            va, child = va_base + i * span, ((e >> 10) & RV_PPN_MASK) << 12
            if e & 0xe:
                leaves.append((va, span, child, frozenset(c for c, b in zip("rwxug", (1, 2, 3, 4, 5))
                                                          if e >> b & 1)))
            elif level > 0:
                walk(child, level - 1, va, 512)

    walk(root, levels - 1, 0, 256)
    return leaves


class LiveView:
    """QEMU's view of the live tables.  leaves: (va, size, pa, attrs, own)
    with the attributes in force (own = the leaf entry's own bits, x86;
    None on riscv) - on riscv only the user half (the walk), on x86 every
    leaf; ranges: all translations merged (merge_ranges); problems: text
    lines for defects seen while reading (x86 EFER.NXE clear)."""

    def __init__(self, leaves, ranges, problems=()):
        self.leaves, self.ranges, self.problems = leaves, ranges, list(problems)


def collect_riscv(hmp):
    """riscv64: `info mem` for VA/PA/permissions (rows merged), and the user
    half's leaf sizes from a walk of the tables read with `xp` from satp.
    The walk must reproduce `info mem` exactly after merging, or the view
    counts as not obtained (OracleError)."""
    rows = parse_info_mem_riscv(hmp("info mem"))
    satp = register(hmp("info registers"), "satp")
    levels = RV_LEVELS.get(satp >> 60)
    if levels is None:
        raise OracleError("satp 0x%x: paging off or a mode this tool does not walk" % satp)
    if 12 + 9 * levels != VA_BITS:
        raise OracleError("satp 0x%x: %d levels, but the kernel's layout line says %d-bit VAs"
                          % (satp, levels, VA_BITS))
    leaves = riscv_walk_user(Tables(hmp), (satp & RV_PPN_MASK) << 12, levels)
    top = 1 << (12 + 9 * levels - 1)
    walked, shown = merge_ranges(leaves), merge_ranges([r for r in rows if r[0] < top])
    if walked != shown:
        bad = sorted(set(walked) ^ set(shown))[0]
        raise OracleError("the walk from satp disagrees with info mem in the user half (%s %s)"
                          % ("walk" if bad in walked else "info mem", fmt_range(bad)))
    return LiveView([l + (None,) for l in leaves], merge_ranges(rows))


# ---------------------------------------------------------------- x86 live view

X86_ADDR = 0x3fffffffff000              # the PA bits QEMU's walkers take from an entry
X86_P, X86_W, X86_U, X86_PS, X86_NX = 1, 1 << 1, 1 << 2, 1 << 7, 1 << 63


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


def parse_info_mem_x86(text):
    """x86 `info mem` as sorted (start, size, u, w) over 48- or 57-bit VAs
    (VA_BITS).  QEMU merges by protection only and prints the U and W bits
    ANDed over all levels.  The printed end of the last range can wrap
    (1 << VA_BITS is not canonicalised), so start + size is used."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = X86_MEM_RE.match(line)
        if not m:
            raise OracleError("unparsable info mem line: %r" % line)
        out.append((int(m.group(1), 16) & CANON, int(m.group(3), 16), m.group(4) == "u",
                    m.group(5) == "w"))
    return sorted(out)


def x86_attrs(flags):
    """rwxug of one info tlb line (the leaf entry's own bits).  Present
    implies r; x = no NX.  D, A, P, C, T are ignored: A/D are set by the CPU;
    QEMU prints P only for 2M/1G leaves (bit 7 of a 4K entry, PAT, is
    masked off) and the size is found by x86_leaf_sizes."""
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


def x86_leaf_sizes(rows, hmp):
    """Leaf size of each info tlb line, decided by QEMU: no P -> 4K.  P ->
    2M unless VA and PA are 1G-aligned and no line starts at VA+2M; then
    `gva2gpa VA+2M` decides: Unmapped -> 2M (nothing follows the leaf),
    PA+2M -> 1G (VA+2M lies inside it).  Any other answer raises."""
    starts = {va for va, _pa, _fl in rows}
    sizes = []
    for va, pa, flags in rows:
        if flags[2] != "P":
            sizes.append(K4)
        elif va % G1 or pa % G1 or (va + M2) in starts:
            sizes.append(M2)
        else:
            answer = hmp("gva2gpa 0x%x" % (va + M2)).strip()
            m = re.fullmatch(r"gpa: 0x([0-9a-f]+)", answer)
            if answer == "Unmapped":
                sizes.append(M2)
            elif m and int(m.group(1), 16) == pa + M2:
                sizes.append(G1)
            else:
                raise OracleError("gva2gpa 0x%x: %r; info tlb has a large leaf at 0x%x -> 0x%x"
                                  % (va + M2, answer, va, pa))
    return sizes


def x86_upper_entries(tables, cr3, va, size, pa):
    """The entries above the leaf of `size` at `va` (PML5E or PML4E first),
    read with xp from CR3.  The walk must agree with info tlb and the probed
    size (present entries, PS exactly at the leaf level, the leaf's PA), or
    it raises: then one of the two readings is wrong."""
    path, table = [], cr3 & X86_ADDR
    shifts = (48, 39, 30, 21) if VA_BITS == 57 else (39, 30, 21)
    for shift in shifts:
        e = tables(table)[(va >> shift) & 511]
        leaf_here = (1 << shift) == size          # never at the PML4/PML5 (no 512G on x86)
        if not e & X86_P or bool(e & X86_PS) != leaf_here:
            raise OracleError("the walk from CR3 0x%x disagrees with info tlb at va 0x%x "
                              "(size %s, entry 0x%x at level shift %d)"
                              % (cr3, va, size_name(size), e, shift))
        if leaf_here:
            if e & X86_ADDR & ~(size - 1) != pa:
                raise OracleError("the walk from CR3 finds pa 0x%x for va 0x%x, info tlb 0x%x"
                                  % (e & X86_ADDR & ~(size - 1), va, pa))
            return path
        path.append(e)
        table = e & X86_ADDR
    return path                          # 4K: (PML5E,) PML4E, PDPTE, PDE


def x86_effective_uw(mem, va, size):
    """Effective (u, w) of the leaf [va, va+size) from info mem's ranges;
    raises when info mem does not cover it with one protection."""
    raw = va & CANON
    i = bisect.bisect_right(mem, (raw, 1 << 64)) - 1
    if i < 0 or not mem[i][0] <= raw < raw + size <= mem[i][0] + mem[i][1]:
        raise OracleError("info mem does not cover the leaf at va 0x%x (%s) that info tlb shows"
                          % (va, size_name(size)))
    return mem[i][2], mem[i][3]


def x86_walk_uw(own, path):
    """Effective (u, w) of a leaf from its own bits and the entries above it
    (what QEMU's info mem computes on 4-level paging: U and W ANDed over
    every level)."""
    return ("u" in own and all(e & X86_U for e in path),
            "w" in own and all(e & X86_W for e in path))


def collect_x86(hmp):
    """x86_64: the leaves from `info tlb`, sized with gva2gpa probes; U and W
    in force from `info mem` (ANDed over the levels by QEMU); NX in force =
    the leaf's X or NX in any entry above it (read with xp from CR3), and
    only when EFER.NXE is set."""
    rows = parse_info_tlb_x86(hmp("info tlb"))
    # QEMU 7.2's info mem prints nothing under LA57: there the AND of U and W
    # over the levels is taken from the xp-read walk instead (x86_walk_uw).
    mem = parse_info_mem_x86(hmp("info mem")) if VA_BITS == 48 else None
    regs = hmp("info registers")
    cr3, cr4, efer = register(regs, "CR3"), register(regs, "CR4"), register(regs, "EFER")
    if bool(cr4 & (1 << 12)) != (VA_BITS == 57):
        raise OracleError("CR4.LA57 is %d, but the kernel's layout line says %d-bit VAs"
                          % (bool(cr4 & (1 << 12)), VA_BITS))
    nxe = bool(efer & (1 << 11))
    tables = Tables(hmp)
    leaves = []
    for (va, pa, flags), size in zip(rows, x86_leaf_sizes(rows, hmp)):
        own = x86_attrs(flags)
        path = x86_upper_entries(tables, cr3, va, size, pa)
        upper_nx = any(e & X86_NX for e in path)
        if mem is not None:
            u, w = x86_effective_uw(mem, va, size)
        else:
            u, w = x86_walk_uw(own, path)
        attrs = {"r"} | (own & {"g"})
        if not nxe or ("x" in own and not upper_nx):
            attrs.add("x")
        if u:
            attrs.add("u")
        if w:
            attrs.add("w")
        leaves.append((va, size, pa, frozenset(attrs), own))
    problems = [] if nxe else ["x86: EFER.NXE is clear: every page is executable"]
    return LiveView(sorted(leaves), merge_ranges(leaves), problems)


def collect_live(arch, hmp):
    """The live view through `hmp` (a function: monitor command -> text)."""
    return collect_riscv(hmp) if arch == "riscv64" else collect_x86(hmp)


# ---------------------------------------------------------------- comparisons

def containing(leaves, va):
    """The leaf of a sorted, disjoint list that contains va, or None."""
    i = bisect.bisect_right(leaves, (va, 1 << 64)) - 1
    if i >= 0 and leaves[i][0] <= va < leaves[i][0] + leaves[i][1]:
        return leaves[i]
    return None


def fmt_leaf(l, sizes_only):
    if sizes_only:
        return "%s leaf" % size_name(l[1])
    text = "%s pa 0x%016x %s" % (size_name(l[1]), l[2], fmt_attrs(l[3]))
    if len(l) > 4 and l[4] is not None and l[4] != l[3]:
        text += " (the leaf entry says %s: an upper level differs)" % fmt_attrs(l[4])
    return text


def compare_leaves(expected, live, label, sizes_only=False):
    """Leaf-by-leaf differences: the same leaves must start at the same VAs
    with the same size (and, unless sizes_only, PA and attributes).  A leaf
    with no counterpart at its VA is reported once with what covers it on
    the other side; further leaves inside an already reported leaf are
    folded into its line as a count.  sizes_only (riscv, where PA and
    permissions are compared on info mem's ranges) skips VAs the other side
    does not map at all."""
    exp = sorted(l[:4] for l in expected)
    got = sorted(live)
    by_e, by_g = {l[0]: l for l in exp}, {l[0]: l for l in got}
    fields = (lambda l: l[1]) if sizes_only else (lambda l: l[1:4])
    diffs, line_of, folded = [], {}, {}
    for va in sorted(set(by_e) | set(by_g)):
        e, g = by_e.get(va), by_g.get(va)
        if e and g:
            if fields(e) == fields(g):
                continue
            text = "expected %s, live %s" % (fmt_leaf(e, sizes_only), fmt_leaf(g, sizes_only))
        else:
            mine, others = (e, got) if e else (g, exp)
            cover = containing(others, va)
            if cover is not None and cover[0] in line_of:
                folded[cover[0]] = folded.get(cover[0], 0) + 1
                continue
            if cover is None and sizes_only:
                continue
            there = "not present" if cover is None else \
                "inside the %s at va 0x%016x" % (fmt_leaf(cover, sizes_only), cover[0])
            text = ("expected %s, live %s" % (fmt_leaf(mine, sizes_only), there) if e else
                    "expected %s, live %s" % (there, fmt_leaf(mine, sizes_only)))
        line_of[va] = len(diffs)
        diffs.append("%s: va 0x%016x %s" % (label, va, text))
    for va, n in folded.items():
        diffs[line_of[va]] += " (and %d more leaves inside it)" % n
    return diffs


def compare_user(arch, live, present, absent):
    """Differences in the user half between the expected leaves and QEMU's view."""
    diffs = []
    user_leaves = [l for l in live.leaves if l[0] < USER_TOP]
    if arch == "riscv64":
        ranges = [r for r in live.ranges if r[0] < USER_TOP]
        diffs += compare_ranges(merge_ranges(present), ranges, "user")
        diffs += compare_leaves(present, user_leaves, "user", sizes_only=True)
    else:
        diffs += compare_leaves(present, user_leaves, "user")
    # No-access leaves must be not present to the hardware.
    for va, size in absent:
        for r in live.ranges:
            if r[0] < va + size and va < r[0] + r[1]:
                diffs.append("user: no-access leaf va 0x%016x size 0x%x is present live: %s"
                             % (va, size, fmt_range(r)))
    return diffs


def lookup(ranges, va):
    """The range containing va, or None (ranges sorted, disjoint)."""
    return containing(ranges, va)


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
        rva, rsize, rpa, rattrs = r[:4]
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


def direct_map_exceptions_from_log(serial):
    """The parts of RAM the kernel says its direct map treats otherwise
    (W^X per frame, docs/BOOT.md): lines `... direct map: 0xBASE 0xSIZE r-- ...`
    (the image's text and rodata, read-only there) and `... not mapped ...`
    (firmware memory; the script sandbox).  [(base, size, attrs or None)]."""
    out = []
    for line in serial.splitlines():
        m = re.search(r"direct map: 0x([0-9a-f]+) 0x([0-9a-f]+) (r--|not mapped)", line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16),
                        frozenset("r") if m.group(3) == "r--" else None))
    return out


def direct_map_segments(ram, exceptions):
    """RAM cut at the exceptions: [(lo, hi, attrs or None)], in PA order."""
    cuts = sorted(exceptions)
    segs = []
    for base, size in ram:
        lo, end = base, base + size
        for eb, es, attrs in cuts:
            ee = eb + es
            if ee <= lo or eb >= end:
                continue
            if eb > lo:
                segs.append((lo, eb, frozenset("rw")))
            segs.append((max(eb, lo), min(ee, end), attrs))
            lo = min(ee, end)
        if lo < end:
            segs.append((lo, end, frozenset("rw")))
    return segs


def check_direct_map(live, ram, exceptions=()):
    """Every RAM byte is mapped at DIRECT_MAP_BASE + PA, rw, not x, not u,
    except where the kernel's log says otherwise: r-- (the image) or not
    mapped at all (firmware, the sandbox in script mode)."""
    diffs = []
    for lo, hi, attrs in direct_map_segments(ram, exceptions):
        va_lo, va_hi = DIRECT_MAP_BASE + lo, DIRECT_MAP_BASE + hi
        if attrs is None:
            hits = [r for r in live if r[0] < va_hi and va_lo < r[0] + r[1]]
            if hits:
                diffs.append("direct map: va 0x%016x..0x%016x must not be mapped, "
                             "0x%016x is" % (va_lo, va_hi, max(hits[0][0], va_lo)))
            continue
        diffs += check_covered(live, va_lo, va_hi, lambda va: va - DIRECT_MAP_BASE, attrs, "g",
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

def sv57_dtb(mem, extra):
    """QEMU's riscv virt device tree with mmu-type riscv,sv57 (QEMU 7.2's says
    riscv,sv48, which caps the kernel at Sv48), from tools/qemu_run.py."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import qemu_run  # noqa: E402  (the one place that rewrites the device tree)
    return qemu_run.patched_dtb(["-m", mem] + list(extra), "sv57")


def qemu_command(arch, kernel, append, serial_path, qmp_path, mem, extra, paging=None):
    """The QEMU command line (own builder; see docs/ORACLE.md).  Sv57 boots
    with a device tree that allows it (sv57_dtb)."""
    common = ["-m", mem, "-display", "none", "-no-reboot", "-serial", "file:" + serial_path,
              "-qmp", "unix:%s,server=on,wait=off" % qmp_path, "-kernel", kernel, "-append", append]
    if arch == "riscv64":
        dtb = ["-dtb", sv57_dtb(mem, extra)] if paging == "sv57" else []
        return ["qemu-system-riscv64", "-machine", "virt", "-bios", "default"] + common + dtb + extra
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


class Gdb:
    """Minimal GDB remote-protocol client for QEMU's gdbstub (test-only
    live edits): physical-memory mode (`Qqemu.PhyMemMode:1`), then `M`
    writes.  Connecting stops the guest's vCPU, which is parked anyway;
    the stop replies QEMU sends for that are skipped."""

    def __init__(self, path, deadline):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(max(0.1, deadline - time.monotonic()))
        self.sock.connect(path)
        self.buf = b""
        if self.command("Qqemu.PhyMemMode:1") != "OK":
            raise OracleError("gdbstub: physical memory mode refused")

    def command(self, payload):
        data = payload.encode()
        self.sock.sendall(b"$%s#%02x" % (data, sum(data) & 0xff))
        while True:
            m = re.search(rb"\$([^#]*)#[0-9a-fA-F]{2}", self.buf)
            if m:
                self.buf = self.buf[m.end():]
                self.sock.sendall(b"+")
                reply = m.group(1).decode()
                if re.match(r"[TS][0-9a-fA-F]{2}", reply):
                    continue            # a stop reply (the vCPU stopped on connect)
                return reply
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OracleError("gdbstub connection closed")
            self.buf += chunk

    def write_phys(self, pa, data):
        for off in range(0, len(data), 512):
            part = data[off:off + 512]
            if self.command("M%x,%x:%s" % (pa + off, len(part), part.hex())) != "OK":
                raise OracleError("gdbstub: write at 0x%x refused" % (pa + off))

    def close(self):
        self.sock.close()


# Test-only live edits (x86): LEVEL:VA:OPS[*N], e.g. pml4:0x400000:-u,-w
LEVEL_SHIFT = {"pml5": 48, "pml4": 39, "pdpt": 30, "pd": 21, "pt": 12}
EDIT_BITS = {"p": X86_P, "w": X86_W, "u": X86_U, "nx": X86_NX}


def parse_live_edit(spec):
    """--test-live-edit LEVEL:VA:OPS[*N] -> (shift, va, [(set?, mask)], n)."""
    m = re.fullmatch(r"(pml5|pml4|pdpt|pd|pt):(0x[0-9a-fA-F]+|\d+):((?:[+-](?:p|w|u|nx),?)+)(?:\*(\d+))?",
                     spec)
    if not m:
        raise OracleError("--test-live-edit %r: want LEVEL:VA:OPS[*N], LEVEL pml5|pml4|pdpt|pd|pt, "
                          "OPS like -u,-w,+nx,-p" % spec)
    ops = [(op[0] == "+", EDIT_BITS[op[1:]]) for op in m.group(3).rstrip(",").split(",")]
    return LEVEL_SHIFT[m.group(1)], int(m.group(2), 0), ops, int(m.group(4) or 1)


def apply_live_edits(hmp, gdb, cr3, specs):
    """Change the live x86 tables: for each spec, walk from CR3 (xp) to the
    table holding VA's entry at LEVEL, change N consecutive entries, write
    them back through the gdbstub and read them back with xp."""
    for spec in specs:
        shift, va, ops, n = parse_live_edit(spec)
        tables, table = Tables(hmp), cr3 & X86_ADDR       # fresh: earlier edits show
        if shift == 48 and VA_BITS != 57:
            raise OracleError("--test-live-edit %r: no PML5 in 4-level paging" % spec)
        for s in ((48,) if VA_BITS == 57 else ()) + (39, 30, 21, 12):
            if s == shift:
                break
            e = tables(table)[(va >> s) & 511]
            if not e & X86_P or e & X86_PS:
                raise OracleError("--test-live-edit %r: no table below level shift %d" % (spec, s))
            table = e & X86_ADDR
        idx = (va >> shift) & 511
        if idx + n > 512:
            raise OracleError("--test-live-edit %r: the entries run past the table" % spec)
        new = []
        for e in tables(table)[idx:idx + n]:
            for on, mask in ops:
                e = e | mask if on else e & ~mask
            new.append(e)
        gdb.write_phys(table + 8 * idx, struct.pack("<%dQ" % n, *new))
        if Tables(hmp)(table)[idx:idx + n] != new:
            raise OracleError("--test-live-edit %r: the write did not take" % spec)


# Parent-death signal (Linux): QEMU is killed when the oracle dies, even by SIGKILL.
PR_SET_PDEATHSIG = 1
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
    _PRCTL = _LIBC.prctl
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent(parent):
    def fn():
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:                  # the parent died before prctl
            os._exit(1)
    return fn


def run_qemu(arch, kernel, cmds, mem, timeout, extra, live_edits=(), paging=None):
    """Boot (with `paging=MODE` first on the command line when `paging` is
    given), wait for READY, take the paging mode from the kernel's `layout:`
    line (configure_mode), collect the live view; always stop QEMU and
    remove the temporary directory.  Returns (serial text, LiveView,
    transcript of (monitor command, answer))."""
    tmp = tempfile.mkdtemp(prefix="oracle-")
    proc = qmp = gdb = None
    try:
        serial_path, qmp_path = os.path.join(tmp, "serial.log"), os.path.join(tmp, "qmp.sock")
        gdb_path = os.path.join(tmp, "gdb.sock")
        if live_edits:
            extra = extra + ["-gdb", "unix:%s,server=on,wait=off" % gdb_path]
        append = ("paging=%s " % paging if paging else "") + "script=" + ";".join(cmds)
        argv = qemu_command(arch, kernel, append, serial_path, qmp_path, mem, extra, paging)
        deadline = time.monotonic() + timeout
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent(os.getpid()))
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
        transcript = []

        def hmp(line):
            text = qmp.execute("human-monitor-command", {"command-line": line})
            transcript.append((line, text))
            return text

        layout = mode_from_log(serial)
        if layout is not None:
            if layout[0] not in ARCH_MODES[arch]:
                raise OracleError("the kernel runs in %s, not an %s mode" % (layout[0], arch))
            configure_mode(*layout)
        if paging is not None and (layout is None or layout[0] != paging):
            raise OracleError("--paging %s, but the kernel's layout line says %s"
                              % (paging, layout[0] if layout else "nothing"))
        if live_edits:
            if arch != "x86_64":
                raise OracleError("--test-live-edit is implemented for x86_64 only")
            gdb = Gdb(gdb_path, deadline)
            apply_live_edits(hmp, gdb, register(hmp("info registers"), "CR3"), live_edits)
        live = collect_live(arch, hmp)
        try:
            qmp.execute("quit")
        except (OracleError, OSError):
            pass                                        # QEMU may close before replying
        return serial, live, transcript
    finally:
        for sock in (gdb, qmp):
            if sock:
                sock.close()
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            proc.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- main

def parse_mem(text):
    m = re.fullmatch(r"(\d+)([MG])", text)
    if not m:
        raise SystemExit("--mem must look like 2G or 512M")
    return int(m.group(1)) << (30 if m.group(2) == "G" else 20)


def compare_all(arch, cmds, serial, live, sections, mem_bytes, allow_errors, perturb=()):
    """Every difference between the kernel's promises and the live view.
    Returns (sandbox base, final dump's leaves, differences)."""
    base, outputs, _last = parse_kernel_output(serial)
    answers, diffs = pair_answers(cmds, outputs)
    if not allow_errors:
        diffs += ["kernel: command %d `%s` answered %r" % (n + 1, cmd, a[0])
                  for n, (cmd, a) in enumerate(zip(cmds, answers))
                  if a and (a[0].startswith("error") or a[0].startswith("violation"))]
    diffs += live.problems
    final = answers[-1]
    if final is None:
        diffs.append("user: the final dump did not run: the user half is not compared")
        leaves = []
    else:
        leaves = parse_leaves(final[:-1])
        present, absent = expected_user_view(leaves, base, mmio_ranges(cmds, outputs))
        present = perturb_expected(present, perturb)
        diffs += compare_user(arch, live, present, absent)
    if sections is None:
        return base, leaves, diffs
    diffs += check_image(live.ranges, sections)
    ram = ram_ranges_from_log(serial) or default_ram(arch, mem_bytes)
    diffs += check_direct_map(live.ranges, ram, direct_map_exceptions_from_log(serial))
    return base, leaves, diffs


HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _on_signal(signum, _frame):
    for s in HANDLED_SIGNALS:                       # no second interruption of the clean-up
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", required=True, choices=["riscv64", "x86_64"])
    ap.add_argument("--kernel", required=True, help="kernel.elf")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--script", help="commands separated by ';'")
    src.add_argument("--script-file", help="a ptsim script file")
    ap.add_argument("--paging", choices=sorted(MODE_VA_BITS),
                    help="paging mode: paging=MODE on the kernel command line (default: the "
                         "kernel's own choice); the kernel must report it")
    ap.add_argument("--mem", default="2G", help="QEMU -m (default 2G)")
    ap.add_argument("--timeout", type=int, default=30, help="seconds until QEMU is stopped")
    ap.add_argument("--allow-errors", action="store_true",
                    help="do not fail when a script command answers error")
    ap.add_argument("--no-kernel-half", action="store_true", help="skip image and direct-map checks")
    ap.add_argument("--qemu-arg", action="append", default=[], help="extra QEMU argument")
    ap.add_argument("--test-perturb", action="append", default=[], metavar="SPEC",
                    help="TEST ONLY: change the expected view before comparing "
                         "(perm:VA:L, pa:VA:DELTA, size:VA:SIZE)")
    ap.add_argument("--test-live-edit", action="append", default=[], metavar="SPEC",
                    help="TEST ONLY (x86_64): change live page-table entries through QEMU's "
                         "gdbstub before reading them (LEVEL:VA:OPS[*N])")
    ap.add_argument("-v", "--verbose", action="store_true", help="print kernel output and monitor view")
    args = ap.parse_args(argv)

    text = args.script
    if args.script_file:
        with open(args.script_file) as f:
            text = f.read()
    cmds = script_commands(text)
    mem_bytes = parse_mem(args.mem)
    old = {s: signal.signal(s, _on_signal) for s in HANDLED_SIGNALS}
    try:
        sections = None if args.no_kernel_half else elf_sections(args.kernel)
        if args.paging is not None and args.paging not in ARCH_MODES[args.arch]:
            raise OracleError("--paging %s is not an %s mode" % (args.paging, args.arch))
        serial, live, transcript = run_qemu(args.arch, args.kernel, cmds, args.mem, args.timeout,
                                            args.qemu_arg, args.test_live_edit, args.paging)
        if args.verbose:
            print(serial)
            for line, answer in transcript:
                print("(qemu) %s\n%s" % (line, answer))
        base, leaves, diffs = compare_all(args.arch, cmds, serial, live, sections, mem_bytes,
                                          args.allow_errors, args.test_perturb)
    except (OracleError, OSError) as e:
        print("oracle: error: %s" % e, file=sys.stderr)
        return 2
    except Interrupted as e:
        # QEMU is stopped and the temporary directory gone (finally in
        # run_qemu): die of the signal, as without a handler.
        print("oracle: interrupted by signal %d" % e.signum, file=sys.stderr)
        sys.stderr.flush()
        signal.signal(e.signum, signal.SIG_DFL)
        os.kill(os.getpid(), e.signum)
        return 128 + e.signum
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    for d in diffs:
        print(d)
    if diffs:
        print("oracle: %s: %d difference(s)" % (args.arch, len(diffs)))
        return 1
    mode = mode_from_log(serial)
    print("oracle: %s%s: live page tables agree: %d user leaves (sandbox 0x%x)%s"
          % (args.arch, " " + mode[0] if mode else "", len(leaves), base,
             "" if args.no_kernel_half else ", kernel half ok"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
