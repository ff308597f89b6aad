/* errors.c - names of the mm error codes. */
#include "mm_types.h"

const char *mm_strerror(int err)
{
	switch (err) {
	case MM_OK: return "ok";
	case MM_EINVAL: return "inval";
	case MM_EALIGN: return "align";
	case MM_ERANGE: return "range";
	case MM_EEXIST: return "exist";
	case MM_ENOMEM: return "nomem";
	case MM_EPERM: return "perm";
	case MM_ENOTSUP: return "notsup";
	case MM_EBUSY: return "busy";
	}
	return "unknown";
}
