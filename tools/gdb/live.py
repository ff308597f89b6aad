"""Boot a kernel under QEMU with a gdbstub and run ptdump on it (tools/gdb/).

Used by tests/gdb/test_ptdump.py and tools/gdb/layout.py:
  free_port()                        a TCP port nobody listens on now
  boot_until_ready(arch, kernel, cmdline, port, extra)
                                     QEMU running, serial lines up to READY
  run_ptdump(arch, kernel, port, args)
                                     (gdb status, LEAF and `end` lines, CompletedProcess)
"""
import os
import re
import socket
import subprocess
import sys
import threading

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
import qemu_run  # noqa: E402

LEAF = re.compile(r"^0x[0-9a-f]{16} \S+ 0x[0-9a-f]{16} \S+$")
GDB_ARCH = {"x86_64": "i386:x86-64", "riscv64": "riscv:rv64"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def boot_until_ready(arch, kernel, cmdline, port, extra=(), timeout=60):
    """Start QEMU with `cmdline` and a gdbstub on `port`; return (process,
    serial lines up to and including READY, or all of them if it stopped
    or `timeout` passed first).  The caller kills the process."""
    cmd = qemu_run.qemu_command(arch, kernel, cmdline,
                                ["-gdb", f"tcp:127.0.0.1:{port}"] + list(extra))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    lines = []
    for raw in proc.stdout:
        line = raw.decode("ascii", "replace").rstrip("\r\n")
        lines.append(line)
        if line == "READY":
            break
    timer.cancel()
    return proc, lines


def run_ptdump(arch, kernel, port, args):
    cmd = ["gdb-multiarch", "-batch", "-nx", "-ex", f"set architecture {GDB_ARCH[arch]}",
           "-ex", f"target remote 127.0.0.1:{port}",
           "-ex", f"source {os.path.join(TOOLS, 'gdb', 'ptdump.py')}",
           "-ex", f"ptdump {args}", kernel]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r.returncode, [l for l in r.stdout.splitlines() if LEAF.match(l) or l == "end"], r
