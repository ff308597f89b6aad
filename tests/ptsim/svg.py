#!/usr/bin/env python3
"""ptsim --format svg: the picture is well-formed SVG, renders, and says
what the text output says.

    svg.py PTSIM

For scripts on both architectures and both halves: the SVG parses as XML
with an <svg> root; its run rows are exactly the runs of the text `dump`
(consecutive leaves of one size and property, VA and PA continuing); its
node counts add up to `stats`' nodes=; rsvg-convert renders it to a PNG of
the stated size.  --from-dump over the text dump draws the same runs.  A
syntax error gives exit 2, a message on stderr and no picture.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
SIZES = {"4K": 1 << 12, "2M": 1 << 21, "1G": 1 << 30, "512G": 1 << 39, "256T": 1 << 48}
CASES = [
    ("x86_64", "user", "map 0x400000 2M 0x200000 rwu huge\nprotect 0x401000 4K ru\n"
     "map 0x40000000 1G 0x40000000 rxu huge\nmap 0x7ffffffff000 4K 0x1000 r\n"
     "mmio 0x80000000 8K 0x200000000 rw:uc\n"),
    ("x86_64", "kernel", "map 0xffff800000000000 1G 0 rwg huge\n"
     "map 0xffffffff80000000 4M 0x40000000 rxg huge\nunmap 0xffffffff80001000 4K\n"),
    ("sv48", "user", "map 0x8000000000 512G 0 rwu huge\nmap 0x1000 12K 0x5000 rxu\n"),
    ("sv48", "kernel", "map 0xffff800000000000 2M 0x200000 rw huge\n"),
    ("x86_64", "user", ""),  # an empty space still draws
]


def run(args, text):
    return subprocess.run(args, input=text.encode(), capture_output=True)


def text_runs(dump):
    """Runs of the LEAF lines in `dump`, as (first VA, count, size name, prop)."""
    runs, prev = [], None
    for line in dump.splitlines():
        f = line.split()
        if len(f) != 4 or f[1] not in SIZES:
            continue
        va, pa, size = int(f[0], 16), int(f[2], 16), SIZES[f[1]]
        if prev and prev[1] == f[1] and prev[3] == f[3] and va == prev[0] + size and \
                pa == prev[2] + size:
            runs[-1][1] += 1
        else:
            runs.append([va, 1, f[1], f[3]])
        prev = (va, f[1], pa, f[3])
    return [tuple(r) for r in runs]


def svg_runs(root):
    """The run rows of the picture: (first VA, count, size name, prop)."""
    texts = [t.text or "" for t in root.iter(NS + "text")]
    runs = []
    for i, t in enumerate(texts):
        m = re.fullmatch(r"0x([0-9a-f]{16})\.\.0x[0-9a-f]{16} +(\d+) x (\S+) +pa 0x[0-9a-f]+", t)
        if m:
            # Before it: the five property letters (blank when off), then the cache.
            letters = "".join(x if x.strip() else "-" for x in texts[i - 6:i - 1])
            runs.append((int(m.group(1), 16), int(m.group(2)), m.group(3),
                         letters + ":" + texts[i - 1]))
    return runs


def svg_nodes(root):
    return sum(int(m.group(1)) for t in root.iter(NS + "text")
               for m in [re.fullmatch(r"L\d +(\d+)", t.text or "")] if m)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def check_case(ptsim, rsvg, tmp, arch, space, script):
    where = f"{arch} {space}"
    base = [ptsim, "--arch", arch, "--space", space]
    text = run(base, script + "dump\nstats\n")
    pic = run(base + ["--format", "svg"], script)
    if text.returncode != 0 or pic.returncode != 0 or pic.stderr:
        return [f"{where}: exit {text.returncode}/{pic.returncode} {pic.stderr!r}"]
    errs = []
    try:
        root = ET.fromstring(pic.stdout)
    except ET.ParseError as e:
        return [f"{where}: not well-formed: {e}"]
    if root.tag != NS + "svg":
        errs.append(f"{where}: root element {root.tag}")
    want = text_runs(text.stdout.decode())
    if svg_runs(root) != want:
        errs.append(f"{where}: runs {svg_runs(root)} != dump's {want}")
    nodes = int(re.search(r"nodes=(\d+)", text.stdout.decode()).group(1))
    if svg_nodes(root) != nodes:
        errs.append(f"{where}: picture counts {svg_nodes(root)} nodes, stats {nodes}")
    dumped = run(base + ["--format", "svg", "--from-dump"], text.stdout.decode())
    if dumped.returncode != 0 or svg_runs(ET.fromstring(dumped.stdout)) != want:
        errs.append(f"{where}: --from-dump draws other runs")
    svg = os.path.join(tmp, "p.svg")
    png = os.path.join(tmp, "p.png")
    with open(svg, "wb") as f:
        f.write(pic.stdout)
    r = subprocess.run([rsvg, svg, "-o", png], capture_output=True)
    size = png_size(png) if r.returncode == 0 else None
    if size != (int(root.get("width")), int(root.get("height"))):
        errs.append(f"{where}: rsvg-convert exit {r.returncode} {r.stderr!r}, png {size}")
    return errs


def main():
    ptsim = sys.argv[1]
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        print("rsvg-convert (librsvg2-bin, tools/setup-deps) not found: skipped")
        return 77
    errs = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            errs += check_case(ptsim, rsvg, tmp, *case)
    odd = run([ptsim, "--format", "svg", "--title", 'a <b> & "c"\x01\xc3'], "")
    texts = [t.text for t in ET.fromstring(odd.stdout).iter(NS + "text")] if not odd.returncode else []
    if texts[:1] != ['a <b> & "c"???']:  # \x01 and the two UTF-8 bytes of \xc3
        errs.append(f"--title not escaped: {texts[:1]}")
    # The pictures in docs/ (tools/gdb/layout.py made them) are well-formed and render.
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")
    pictures = sorted(f for f in os.listdir(docs) if f.endswith(".svg"))
    if not pictures:
        errs.append("no picture in docs/")
    with tempfile.TemporaryDirectory() as tmp:
        for name in pictures:
            root = ET.parse(os.path.join(docs, name)).getroot()
            png = os.path.join(tmp, "d.png")
            r = subprocess.run([rsvg, os.path.join(docs, name), "-o", png], capture_output=True)
            if root.tag != NS + "svg" or r.returncode != 0 or png_size(png) is None:
                errs.append(f"docs/{name} does not render: {r.stderr!r}")
    bad = run([ptsim, "--format", "svg"], "map 0x1000 4K 0 r\nbogus\n")
    if bad.returncode != 2 or bad.stdout or b"syntax 2" not in bad.stderr:
        errs.append(f"syntax error: exit {bad.returncode}, out {bad.stdout[:40]!r}, "
                    f"err {bad.stderr!r}")
    for e in errs:
        print("FAILED:", e)
    print(f"{len(CASES)} pictures checked" if not errs else "FAILED")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
