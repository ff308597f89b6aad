/*
 * model.h - the explorer's reference model: the view as an interval map.
 *
 * The view of one address-space half is a sorted array of leaves
 * {offset from the half's base, size, pa, property, mmio}, and every
 * operation is the contract of docs/PTSIM.md ("Semantics") and nothing
 * else: greedy page sizes for huge maps, splits that step the PA by the
 * child's size, protect splitting only where the property changes,
 * replace as unmap + map, no implicit merge.  The model knows nothing of
 * page-table nodes except how many the contract says there are (the root
 * plus every node on a path to a leaf).  It is written independently of
 * mm/ (no mm code is called) so that a shared mistake is unlikely.
 */
#ifndef EXPLORE_MODEL_H
#define EXPLORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ptmm/prop.h>

struct model_leaf {
	uint64_t off;  /* offset from the half's base */
	uint64_t size;
	uint64_t pa;
	struct ptmm_prop prop;
	bool mmio;
};

/* Geometry and machine facts the contract depends on. */
struct model_geom {
	unsigned levels;     /* root level */
	unsigned max_level;  /* highest leaf level a huge map may use */
	uint64_t half_size;  /* bytes of the half */
	bool kernel;         /* kernel half: root entries preallocated */
	uint64_t mem;        /* data RAM [0, mem), claimable */
	uint64_t pool_end;   /* node pool [mem, pool_end): map is EPERM */
	uint64_t pa_limit;   /* first PA the PTEs cannot hold (mmio: ERANGE) */
};

struct model {
	struct model_leaf *v;
	size_t n, cap;
	const struct model_geom *g;
};

void model_init(struct model *m, const struct model_geom *g);
void model_free(struct model *m);
void model_copy(struct model *dst, const struct model *src);

/*
 * The set of answers the contract allows for a request, as a bit set over
 * -code (bit 0 = PTMM_OK, bit 1 = PTMM_EINVAL, ...): when several errors apply
 * any of them is correct (PTSIM.md).
 */
typedef unsigned model_codes;
#define MODEL_CODE(err) (1u << (unsigned)(-(err)))

/*
 * map / mmio of [off, off+len) to [pa, pa+len): returns the codes allowed;
 * if PTMM_OK is the only one, applies it.  `prop_ok` is the architecture's
 * answer for the property (PTMM_OK, PTMM_EINVAL, PTMM_ENOTSUP), checked by the
 * caller against the encoder's rules.
 */
model_codes model_map(struct model *m, uint64_t off, uint64_t len, uint64_t pa,
		      struct ptmm_prop prop, int prop_ok, bool huge, bool replace, bool mmio);
/* unmap: codes, and on success *bytes and the change applied. */
model_codes model_unmap(struct model *m, uint64_t off, uint64_t len, uint64_t *bytes);
/* protect: codes, and on success *bytes (mapped bytes in range) and the change. */
model_codes model_protect(struct model *m, uint64_t off, uint64_t len, struct ptmm_prop prop,
			  int prop_ok, uint64_t *bytes);
/* The leaf containing off, or NULL (query). */
const struct model_leaf *model_leaf_at(const struct model *m, uint64_t off);
/* The first leaf meeting [off, off+len), or NULL (find). */
const struct model_leaf *model_find(const struct model *m, uint64_t off, uint64_t len);
/* Codes of a range check alone (query, find, a batch cursor). */
model_codes model_range(const struct model *m, uint64_t off, uint64_t len);

/* The contract's stats: nodes (root included), mapped bytes, distinct RAM frames. */
uint64_t model_nodes(const struct model *m);
uint64_t model_mapped(const struct model *m);
uint64_t model_frames(const struct model *m);

#endif /* EXPLORE_MODEL_H */
