#!/usr/bin/env python3
"""Host unit test of tools/oracle/oracle.py's parsers and comparisons on
captured-style text (no QEMU).  The monitor is faked: canned `info` text
plus page-table pages that `xp` reads, in QEMU 7.2's formats.  Each case
states the defect it must catch."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "oracle"))
import oracle  # noqa: E402

SERIAL = """\x1b[2Jjunk
SANDBOX 0x0000000100000000 64M
ok
ok 0x1000
0x0000000000400000 2M 0x0000000000000000 rw-u-:wb
0x0000000000600000 4K 0x0000000000200000 r-xu-:wb
0x0000000000601000 4K 0x0000000000201000 -----:wb
end
READY
"""
CMDS = ["map 0x400000 2M 0 rwu huge", "protect 0x601000 4K -", "dump"]

RV_MEM = """vaddr            paddr            size             attr
---------------- ---------------- ---------------- -------
0000000000400000 0000000100000000 0000000000100000 rw-u-ad
0000000000500000 0000000100100000 0000000000100000 rw-u-a-
0000000000600000 0000000100200000 0000000000001000 r-xu-a-
"""

X86_TLB = """0000000000400000: 0000000100000000 X-PDA--UW
0000000000600000: 0000000100200000 ----A--U-
"""
X86_MEM = """0000000000400000-0000000000600000 0000000000200000 urw
0000000000600000-0000000000601000 0000000000001000 ur-
"""
X86_REGS = "RIP=ffffffff8020cd22\nCR0=80010011 CR2=0000000000000000 CR3=0000000000001000 CR4=003000a0\n" \
           "EFER=0000000000000d00\n"

P, W, U, PS, NX = 1, 2, 4, 0x80, 1 << 63


class FakeMonitor:
    """Answers HMP commands: canned texts by command, `xp /512gx` from
    `tables` (pa -> {index: entry}), `gva2gpa` from `gpa` (va -> pa)."""

    def __init__(self, texts, tables, gpa=None):
        self.texts, self.tables, self.gpa, self.seen = texts, tables, gpa or {}, []

    def __call__(self, line):
        self.seen.append(line)
        if line.startswith("xp /512gx "):
            pa = int(line.split()[2], 16)
            ents = [self.tables.get(pa, {}).get(i, 0) for i in range(512)]
            return "".join("%016x: 0x%016x 0x%016x\r\n" % (pa + 16 * i, ents[2 * i], ents[2 * i + 1])
                           for i in range(256))
        if line.startswith("gva2gpa "):
            va = int(line.split()[1], 16)
            return "gpa: 0x%x\r\n" % self.gpa[va] if va in self.gpa else "Unmapped\r\n"
        return self.texts[line]


def x86_tables():
    """SERIAL's user half on x86: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000:
    [2] a 2M leaf (NX), [3] -> PT 0x4000 whose [0] is the 4K r-x leaf."""
    return {0x1000: {0: 0x2000 | P | W | U}, 0x2000: {0: 0x3000 | P | W | U},
            0x3000: {2: 0x100000000 | P | W | U | PS | NX, 3: 0x4000 | P | W | U},
            0x4000: {0: 0x100200000 | P | U}}


def x86_monitor(tlb=X86_TLB, mem=X86_MEM, tables=None, gpa=None, regs=X86_REGS):
    return FakeMonitor({"info tlb": tlb, "info mem": mem, "info registers": regs},
                       tables if tables is not None else x86_tables(), gpa)


def rv_tables():
    """SERIAL's user half on Sv48: root 0x80001000 -> 0x80002000 -> L1
    0x80003000: [2] a 2M rw-u- leaf, [3] -> L0 0x80004000 whose [0] is the
    4K r-xu- leaf; [1] (the no-access leaf) is not valid."""
    def ptr(pa):
        return (pa >> 12) << 10 | 1

    def leaf(pa, bits):
        return (pa >> 12) << 10 | bits | 1 | 0xc0     # + A, D
    return {0x80001000: {0: ptr(0x80002000)}, 0x80002000: {0: ptr(0x80003000)},
            0x80003000: {2: leaf(0x100000000, 2 | 4 | 16), 3: ptr(0x80004000)},
            0x80004000: {0: leaf(0x100200000, 2 | 8 | 16)}}


def rv_monitor(mem=RV_MEM, tables=None):
    return FakeMonitor({"info mem": mem, "info registers": " pc       ffffffff80209716\n"
                        " satp     9000000000080001\n"}, tables if tables is not None else rv_tables())


def expected():
    base, outputs, leaves = oracle.parse_kernel_output(SERIAL)
    return oracle.expected_user_view(leaves, base)


class Logic(unittest.TestCase):
    def test_script_gets_trailing_dump(self):
        self.assertEqual(oracle.script_commands("map 0 4K 0 rw # c\n\nquery 0"),
                         ["map 0 4K 0 rw", "query 0", "dump"])
        self.assertEqual(oracle.script_commands("dump;"), ["dump"])

    def test_kernel_output(self):
        base, outputs, leaves = oracle.parse_kernel_output(SERIAL)
        self.assertEqual(base, 1 << 32)
        self.assertEqual(len(leaves), 3)
        self.assertEqual(leaves[1], (0x600000, 4096, 0x200000, "r-xu-", "wb"))
        answers, problems = oracle.pair_answers(CMDS, outputs)
        self.assertEqual(problems, [])
        self.assertEqual(len(answers[2]), 4)

    def test_syntax_and_missing_answers_fail(self):
        # `map ...; dump; bogus` once passed: the first dump was taken as the final one.
        cmds = oracle.script_commands("map 0x400000 4K 0 rwu; dump; bogus")
        outputs = ["ok", "0x0000000000400000 4K 0x0000000000000000 rw-u-:wb", "end",
                   "syntax 3: unknown command"]
        answers, problems = oracle.pair_answers(cmds, outputs)
        self.assertTrue(any("syntax 3" in p for p in problems))
        self.assertTrue(any("`dump` got no answer" in p for p in problems))
        self.assertIsNone(answers[-1])
        serial = "SANDBOX 0x40000000 64M\n" + "\n".join(outputs) + "\nREADY\n"
        live = oracle.LiveView([], [])
        _b, _l, diffs = oracle.compare_all("x86_64", cmds, serial, live, None, 2 << 30, True)
        self.assertTrue(any("syntax" in d for d in diffs))     # even with --allow-errors
        # an answer no command gives, and extra output, are failures too
        self.assertTrue(oracle.pair_answers(["map 0 4K 0 r", "dump"], ["what", "end"])[1])
        self.assertTrue(oracle.pair_answers(["dump"], ["end", "ok"])[1])
        # error answers pair normally (compare_all fails them unless --allow-errors)
        self.assertEqual(oracle.pair_answers(["map 1 4K 0 r", "dump"], ["error align", "end"])[1], [])

    def test_riscv_equal_after_ad_mask(self):
        present, absent = expected()
        live = oracle.collect_live("riscv64", rv_monitor())
        self.assertEqual(oracle.compare_user("riscv64", live, present, absent), [])

    def test_riscv_catches_pa_perm_and_absent(self):
        present, absent = expected()
        t = rv_tables()
        t[0x80004000][0] += 1 << 10                                   # PA + 4K
        bad_pa = RV_MEM.replace("0000000100200000", "0000000100201000")
        live = oracle.collect_live("riscv64", rv_monitor(bad_pa, t))
        self.assertTrue(oracle.compare_user("riscv64", live, present, absent))
        t = rv_tables()
        t[0x80004000][0] |= 4                                         # + W
        live = oracle.collect_live("riscv64", rv_monitor(RV_MEM.replace("r-xu-a-", "rwxu-a-"), t))
        self.assertTrue(oracle.compare_user("riscv64", live, present, absent))
        t = rv_tables()
        t[0x80004000][1] = (0x100201000 >> 12) << 10 | 2 | 16 | 1
        live = oracle.collect_live("riscv64", rv_monitor(
            RV_MEM + "0000000000601000 0000000100201000 0000000000001000 r--u---\n", t))
        d = oracle.compare_user("riscv64", live, present, absent)
        self.assertTrue(any("no-access" in x for x in d))

    def test_riscv_leaf_sizes(self):
        # info mem merges rows, so a dump claiming 512 x 4K for a live 2M leaf
        # looked the same; the walk read with xp tells the size.
        present, absent = expected()
        live = oracle.collect_live("riscv64", rv_monitor())
        self.assertEqual(sorted((l[0], l[1]) for l in live.leaves),
                         [(0x400000, 1 << 21), (0x600000, 4096)])
        four_k = [(0x400000 + i * 4096, 4096, 0x100000000 + i * 4096, frozenset("rwu"))
                  for i in range(512)] + present[1:]
        d = oracle.compare_user("riscv64", live, four_k, absent)
        self.assertEqual(d, ["user: va 0x0000000000400000 expected 4K leaf, live 2M leaf "
                             "(and 511 more leaves inside it)"])
        # the walk must reproduce info mem, or the view is not obtained
        t = rv_tables()
        t[0x80003000][2] += 1 << 10
        with self.assertRaises(oracle.OracleError):
            oracle.collect_live("riscv64", rv_monitor(RV_MEM, t))

    def test_riscv_pbmt_bits_are_not_pa(self):
        rows = oracle.parse_info_mem_riscv("0000000000400000 80000000c0000000 0000000000001000 rw-u-ad")
        self.assertEqual(rows[0][2], 0xc0000000)

    def test_x86_equal_and_split_detected(self):
        present, absent = expected()
        live = oracle.collect_live("x86_64", x86_monitor())
        self.assertEqual(oracle.compare_user("x86_64", live, present, absent), [])
        t = x86_tables()
        t[0x3000][2] = 0x5000 | P | W | U
        t[0x5000] = {i: (0x100000000 + i * 4096) | P | W | U | NX for i in range(512)}
        split = X86_TLB.replace("X-PDA--UW", "X--DA--UW") + "".join(
            "%016x: %016x X--DA--UW\n" % (0x400000 + i * 4096, 0x100000000 + i * 4096)
            for i in range(1, 512))
        live = oracle.collect_live("x86_64", x86_monitor(split, tables=t))
        d = oracle.compare_user("x86_64", live, present, absent)
        self.assertEqual(len(d), 1)
        self.assertIn("expected 2M", d[0])
        self.assertIn("live 4K", d[0])
        self.assertIn("511 more", d[0])
        t = x86_tables()
        t[0x4000][0] |= NX
        live = oracle.collect_live("x86_64", x86_monitor(X86_TLB.replace("----A--U-", "X---A--U-"),
                                                         tables=t))
        self.assertTrue(oracle.compare_user("x86_64", live, present, absent))

    def test_x86_upper_level_u_w(self):
        # U and W cleared in the PML4 entry: info tlb still shows the leaves'
        # own U/W; info mem shows the combination.
        present, absent = expected()
        t = x86_tables()
        t[0x1000][0] = 0x2000 | P
        mem = X86_MEM.replace(" urw", " -r-").replace(" ur-", " -r-")
        d = oracle.compare_user("x86_64", oracle.collect_live("x86_64", x86_monitor(mem=mem, tables=t)),
                                present, absent)
        self.assertEqual(len(d), 2)
        self.assertIn("live 2M pa 0x0000000100000000 r---- (the leaf entry says rw-u-", d[0])

    def test_x86_upper_level_nx(self):
        # NX in the PD entry above the r-x PT: info tlb prints only the leaf's X.
        present, absent = expected()
        t = x86_tables()
        t[0x3000][3] |= NX
        d = oracle.compare_user("x86_64", oracle.collect_live("x86_64", x86_monitor(tables=t)),
                                present, absent)
        self.assertEqual(d, ["user: va 0x0000000000600000 expected 4K pa 0x0000000100200000 r-xu-, "
                             "live 4K pa 0x0000000100200000 r--u- (the leaf entry says r-xu-: "
                             "an upper level differs)"])
        no_nxe = oracle.collect_live("x86_64", x86_monitor(regs=X86_REGS.replace("d00", "500")))
        self.assertTrue(no_nxe.problems)

    def test_x86_sizes_from_gva2gpa(self):
        # A P line at a 1G-aligned VA with no line at VA+2M: gva2gpa VA+2M decides.
        tlb = "0000000040000000: 0000000400000000 X-PDA--UW\n"
        mem = "0000000040000000-0000000080000000 0000000040000000 urw\n"
        t = {0x1000: {0: 0x2000 | P | W | U}, 0x2000: {1: 0x400000000 | P | W | U | PS | NX}}
        mon = x86_monitor(tlb, mem, t, {0x40200000: 0x400200000})
        live = oracle.collect_live("x86_64", mon)
        self.assertEqual(live.leaves[0][:3], (0x40000000, 1 << 30, 0x400000000))
        self.assertIn("gva2gpa 0x40200000", mon.seen)
        claimed_2m = [(0x40000000, 1 << 21, 0x400000000, frozenset("rwu"))]
        d = oracle.compare_user("x86_64", live, claimed_2m, [])
        self.assertEqual(len(d), 1)
        self.assertIn("expected 2M", d[0])
        self.assertIn("live 1G", d[0])
        # a line at VA+2M: 2M without asking
        t2 = {0x1000: {0: 0x2000 | P | W | U}, 0x2000: {1: 0x3000 | P | W | U},
              0x3000: {0: 0x400000000 | P | W | U | PS | NX, 1: 0x400200000 | P | W | U | PS | NX}}
        mon = x86_monitor(tlb + "0000000040200000: 0000000400200000 X-PDA--UW\n",
                          mem.replace("0000000080000000 0000000040000000", "0000000040400000 0000000000400000"),
                          t2)
        live = oracle.collect_live("x86_64", mon)
        self.assertEqual([l[1] for l in live.leaves], [1 << 21, 1 << 21])
        self.assertFalse(any(c.startswith("gva2gpa") for c in mon.seen))
        # gva2gpa and the walk from CR3 must agree with info tlb
        with self.assertRaises(oracle.OracleError):
            oracle.collect_live("x86_64", x86_monitor(tlb, mem, t))          # Unmapped, but PDPTE.PS

    def test_x86_direct_map_gap_behind_a_2m_leaf(self):
        # Only the first 2M leaf of a GiB is left: the old size guess took it
        # for a 1G leaf and the gap went unseen.
        dm = oracle.DIRECT_MAP_BASE
        tlb = "%016x: 0000000040000000 XGPDA---W\n" % (dm + (1 << 30))
        mem = "%016x-%016x 0000000000200000 -rw\n" % (dm + (1 << 30), dm + (1 << 30) + (1 << 21))
        t = {0x1000: {256: 0x2000 | P | W}, 0x2000: {1: 0x3000 | P | W},
             0x3000: {0: 0x40000000 | P | W | PS | NX | 0x100}}
        live = oracle.collect_live("x86_64", x86_monitor(tlb, mem, t))
        self.assertEqual(live.leaves[0][1], 1 << 21)
        d = oracle.check_direct_map(live.ranges, [(1 << 30, 1 << 30)])
        self.assertEqual(d, ["direct map: va 0xffff800040200000..0xffff800080000000 not mapped"])

    def test_x86_info_mem_parse(self):
        # the last range's printed end wraps (QEMU does not canonicalise 1 << 48)
        mem = oracle.parse_info_mem_x86("ffffffff80200000-0001000000000000 0000000000010000 -r-\n")
        self.assertEqual(mem, [(0xffff80200000, 0x10000, False, False)])

    def test_direct_map_gap_and_pa(self):
        dm = oracle.DIRECT_MAP_BASE
        live = [(dm + 0x80000000, 1 << 30, 0x80000000, frozenset("rwg")),
                (dm + 0xc0000000, 1 << 30, 0xc0000000, frozenset("rwg"))]
        self.assertEqual(oracle.check_direct_map(live, [(0x80000000, 2 << 30)]), [])
        self.assertTrue(oracle.check_direct_map(live[:1], [(0x80000000, 2 << 30)]))
        shifted = [(dm + 0x80000000, 2 << 30, 0x80001000, frozenset("rwg"))]
        self.assertTrue(oracle.check_direct_map(shifted, [(0x80000000, 2 << 30)]))
        execable = [(dm + 0x80000000, 2 << 30, 0x80000000, frozenset("rwxg"))]
        self.assertTrue(oracle.check_direct_map(execable, [(0x80000000, 2 << 30)]))

    def test_direct_map_exceptions(self):
        """W^X per frame: r-- and unmapped parts the kernel's log announces."""
        dm = oracle.DIRECT_MAP_BASE
        log = ("mm: direct map: 0x80200000 0x2000 r-- (image text, rodata)\n"
               "mm: direct map: 0x80000000 0x80000 not mapped (firmware)\n")
        exc = oracle.direct_map_exceptions_from_log(log)
        self.assertEqual(len(exc), 2)
        ram = [(0x80000000, 0x400000)]
        good = [(dm + 0x80080000, 0x180000, 0x80080000, frozenset("rwg")),
                (dm + 0x80200000, 0x2000, 0x80200000, frozenset("rg")),
                (dm + 0x80202000, 0x1fe000, 0x80202000, frozenset("rwg"))]
        self.assertEqual(oracle.check_direct_map(good, ram, exc), [])
        # the image writable through the direct map, or the firmware mapped: defects
        rw_image = good[:1] + [(dm + 0x80200000, 0x200000, 0x80200000, frozenset("rwg"))]
        self.assertTrue(oracle.check_direct_map(rw_image, ram, exc))
        firmware = [(dm + 0x80000000, 0x80000, 0x80000000, frozenset("rwg"))] + good
        self.assertTrue(oracle.check_direct_map(firmware, ram, exc))

    def test_image_wx(self):
        k = oracle.KIMAGE_BASE
        secs = [(".text", k, 0x2000, 6), (".rodata", k + 0x2000, 0x800, 2), (".bss", k + 0x3000, 0x10, 3)]
        good = [(k, 0x2000, 0x80200000, frozenset("rxg")), (k + 0x2000, 0x1000, 0x80202000, frozenset("rg")),
                (k + 0x3000, 0x1000, 0x80203000, frozenset("rwg"))]
        self.assertEqual(oracle.check_image(good, secs), [])
        bad = good[:2] + [(k + 0x3000, 0x1000, 0x80203000, frozenset("rwxg"))]
        self.assertTrue(oracle.check_image(bad, secs))
        shared = secs + [(".data", k + 0x2800, 0x10, 3)]
        self.assertTrue(oracle.check_image(good, shared))

    def test_mmio_pas_are_absolute(self):
        cmds = oracle.script_commands("mmio 0x40000000 1G 0x400000000 rw huge; map 0x1000 4K 0 r; "
                                      "mmio 0x2000 8K 0x400000000 r; map 0x2000 4K 0 r replace; dump")
        outputs = ["ok", "ok", "ok", "ok", "end"]
        self.assertEqual(oracle.mmio_ranges(cmds, outputs), [(0x40000000, 0x80000000), (0x3000, 0x4000)])
        # the replaced half of the second mmio is RAM again, the other half stays absolute
        self.assertEqual(oracle.mmio_ranges(cmds[:3] + cmds[4:], ["ok", "ok", "ok", "end"]),
                         [(0x40000000, 0x80000000), (0x2000, 0x4000)])
        leaves = [(0x40000000, 1 << 30, 0x400000000, "rw---", "wb")]
        present, _a = oracle.expected_user_view(leaves, 1 << 32, [(0x40000000, 0x80000000)])
        self.assertEqual(present[0][2], 0x400000000)

    def test_perturb(self):
        present, _absent = expected()
        p = oracle.perturb_expected(present, ["perm:0x400000:w", "pa:0x600000:-0x1000",
                                              "size:0x600000:2M"])
        self.assertEqual(p[0][3], frozenset("ru"))
        self.assertEqual(p[1][:3], (0x600000, 1 << 21, 0x1001ff000))
        with self.assertRaises(oracle.OracleError):
            oracle.perturb_expected(present, ["perm:0x401000:w"])        # no leaf starts there

    def test_no_access_with_u_or_g_is_absent(self):
        leaves = oracle.parse_leaves([
            "0x0000000000400000 4K 0x0000000000001000 ---u-:wb",
            "0x0000000000401000 4K 0x0000000000002000 ----g:wb",
            "0x0000000000402000 4K 0x0000000000003000 -----:wb",
            "0x0000000000403000 4K 0x0000000000004000 r--u-:wb",
        ])
        present, absent = oracle.expected_user_view(leaves, 0)
        self.assertEqual(absent, [(0x400000, 1 << 12), (0x401000, 1 << 12), (0x402000, 1 << 12)])
        self.assertEqual([l[0] for l in present], [0x403000])

    def test_mode_from_layout_line(self):
        serial = "paging: sv39 (...)\nlayout: sv39 direct 0xffffffc000000000 mmio 0x1 test 0x2 image 0x3\n"
        self.assertEqual(oracle.mode_from_log(serial), ("sv39", 0xffffffc000000000))
        self.assertIsNone(oracle.mode_from_log("no layout here\n"))
        try:
            oracle.configure_mode("x86_64-la57")
            self.assertEqual((oracle.USER_TOP, oracle.DIRECT_MAP_BASE, oracle.CANON),
                             (1 << 56, 0xff00000000000000, (1 << 57) - 1))
        finally:
            oracle.configure_mode("x86_64")
        self.assertEqual(oracle.DIRECT_MAP_BASE, 0xffff800000000000)

    def test_live_edit_spec(self):
        self.assertEqual(oracle.parse_live_edit("pd:0xffff800040200000:-p*511"),
                         (21, 0xffff800040200000, [(False, 1)], 511))
        self.assertEqual(oracle.parse_live_edit("pml4:0x400000:-u,-w,+nx")[2],
                         [(False, 4), (False, 2), (True, 1 << 63)])
        self.assertEqual(oracle.parse_live_edit("pml5:0x400000:+nx")[0], 48)
        with self.assertRaises(oracle.OracleError):
            oracle.parse_live_edit("pd:0x400000:-x")


if __name__ == "__main__":
    unittest.main()
