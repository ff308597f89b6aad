/*
 * script_mode.h - `script=CMDS`: the PTSIM language in the kernel
 * (script_mode.c; the interpreter is tools/ptsim/script.c).
 */
#ifndef KERNEL_SCRIPT_MODE_H
#define KERNEL_SCRIPT_MODE_H

#include <stddef.h>

/*
 * Run the `;`-separated commands `cmds` (length len) against a fresh user
 * address space whose RAM PAs are offsets into the sandbox: print
 * `SANDBOX 0xBASE 0xSIZE`, the output lines of docs/SCRIPT.md, then activate that
 * address space, print `READY` and halt.  Never returns.
 */
__attribute__((noreturn)) void script_mode_run(const char *cmds, size_t len);

#endif /* KERNEL_SCRIPT_MODE_H */
