"""ptdump: the live page tables of a QEMU guest as ptsim `dump` LEAF lines.

Load into gdb (gdb-multiarch for RISC-V) attached to QEMU's gdbstub:

    (gdb) source tools/gdb/ptdump.py
    (gdb) ptdump [user|kernel|all] [sandbox=BASE,SIZE]

It reads the root from CR3 (x86-64; 5 levels when CR4.LA57 is set, NX
honoured only when EFER.NXE is) or satp (RISC-V; MODE 8/9/10 = Sv39/48/57),
walks the tree in guest physical memory (QEMU's Qqemu.PhyMemMode), and
prints every leaf of the chosen half in ascending VA order, the same line
`dump` prints (docs/SCRIPT.md):

    0x%016x SIZE 0x%016x PROP        e.g. 0x0000000000400000 2M 0x0000000000000000 rw-u-:wb

then `end`.  The view is the mm's, not only the hardware's: an entry is
present when it is not zero, so a no-access leaf (hardware-invalid, with
the encoders' software marker) is printed as `-----` plus its u/g/cache
letters, as `dump` does; the software bits never show.  Cache policies are
decoded with the encoders' choice (x86 PAT index 0 wb, 1 wt, 3 uc, 4 wc;
Svpbmt 0 wb, 1 wc, 2 uc).  `sandbox=BASE,SIZE` prints PAs inside
[BASE, BASE+SIZE) as offsets from BASE, as the kernel's script= output does
for RAM (its `SANDBOX` line gives both numbers).
"""
import gdb

SIZE_NAMES = {1: "4K", 2: "2M", 3: "1G", 4: "512G", 5: "256T"}
CACHE_X86 = {0: "wb", 1: "wt", 3: "uc", 4: "wc"}  # PAT index (PAT:PCD:PWT)
CACHE_RV = {0: "wb", 1: "wc", 2: "uc"}            # PBMT


class Paging:
    """What the walk needs of one architecture and mode."""

    def __init__(self, arch, root, levels, nx=True):
        self.arch, self.root, self.levels, self.nx = arch, root, levels, nx
        self.va_bits = 12 + 9 * levels

    def is_leaf(self, e, level):
        if level == 1:
            return True
        if self.arch == "x86_64":
            return bool(e & (1 << 7))                      # PS
        return bool(e & 0b1110) or bool(e & (1 << 8))      # R|W|X, or the no-access marker

    def table_addr(self, e):
        if self.arch == "x86_64":
            return e & 0x000ffffffffff000
        return ((e >> 10) & ((1 << 44) - 1)) << 12

    def uninvert(self, e):
        """x86 no-access leaves (software bit 9) hold their address field
        inverted against L1TF (docs/DESIGN.md): undo it, PAT bit included."""
        if self.arch == "x86_64" and e & (1 << 9):
            return e ^ 0x000ffffffffff000
        return e

    def leaf_addr(self, e, level):
        return self.table_addr(self.uninvert(e)) & ~((1 << (12 + 9 * (level - 1))) - 1)

    def prop(self, e, level):
        """The rwxug letters and cache policy of leaf `e`, as the encoders read them back."""
        e = self.uninvert(e)
        if self.arch == "x86_64":
            present = e & 1
            r = present
            w = present and e & 2
            x = present and (not self.nx or not e >> 63 & 1)
            u, g = e & 4, e & (1 << 8)
            pat = (e >> 7 & 1) if level == 1 else (e >> 12 & 1)
            cache = CACHE_X86.get(pat << 2 | (e >> 4 & 1) << 1 | (e >> 3 & 1), "??")
        else:
            valid = e & 1
            r, w, x = valid and e & 2, valid and e & 4, valid and e & 8
            u, g = e & 16, e & 32
            cache = CACHE_RV.get(e >> 61 & 3, "??")
        letters = "".join(c if on else "-" for c, on in zip("rwxug", (r, w, x, u, g)))
        return letters + ":" + cache


