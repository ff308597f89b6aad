/*
 * test_cxx.cpp - the public header from C++ (docs/EMBEDDING.md, "C++").
 *
 * This file compiles only if <ptmm/mm.h> is valid C++ (-Wall -Wextra
 * -Wpedantic -Werror), links only if its declarations have C linkage, and
 * passes only if C and C++ agree on the layout of every public struct
 * (PTMM_ATOMIC members are plain types in C++) and the calls behave.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <ptmm/mm.h>

#include "layout.h"

extern "C" void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	std::fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, cond);
	std::abort();
}

#define LAYOUT_ENTRY(e) (e),
static const size_t layout_cxx[LAYOUT_COUNT] = { LAYOUT_FIELDS(LAYOUT_ENTRY) };
#define LAYOUT_NAME(e) #e,
static const char *const layout_name[LAYOUT_COUNT] = { LAYOUT_FIELDS(LAYOUT_NAME) };

int main()
{
	int failed = 0;

	for (int i = 0; i < LAYOUT_COUNT; i++) {
		if (layout_c[i] != layout_cxx[i]) {
			std::printf("%s: C says %zu, C++ says %zu\n", layout_name[i], layout_c[i],
				    layout_cxx[i]);
			failed++;
		}
	}
	/* Calls across the language boundary: linkage and behaviour. */
	if (std::strcmp(ptmm_strerror(PTMM_EEXIST), "exist") != 0) {
		std::printf("ptmm_strerror(PTMM_EEXIST) = %s\n", ptmm_strerror(PTMM_EEXIST));
		failed++;
	}
	struct ptmm_arch a;
	ptmm_arch_x86_64_init(&a, PTMM_FEAT_X86_NX, nullptr);
	struct ptmm_prop p = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
	if (a.levels != 4 || a.prop_check(&a, p) != PTMM_OK ||
	    a.prop_check(&a, ptmm_prop_make(PTMM_PROP_W, PTMM_CACHE_WB)) != PTMM_EINVAL) {
		std::printf("x86_64 encoder through C++: levels %u\n", a.levels);
		failed++;
	}
	if (ptmm_frame_table_meta_bytes(0, (uint64_t)1 << 30) <
	    ((uint64_t)1 << 18) * sizeof(struct ptmm_frame_slot)) {
		std::printf("ptmm_frame_table_meta_bytes(1G) too small\n");
		failed++;
	}
	std::printf("%d layout entries compared, %s\n", (int)LAYOUT_COUNT,
		    failed ? "FAILED" : "C and C++ agree");
	return failed ? 1 : 0;
}
