#!/usr/bin/env python3
"""Host unit test of tools/oracle/oracle.py's parsers and comparisons on
captured-style text (no QEMU).  Each case states the defect it must catch."""
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

RV_MEM = """vaddr            paddr            size             attr
---------------- ---------------- ---------------- -------
0000000000400000 0000000100000000 0000000000100000 rw-u-ad
0000000000500000 0000000100100000 0000000000100000 rw-u-a-
0000000000600000 0000000100200000 0000000000001000 r-xu-a-
"""

X86_TLB = """0000000000400000: 0000000100000000 X-PDA--UW
0000000000600000: 0000000100200000 ----A--U-
"""


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

    def test_riscv_equal_after_ad_mask(self):
        base, _o, leaves = oracle.parse_kernel_output(SERIAL)
        present, absent = oracle.expected_user_view(leaves, base)
        self.assertEqual(oracle.compare_user("riscv64", RV_MEM, present, absent), [])

    def test_riscv_catches_pa_perm_and_absent(self):
        base, _o, leaves = oracle.parse_kernel_output(SERIAL)
        present, absent = oracle.expected_user_view(leaves, base)
        bad_pa = RV_MEM.replace("0000000100200000", "0000000100300000")
        self.assertTrue(oracle.compare_user("riscv64", bad_pa, present, absent))
        bad_perm = RV_MEM.replace("r-xu-a-", "rwxu-a-")
        self.assertTrue(oracle.compare_user("riscv64", bad_perm, present, absent))
        present_noacc = RV_MEM + "0000000000601000 0000000100201000 0000000000001000 r--u---\n"
        d = oracle.compare_user("riscv64", present_noacc, present, absent)
        self.assertTrue(any("no-access" in x for x in d))

    def test_x86_equal_and_split_detected(self):
        base, _o, leaves = oracle.parse_kernel_output(SERIAL)
        present, absent = oracle.expected_user_view(leaves, base)
        self.assertEqual(oracle.compare_user("x86_64", X86_TLB, present, absent), [])
        split = X86_TLB + "0000000000401000: 0000000100001000 ----A--UW\n"
        self.assertTrue(oracle.compare_user("x86_64", split, present, absent))
        nx = X86_TLB.replace("----A--U-", "X---A--U-")
        self.assertTrue(oracle.compare_user("x86_64", nx, present, absent))

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

    def test_x86_sizes(self):
        rows = oracle.parse_info_tlb_x86("ffff800000000000: 0000000000000000 XG-DA---W\n"
                                         "ffff800000200000: 0000000000200000 XGPDA---W\n"
                                         "ffff800040000000: 0000000040000000 XGPDA---W\n")
        sizes = [r[1] for r in oracle.x86_line_sizes(rows)]
        self.assertEqual(sizes, [4096, 1 << 21, 1 << 30])


if __name__ == "__main__":
    unittest.main()
