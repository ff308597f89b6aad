/*
 * selftest.h - the arch-neutral self-test of the mm on the MMU (selftest.c).
 */
#ifndef KERNEL_SELFTEST_H
#define KERNEL_SELFTEST_H

/*
 * Run every step (mm_boot() done, kernel table active), print one line per
 * step, then `RESULT PASS` and exit with the pass status, or `RESULT FAIL`
 * and a failing exit.  Never returns.
 */
__attribute__((noreturn)) void selftest_run(void);

#endif /* KERNEL_SELFTEST_H */