def paging_of_cpu():
    """The paging mode the selected CPU runs, from its control registers."""
    name = gdb.selected_frame().architecture().name()
    if "x86-64" in name:
        cr3 = int(gdb.parse_and_eval("$cr3")) & 0xffffffffffffffff
        cr4 = int(gdb.parse_and_eval("$cr4"))
        efer = int(gdb.parse_and_eval("$efer"))
        return Paging("x86_64", cr3 & 0x000ffffffffff000, 5 if cr4 >> 12 & 1 else 4,
                      nx=bool(efer >> 11 & 1))
    if "riscv" in name:
        satp = int(gdb.parse_and_eval("$satp")) & 0xffffffffffffffff
        mode = satp >> 60
        if mode not in (8, 9, 10):
            raise gdb.GdbError(f"ptdump: satp MODE {mode}: paging is off or not Sv39/48/57")
        return Paging("riscv64", (satp & ((1 << 44) - 1)) << 12, mode - 5)
    raise gdb.GdbError(f"ptdump: unsupported architecture {name}")


class PhysicalMemory:
    """Reads guest physical memory through QEMU's gdbstub physical mode."""

    def __enter__(self):
        if gdb.execute("maint packet Qqemu.PhyMemMode:1", to_string=True).find('"OK"') < 0:
            raise gdb.GdbError("ptdump: the stub refused Qqemu.PhyMemMode (not QEMU?)")
        gdb.execute("maint flush dcache", to_string=True)
        return self

    def table(self, pa):
        raw = bytes(gdb.selected_inferior().read_memory(pa, 4096))
        return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 4096, 8)]

    def __exit__(self, *exc):
        gdb.execute("maint packet Qqemu.PhyMemMode:0", to_string=True)
        gdb.execute("maint flush dcache", to_string=True)
        return False


def walk(paging, mem, half):
    """Yield (va, level, pte) for every leaf of `half` ("user", "kernel", "all")."""
    top = paging.levels
    root = mem.table(paging.root)
    indices = {"user": range(0, 256), "kernel": range(256, 512), "all": range(512)}[half]

    def sub(table_pa_entries, level, base):
        for i, e in enumerate(table_pa_entries):
            if e == 0:
                continue
            va = base | i << (12 + 9 * (level - 1))
            if paging.is_leaf(e, level):
                yield va, level, e
            else:
                yield from sub(mem.table(paging.table_addr(e)), level - 1, va)

    for i in indices:
        e = root[i]
        if e == 0:
            continue
        va = i << (12 + 9 * (top - 1))
        if paging.is_leaf(e, top):
            yield va, top, e
        else:
            yield from sub(mem.table(paging.table_addr(e)), top - 1, va)


def canonical(va, va_bits):
    if va >> (va_bits - 1) & 1:
        va |= ~((1 << va_bits) - 1) & 0xffffffffffffffff
    return va


class PtDump(gdb.Command):
    """ptdump [user|kernel|all] [sandbox=BASE,SIZE]: the live page tables as LEAF lines."""

    def __init__(self):
        super().__init__("ptdump", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        half, base, size = "all", 0, 0
        for word in gdb.string_to_argv(arg):
            if word in ("user", "kernel", "all"):
                half = word
            elif word.startswith("sandbox="):
                b, s = word[len("sandbox="):].split(",")
                base, size = int(b, 0), int(s, 0)
            else:
                raise gdb.GdbError("usage: ptdump [user|kernel|all] [sandbox=BASE,SIZE]")
        paging = paging_of_cpu()
        lines = []
        with PhysicalMemory() as mem:
            for va, level, e in walk(paging, mem, half):
                pa = paging.leaf_addr(e, level)
                if base <= pa < base + size:
                    pa -= base
                lines.append(f"0x{canonical(va, paging.va_bits):016x} {SIZE_NAMES[level]} "
                             f"0x{pa:016x} {paging.prop(e, level)}")
        gdb.write("\n".join(lines + ["end"]) + "\n")


PtDump()
