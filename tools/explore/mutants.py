#!/usr/bin/env python3
"""Write a mutant of one mm/ source file: the model's historic bugs, put back
one at a time, so that tools/explore can show it finds each of them.

usage: mutants.py NAME SOURCE OUTPUT

Each mutant replaces one exact piece of text that must occur exactly once
in SOURCE (so a mutant that no longer applies breaks the build instead of
silently testing the unmutated code).
"""
import sys

MUTANTS = {
    # A split at level 3 or above steps the children's PA by 4 KiB instead of
    # the child's size (MODEL.md section 6).
    "split-4k-stride": ("split.c",
        "\tuint64_t step = ptmm_level_size(n->level - 1);\n",
        "\tuint64_t step = n->level >= 3 ? PTMM_PAGE_SIZE : ptmm_level_size(n->level - 1);\n"),
    # The range check at the top of the half is off by one page: a range
    # ending one page past the end of the half is accepted.
    "top-off-by-one": ("cursor_life.c",
        "\tif (len > space_end - start)\n\t\treturn cursor_make_closed(c, PTMM_ERANGE);\n",
        "\tif (len > space_end - start + PTMM_PAGE_SIZE)\n\t\treturn cursor_make_closed(c, PTMM_ERANGE);\n"),
    # The untracked software tag leaks onto MMIO leaves.
    "leaked-sw-bit": ("map.c",
        "\tch.tag = (flags & PTMM_MAP_UNTRACKED) ? c->arch->fmt.untracked : 0;\n",
        "\tch.tag = (flags & (PTMM_MAP_UNTRACKED | PTMM_MAP_MMIO)) ? c->arch->fmt.untracked : 0;\n"),
    # What left the tree is released before the TLB flush that covers it.
    "release-before-flush": ("tlb_batch.c",
        "\ttlb_batch_invalidate(c->arch, &c->batch);\n",
        "\tptmm__frame_release_all(c->pt->ft, &c->batch.rel);\n"
        "\ttlb_batch_invalidate(c->arch, &c->batch);\n"),
    # The general unmap path does not reclaim a level-1 node it leaves empty.
    "missed-reclaim": ("unmap.c",
        "\t\t\tif (child.slot->nr_children == 0 && node_reclaimable(ch->c->pt, child.level))\n",
        "\t\t\tif (child.slot->nr_children == 0 && node_reclaimable(ch->c->pt, child.level) &&\n"
        "\t\t\t    child.level > 1)\n"),
}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        for name, (src, _, _) in MUTANTS.items():
            print(name, src)
        return 0
    if len(sys.argv) != 4 or sys.argv[1] not in MUTANTS:
        print(__doc__, file=sys.stderr)
        return 2
    name, source, output = sys.argv[1:]
    want, old, new = MUTANTS[name]
    if not source.endswith("/" + want) and source != want:
        print(f"mutants.py: {name} mutates {want}, not {source}", file=sys.stderr)
        return 2
    text = open(source).read()
    if text.count(old) != 1:
        print(f"mutants.py: {name}: the text to mutate occurs {text.count(old)} times in "
              f"{source} (must be exactly once): update the mutant", file=sys.stderr)
        return 1
    open(output, "w").write(f"/* MUTANT {name} of {want}: tools/explore/mutants.py */\n"
                            f"#line 1 \"{want}\"\n" + text.replace(old, new))
    return 0


if __name__ == "__main__":
    sys.exit(main())
