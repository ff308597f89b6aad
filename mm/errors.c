/* errors.c - names of the mm error codes. */
#include <ptmm/mm_types.h>

const char *ptmm_strerror(int err)
{
	switch (err) {
	case PTMM_OK: return "ok";
	case PTMM_EINVAL: return "inval";
	case PTMM_EALIGN: return "align";
	case PTMM_ERANGE: return "range";
	case PTMM_EEXIST: return "exist";
	case PTMM_ENOMEM: return "nomem";
	case PTMM_EPERM: return "perm";
	case PTMM_ENOTSUP: return "notsup";
	case PTMM_EBUSY: return "busy";
	}
	return "unknown";
}
