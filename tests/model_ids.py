#!/usr/bin/env python3
"""docs/MODEL.md's invariant IDs are the ones the code cites.

    model_ids.py SOURCE_ROOT

- every violation message of the checker (mm/check.c: the strings given to
  fail() and check_held_node()) starts with `ID: ` and that ID is defined
  in docs/MODEL.md (a bold **ID** at the start of an item);
- every ID cited next to "MODEL.md" anywhere in the tree (comments, docs,
  tests) is defined, and every "MODEL.md section N" / "MODEL.md §N" names
  a section that exists;
- no ID is defined twice;
- no file of the tree cites the shared docs outside it (the contracts live in docs/).
"""
import os
import re
import sys

ID = r"[FTMCOL]\d+"
SCAN_DIRS = ["mm", "arch", "kernel", "tools", "tests", "docs", "examples", "include"]
SCAN_EXT = (".c", ".h", ".py", ".md", ".build", ".S", ".txt")


def main():
    root = sys.argv[1]
    model = open(os.path.join(root, "docs", "MODEL.md")).read()
    defined = re.findall(r"^- \*\*(" + ID + r")\*\*", model, re.M)
    sections = set(re.findall(r"^## (\d+)\.", model, re.M))
    errs = []
    dup = sorted({i for i in defined if defined.count(i) > 1})
    if dup:
        errs.append(f"defined twice in docs/MODEL.md: {dup}")
    defined = set(defined)

    check = open(os.path.join(root, "mm", "check.c")).read()
    messages = re.findall(r'(?:fail\(k,|check_held_node\(k, [^,]*, [^,]*,)\s*"([^"]*)"', check)
    if len(messages) < 40:
        errs.append(f"only {len(messages)} checker messages found: the pattern is stale")
    for m in messages:
        got = re.match(r"(" + ID + r"): ", m)
        if not got:
            errs.append(f"checker message cites no ID: {m!r}")
        elif got.group(1) not in defined:
            errs.append(f"checker message cites undefined {got.group(1)}: {m!r}")

    cited = 0
    for top_file in ("README.md", "CHANGELOG.md", "meson.build", "meson_options.txt"):
        if os.path.exists(os.path.join(root, top_file)) and \
                "../" + "shared" in open(os.path.join(root, top_file)).read():
            errs.append(f"{top_file} cites ../{'shared'}")
    for d in SCAN_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            if "subprojects" in dirpath.split(os.sep):
                continue
            for f in files:
                if not f.endswith(SCAN_EXT):
                    continue
                path = os.path.join(dirpath, f)
                for n, line in enumerate(open(path, errors="replace"), 1):
                    where = f"{os.path.relpath(path, root)}:{n}"
                    if "../" + "shared" in line:
                        errs.append(f"{where}: cites ../{'shared'}")
                    for m in re.finditer(r"MODEL\.md(.*)", line):
                        rest = m.group(1)
                        for s in re.findall(r"(?:section|§)\s*(\d+)", rest):
                            if s not in sections:
                                errs.append(f"{where}: MODEL.md section {s} does not exist")
                        for i in re.findall(r"\b(" + ID + r")\b", rest):
                            cited += 1
                            if i not in defined:
                                errs.append(f"{where}: cites {i}, not in docs/MODEL.md")
    for e in errs:
        print("FAILED:", e)
    print(f"{len(defined)} IDs defined, {len(messages)} checker messages, {cited} citations"
          + (": ok" if not errs else ""))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
