#!/usr/bin/env python3
"""Every name the library exports carries ptmm's prefix (docs/EMBEDDING.md, "Names").

    symbol_prefix.py NM LIBPTMM_A HEADER_DIR

- every global symbol libptmm.a defines starts with ptmm_ (ptmm__ for the
  functions its own files share);
- every name the public headers declare at file scope (functions, types,
  struct/union/enum tags, enum constants, macros) starts with ptmm_/PTMM_,
  so an embedder's own frame_alloc, pte_t or PT_USER cannot collide.
Prints each offender; exit status 1 if there is one.
"""
import os
import re
import subprocess
import sys


def library_symbols(nm, lib):
    out = subprocess.run([nm, '-g', '--defined-only', lib], check=True,
                         capture_output=True, text=True).stdout
    return {f[2] for f in (l.split() for l in out.splitlines()) if len(f) == 3}


def strip_bodies(text):
    """Text at file scope: the bodies of functions, structs and unions
    dropped (their members and locals are not file-scope names), enum
    bodies kept (their constants are)."""
    out, depth, keep, i = [], 0, True, 0
    for m in re.finditer(r'[{}]', text):
        if depth == 0:
            out.append(text[i:m.start()])
        elif keep:
            out.append(text[i:m.start()])
        if m.group() == '{':
            if depth == 0:
                keep = re.search(r'\benum\b[^;{}()]*$', text[:m.start()]) is not None
                out.append(' { ' if keep else ' ')
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                out.append(' } ' if keep else ' ; ')
        i = m.end()
    out.append(text[i:])
    return ''.join(out)


def header_names(text):
    """File-scope names a header declares: macros, tags, typedefs,
    functions, variables and enum constants."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    text = re.sub(r'\\\n', ' ', text)
    names = set(re.findall(r'^\s*#\s*define\s+(\w+)', text, re.M))
    text = re.sub(r'^\s*#[^\n]*', ' ', text, flags=re.M)
    names |= set(re.findall(r'\b(?:struct|union|enum)\s+(\w+)\s*\{', text))
    text = strip_bodies(text)
    for body in re.findall(r'\{([^}]*)\}', text):
        names |= {e.split('=')[0].strip() for e in body.split(',') if e.strip()}
    text = re.sub(r'\{[^}]*\}', ' ', text)
    text = re.sub(r'__attribute__\s*\(\(.*?\)\)', ' ', text)
    for decl in text.split(';'):
        decl = decl.strip()
        if not decl or decl.startswith('_Static_assert'):
            continue
        m = re.search(r'\(\s*\*\s*(\w+)\s*\)\s*\(', decl)  # typedef T (*name)(...)
        if m is None:
            m = re.search(r'(\w+)\s*\(', decl)                # a function
        if m is None:
            m = re.search(r'(\w+)\s*(?:\[[^\]]*\])?\s*$', decl)  # a typedef or variable
        if m and not re.fullmatch(r'(?:struct|union|enum)\s+\w+', decl):
            names.add(m.group(1))
    return names


def main():
    nm, lib, hdr_dir = sys.argv[1:4]
    bad = []
    for s in sorted(library_symbols(nm, lib)):
        # AddressSanitizer's ODR indicator for a global: __odr_asan.<name>
        if not s.split('__odr_asan.', 1)[-1].startswith('ptmm_'):
            bad.append('libptmm.a exports %s' % s)
    headers = sorted(h for h in os.listdir(hdr_dir) if h.endswith('.h'))
    for h in headers:
        for n in sorted(header_names(open(os.path.join(hdr_dir, h)).read())):
            if not n.startswith(('ptmm_', 'PTMM_')):
                bad.append('%s declares %s' % (h, n))
    for b in bad:
        print(b)
    print('%d exported symbols, %d headers: %d without the prefix'
          % (len(library_symbols(nm, lib)), len(headers), len(bad)))
    return 1 if bad else 0


sys.exit(main())
