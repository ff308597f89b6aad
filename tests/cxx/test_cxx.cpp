/*
 * test_cxx.cpp - the public header from C++ (docs/EMBEDDING.md, "C++").
 *
 * This file compiles only if <ptmm/mm.h> is valid C++ (-Wall -Wextra
 * -Wpedantic -Werror), links only if its declarations have C linkage, and
 * passes only if C and C++ agree on the layout of every public struct
 * (MM_ATOMIC members are plain types in C++) and the calls behave.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <ptmm/mm.h>

#include "layout.h"

extern "C" void mm_assert_failed(const char *file, int line, const char *cond)
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
	if (std::strcmp(mm_strerror(MM_EEXIST), "exist") != 0) {
		std::printf("mm_strerror(MM_EEXIST) = %s\n", mm_strerror(MM_EEXIST));
		failed++;
	}
	struct mm_arch a;
	mm_arch_x86_64_init(&a, MM_FEAT_X86_NX, nullptr);
	struct mm_prop p = mm_prop_make(MM_PROP_R | MM_PROP_W, MM_CACHE_WB);
	if (a.levels != 4 || a.prop_check(&a, p) != MM_OK ||
	    a.prop_check(&a, mm_prop_make(MM_PROP_W, MM_CACHE_WB)) != MM_EINVAL) {
		std::printf("x86_64 encoder through C++: levels %u\n", a.levels);
		failed++;
	}
	if (frame_table_meta_bytes(0, (uint64_t)1 << 30) <
	    ((uint64_t)1 << 18) * sizeof(struct frame_slot)) {
		std::printf("frame_table_meta_bytes(1G) too small\n");
		failed++;
	}
	std::printf("%d layout entries compared, %s\n", (int)LAYOUT_COUNT,
		    failed ? "FAILED" : "C and C++ agree");
	return failed ? 1 : 0;
}
