/* layout_c.c - the public structs' layout as C sees it (layout.h). */
#include <ptmm/mm.h>

#include "layout.h"

#define LAYOUT_ENTRY(e) (e),
const size_t layout_c[LAYOUT_COUNT] = { LAYOUT_FIELDS(LAYOUT_ENTRY) };
