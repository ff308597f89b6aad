#!/usr/bin/env python3
"""Run the explorer built with a mutant and require that it finds it.

usage: run_mutant.py EXPLORE [ARGS...]
Passes (exit 0) only if the explorer exits 1 with a VIOLATION line and a
failing sequence: a crash, a timeout or a clean run all fail the test.
"""
import subprocess
import sys

r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
sys.stdout.write(r.stdout)
found = r.returncode == 1 and "VIOLATION at depth" in r.stdout and "# shortest failing" in r.stdout
print("mutant found" if found else f"mutant NOT found (exit {r.returncode})")
sys.exit(0 if found else 1)
