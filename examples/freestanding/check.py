#!/usr/bin/env python3
"""Check a linked freestanding example (tools/test runs this).

    check.py ARCH BUILD_DIR

- embed.elf is linked (statically: nothing undefined) and holds the mm;
- what libptmm.a needs from outside itself is within what
  docs/EMBEDDING.md ("What the embedder provides") lists, so a new helper
  the compiler starts calling shows up here first;
- each of those symbols is defined by this directory's sources, or by
  libgcc (__ctzdi2 and friends) -- never by anything of the demo kernel.
Prints what the library needs; exit status 1 on any failure.
"""
import os
import subprocess
import sys

# The documented set (docs/EMBEDDING.md).  memset/memcpy: any GCC may emit
# them; the __atomic_*_1 and __ctzdi2: GCC 12 on RISC-V without Zbb.
ALLOWED = {"memset", "memcpy", "ptmm_assert_failed", "ptmm_debug_context", "__atomic_exchange_1",
           "__atomic_fetch_or_1", "__atomic_fetch_and_1", "__ctzdi2"}
MM_SYMBOLS = {"ptmm_frame_table_init", "ptmm_page_table_init_kernel", "ptmm_cursor_map", "ptmm_check"}
# Symbols of the demo kernel (kernel/, arch/*/ other than pte.c): none may be in the image.
KERNEL_SYMBOLS = {"kprintf", "kmain", "x86_tlb_ops", "riscv_tlb_ops", "script_run_line"}


def nm(tool, path):
    """(defined {symbol: type letter}, undefined {symbol}) over all members of `path`."""
    out = subprocess.run([tool, path], check=True, capture_output=True, text=True).stdout
    defined, undefined = {}, set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in ("U", "w"):
            undefined.add(f[1])
        elif len(f) == 3:
            defined[f[2]] = f[1]
    return defined, undefined


def main():
    arch, build = sys.argv[1], sys.argv[2]
    tool = "riscv64-unknown-elf-nm" if arch == "riscv64" else "nm"
    elf = os.path.join(build, "embed.elf")
    lib = os.path.join(build, "subprojects", "ptmm", "libptmm.a")
    failed = []

    image, image_undefined = nm(tool, elf)
    if image_undefined:
        failed.append(f"embed.elf has undefined symbols: {sorted(image_undefined)}")
    missing = sorted(MM_SYMBOLS - set(image))
    if missing:
        failed.append(f"embed.elf lacks the mm: {missing}")

    linked = sorted(KERNEL_SYMBOLS & set(image))
    if linked:
        failed.append(f"embed.elf holds demo kernel code: {linked}")

    lib_defined, lib_undefined = nm(tool, lib)
    needs = sorted(lib_undefined - set(lib_defined))
    print(f"{arch}: libptmm.a needs {' '.join(needs)}")
    extra = sorted(set(needs) - ALLOWED)
    if extra:
        failed.append(f"libptmm.a needs what docs/EMBEDDING.md does not list: {extra}")
    for s in needs:
        if image.get(s) not in ("T", "t"):
            failed.append(f"{s} is not defined as code in embed.elf")

    for f in failed:
        print("FAILED:", f)
    if not failed:
        print(f"{arch}: freestanding example linked; every external need provided")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
