/*
 * cursor_ops.c - map, unmap and protect.
 *
 * Every changing operation runs in two passes over the same recursion:
 *
 *   1. a dry run that changes nothing: it finds every error (a mapping in
 *      the way, ...) and counts the nodes the operation will need (new
 *      tables, and one per split of a leaf straddling a boundary);
 *   2. the nodes are allocated up front (any failure: give them back,
 *      return PTMM_ENOMEM, nothing changed), then the real pass runs and
 *      cannot fail.
 *
 * That is what makes every operation all-or-nothing.  The dry run
 * descends only where the answer can differ: into existing tables, and
 * into *virtual* nodes that do not exist yet (V_ABSENT: a table about to
 * be created) or that a split would create (V_LEAVES: 512 present leaves).
 * A map or unmap of one 4 KiB page takes a shorter road to the same
 * result (see "one 4 KiB page" below).
 *
 * Per-entry loops use only the inline helpers of pte.h and templates
 * computed once per level per operation: no ops-table call per PTE.
 * Frame references are taken and dropped per run of contiguous leaves.
 */
#include <ptmm/cursor.h>

#include "cursor_internal.h"
#include "frame_internal.h"
#include "rmap_internal.h"
#include <ptmm/mm_assert.h>
#include <ptmm/pte.h>
#include "spinlock.h"

enum node_kind {
	V_REAL,   /* an existing node: read its entries */
	V_ABSENT, /* a node that will be created: every entry absent */
	V_LEAVES, /* a node a split will create: every entry a present leaf */
};

/* One map/unmap/protect in progress. */
struct op {
	struct ptmm_cursor *c;
	struct ptmm_frame_table *ft;
	const struct ptmm_arch *a;
	const struct ptmm_pte_format *f;
	/* map: VA offset va0 maps to pa0; protect: the new property */
	uint64_t va0, end;
	ptmm_paddr_t pa0;
	unsigned flags;
	unsigned max_level;
	struct ptmm_prop prop;
	ptmm_pte_t tag;                     /* map: software bits of every new leaf */
	ptmm_pte_t tmpl[PTMM_MAX_LEVELS + 1]; /* leaf templates per level, 0 = not yet */
	unsigned nodes;                /* dry run: nodes needed */
	uint64_t bytes;                /* bytes removed / mapped */
	/* Runs of contiguous leaves whose references are taken / dropped together. */
	ptmm_paddr_t ref_pa, unref_pa;
	uint64_t ref_size, ref_n, unref_size, unref_n;
	ptmm_paddr_t unref_ram_end; /* end of the RAM range holding the unref run */
};

static void op_init(struct op *op, struct ptmm_cursor *c)
{
	*op = (struct op){ .c = c, .ft = c->pt->ft, .a = c->arch, .f = &c->arch->fmt,
			   .max_level = ptmm_page_table_max_leaf_level(c->pt) };
}

/* Leaf template of the operation's property (and tag) at `level`, computed once. */
static ptmm_pte_t leaf_tmpl(struct op *op, unsigned level)
{
	if (!op->tmpl[level])
		op->tmpl[level] = op->a->leaf_template(op->a, op->prop, level) | op->tag;
	return op->tmpl[level];
}

/* Is the leaf `e` untracked (mapped without frame references)? */
static inline bool leaf_untracked(const struct op *op, ptmm_pte_t e)
{
	return (e & op->f->untracked) != 0;
}

/* Span of entry i of a node at `level` starting at `base`, clipped to [t, hi). */
struct span {
	unsigned i;
	uint64_t start, end, stop;
	bool full; /* [t, stop) is the whole entry */
};

static inline struct span entry_span(unsigned level, uint64_t base, uint64_t t, uint64_t hi)
{
	struct span s;
	uint64_t size = ptmm_level_size(level);
	s.i = ptmm_level_index(t, level);
	s.start = base + (uint64_t)s.i * size;
	s.end = s.start + size;
	s.stop = hi < s.end ? hi : s.end;
	s.full = t == s.start && s.stop == s.end;
	return s;
}

/* ---- frame references, batched per run ---- */

static void ref_flush(struct op *op)
{
	if (op->ref_n)
		ptmm__frame_map_leaves(op->ft, op->ref_pa, op->ref_size, op->ref_n, &op->c->block_hint);
	op->ref_n = 0;
}

static void unref_flush(struct op *op)
{
	if (op->unref_n)
		ptmm__frame_unmap_leaves(op->ft, op->unref_pa, op->unref_size, op->unref_n,
				   &op->c->rel, &op->c->block_hint);
	op->unref_n = 0;
}

/* Take the references of a new leaf (nothing for MMIO or untracked RAM). */
static void ref_leaf(struct op *op, ptmm_paddr_t pa, uint64_t size)
{
	if (op->flags & (PTMM_MAP_MMIO | PTMM_MAP_UNTRACKED))
		return;
	if (op->ref_n && op->ref_size == size && op->ref_pa + op->ref_n * size == pa) {
		op->ref_n++;
		return;
	}
	ref_flush(op);
	op->ref_pa = pa;
	op->ref_size = size;
	op->ref_n = 1;
}

/* unref_tracked when the leaf does not extend the run: start a new one. */
static void unref_new_run(struct op *op, ptmm_paddr_t pa, uint64_t size)
{
	ptmm_paddr_t ram_end = ptmm__frame_ram_range_end(op->ft, pa);
	if (ram_end == 0)
		return; /* MMIO */
	unref_flush(op);
	op->unref_pa = pa;
	op->unref_size = size;
	op->unref_n = 1;
	op->unref_ram_end = ram_end;
}

/* Drop the references of a removed leaf of tracked RAM or MMIO (not untracked) at `pa`. */
static inline void unref_tracked(struct op *op, ptmm_paddr_t pa, uint64_t size)
{
	/*
	 * A leaf that extends the run inside the run's RAM range is RAM: no
	 * look at its own slot (for 2 MiB leaves a cache and TLB miss each).
	 */
	if (op->unref_n && op->unref_size == size && op->unref_pa + op->unref_n * size == pa &&
	    pa + size <= op->unref_ram_end) {
		op->unref_n++;
		return;
	}
	unref_new_run(op, pa, size);
}

/* Drop the references of the removed leaf `e` (MMIO and untracked leaves have none). */
static void unref_leaf(struct op *op, ptmm_pte_t e, unsigned level)
{
	ptmm_paddr_t pa = ptmm_pte_addr(op->f, e, level);
	uint64_t size = ptmm_level_size(level);
	op->bytes += size;
	if (!leaf_untracked(op, e))
		unref_tracked(op, pa, size);
}

/* ---- node reserve ---- */

/* Free the nodes still in the cursor's reserve (never part of any tree). */
static void give_back_reserve(struct ptmm_cursor *c)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	while (c->reserve != PTMM_FRAME_NIL) {
		struct ptmm_frame_slot *s = &ft->slots[c->reserve];
		c->reserve = s->next;
		ptmm__frame_node_free(ft, ptmm_frame_slot_pa(ft, s));
	}
}

/* Allocate `n` nodes for the operation; on failure none are kept. */
static int reserve_nodes(struct ptmm_cursor *c, unsigned n)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	for (unsigned k = 0; k < n; k++) {
		ptmm_paddr_t pa;
		int err = ptmm__frame_node_alloc(ft, c->pt->node_zone, 0, &pa);
		if (err) {
			give_back_reserve(c);
			return err;
		}
		struct ptmm_frame_slot *s = ptmm_frame_slot_of(ft, pa);
		s->next = c->reserve;
		c->reserve = frame_slot_index(ft, s);
	}
	return PTMM_OK;
}

/* A reserved node becomes a (locked, owned) node at `level` spanning from base. */
static void take_node(struct ptmm_cursor *c, unsigned level, uint64_t base, struct walk_node *out)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	PTMM_ASSERT(c->reserve != PTMM_FRAME_NIL); /* the dry pass reserved every node the real one takes */
	struct ptmm_frame_slot *s = &ft->slots[c->reserve];
	c->reserve = s->next;
	s->level = (uint8_t)level;
	/*
	 * Born locked, by taking the lock (never by storing it): a walker
	 * that still holds the lock of this frame's previous life lets go
	 * of it as soon as it sees the new generation.
	 */
	mm_spin_lock(&s->lock);
	c->nodes_delta++;
	out->slot = s;
	out->pa = ptmm_frame_slot_pa(ft, s);
	out->tbl = ptmm_frame_to_virt(ft, out->pa);
	out->level = level;
	out->base = base;
}

/* Entry i of `parent` becomes a table pointing to `child`. */
static void link_child(struct ptmm_cursor *c, struct walk_node *parent, unsigned i,
		       const struct walk_node *child)
{
	ptmm_pte_t tmpl = c->arch->table_template(c->arch, parent->level);
	ptmm_pte_link(&parent->tbl[i], ptmm_pte_make(&c->arch->fmt, tmpl, child->pa));
	parent->slot->nr_tables++;
}

/*
 * Replace the leaf in entry `sp.i` of `n` by a node of 512 leaves of the
 * next size down: same property, PA stepping by the child size.  The view
 * does not change.  Uses one reserved node.
 */
static void split_leaf(struct op *op, struct walk_node *n, const struct span *sp,
		       struct walk_node *child)
{
	ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp->i]);
	ptmm_paddr_t pa = ptmm_pte_addr(op->f, e, n->level);
	uint64_t step = ptmm_level_size(n->level - 1);
	struct ptmm_prop prop = op->a->leaf_prop(op->a, e, n->level);
	/* The children keep the parent's software tag (untracked stays untracked). */
	ptmm_pte_t tmpl = op->a->leaf_template(op->a, prop, n->level - 1) | (e & op->f->untracked);

	take_node(op->c, n->level - 1, sp->start, child);
	ptmm_pte_t *ctbl = child->tbl;
	/* As in fill_leaves: each child's entry is the previous one plus the step's field. */
	ptmm_pte_t ce = ptmm_pte_make(op->f, tmpl, pa), cstep = ptmm_pte_addr_step(op->f, tmpl, step);
	for (unsigned j = 0; j < PTMM_PTES_PER_NODE; j++, ce += cstep)
		ptmm_pte_write(&ctbl[j], ce);
	ptmm__rmap_split(op->c->pt, sp->start, n->level, e);
	child->slot->nr_children = PTMM_PTES_PER_NODE;
	if (!leaf_untracked(op, e) && ptmm_frame_is_ram(op->ft, pa))
		ptmm__frame_split_leaf(op->ft, pa, ptmm_level_size(n->level), &op->c->block_hint);
	link_child(op->c, n, sp->i, child);
}

/*
 * Remove the leaves among the `cnt` entries from entry i of `n`, each
 * wholly inside the range, up to the first table entry: the loop of
 * unmapping a big range (a run of huge leaves, or a level-1 node).
 * Returns the entries it went past.  The op's run of contiguous RAM
 * frames is followed in locals (the entry stores could alias the op's
 * fields) and handed back when it breaks and at the end.
 */
static unsigned remove_leaf_run(struct op *op, const struct walk_node *n, unsigned i, unsigned cnt)
{
	/* A copy the entry stores cannot alias: its fields stay in registers. */
	const struct ptmm_pte_format fmt = *op->f, *f = &fmt;
	unsigned level = n->level, k, removed = 0;
	uint64_t size = ptmm_level_size(level);
	ptmm_pte_t *tbl = n->tbl;
	uint64_t extend = 0;  /* leaves added to the op's run, not yet counted */
	ptmm_paddr_t next = 1;     /* frame that would extend the run (1: no run) */
	ptmm_paddr_t limit = 0;    /* end of the run's RAM range */
	if (op->unref_n && op->unref_size == size) {
		next = op->unref_pa + op->unref_n * size;
		limit = op->unref_ram_end;
	}
	for (k = 0; k < cnt; k++) {
		ptmm_pte_t e = ptmm_pte_read(&tbl[i + k]);
		if (!ptmm_pte_is_present(e))
			continue;
		if (!ptmm_pte_is_leaf(f, e, level))
			break;
		ptmm_pte_clear(&tbl[i + k]);
		ptmm__rmap_del(op->c->pt, n->base + (uint64_t)(i + k) * size, level, e);
		removed++;
		if (e & f->untracked)
			continue;
		ptmm_paddr_t pa = ptmm_pte_addr(f, e, level);
		if (pa == next && pa + size <= limit) {
			extend++;
			next += size;
			continue;
		}
		op->unref_n += extend;
		extend = 0;
		unref_tracked(op, pa, size);
		bool run = op->unref_n && op->unref_size == size &&
			   op->unref_pa + (op->unref_n - 1u) * size == pa;
		next = run ? pa + size : 1;
		limit = op->unref_ram_end;
	}
	op->unref_n += extend;
	n->slot->nr_children -= removed;
	op->bytes += (uint64_t)removed * size;
	return k;
}

/* drop_subtree for a node that holds only leaves (any level-1 node). */
static void drop_leaves(struct op *op, const struct walk_node *n)
{
	remove_leaf_run(op, n, 0, PTMM_PTES_PER_NODE);
}

/*
 * Retire every node and leaf below `n` (a node being cut from the tree),
 * clearing its entries as it goes: the node is then all zero when freed
 * (a zero block, reused without clearing).  Its lock is held and racing
 * walkers validate what they read, so the early clearing is not seen as
 * a state of the tree.
 */
static void drop_subtree(struct op *op, const struct walk_node *n)
{
	if (n->level == 1 || n->slot->nr_tables == 0) {
		drop_leaves(op, n); /* only leaves: one loop */
		return;
	}
	for (unsigned i = 0; i < PTMM_PTES_PER_NODE; i++) {
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[i]);
		if (!ptmm_pte_is_present(e))
			continue;
		ptmm_pte_clear(&n->tbl[i]);
		if (ptmm_pte_is_leaf(op->f, e, n->level)) {
			ptmm__rmap_del(op->c->pt, n->base + (uint64_t)i * ptmm_level_size(n->level), n->level, e);
			unref_leaf(op, e, n->level);
			continue;
		}
		struct walk_node child;
		ptmm__cursor_child(op->c, n, e, n->base + (uint64_t)i * ptmm_level_size(n->level), &child);
		drop_subtree(op, &child);
		cursor_retire_node(op->c, child.pa, child.level);
	}
	n->slot->nr_children = 0;
	n->slot->nr_tables = 0;
}

/* Remove whatever entry `sp.i` of `n` holds (a leaf, or a whole subtree). */
static void remove_entry(struct op *op, struct walk_node *n, const struct span *sp)
{
	ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp->i]);
	if (ptmm_pte_is_leaf(op->f, e, n->level)) {
		unref_leaf(op, e, n->level);
		ptmm_pte_clear(&n->tbl[sp->i]);
		ptmm__rmap_del(op->c->pt, sp->start, n->level, e);
		n->slot->nr_children--;
		return;
	}
	struct walk_node child;
	ptmm__cursor_child(op->c, n, e, sp->start, &child);
	drop_subtree(op, &child);
	cursor_detach_node(op->c, n->tbl, n->slot, sp->i, n->level, child.pa);
}

/* Is entry `e` of `n` present, and a leaf, in the node kind being walked? */
static inline bool kind_present(enum node_kind k, ptmm_pte_t e)
{
	return k == V_LEAVES || (k == V_REAL && ptmm_pte_is_present(e));
}

static inline bool kind_leaf(const struct op *op, enum node_kind k, ptmm_pte_t e, unsigned level)
{
	return k == V_LEAVES || (k == V_REAL && ptmm_pte_is_leaf(op->f, e, level));
}

/* ---- map ---- */

/*
 * Level of the leaf that map places at offset t: 1 without PTMM_MAP_HUGE;
 * with it, the largest level whose page size both VA and PA are aligned to
 * and that fits in what remains (MODEL.md section 5, PTSIM greedy rule).
 */
static unsigned choose_level(const struct op *op, uint64_t t)
{
	if (!(op->flags & PTMM_MAP_HUGE))
		return 1;
	ptmm_paddr_t pa = op->pa0 + (t - op->va0);
	for (unsigned l = op->max_level; l > 1; l--) {
		uint64_t size = ptmm_level_size(l);
		if (ptmm_is_aligned(t, size) && ptmm_is_aligned(pa, size) && op->end - t >= size)
			return l;
	}
	return 1;
}

/*
 * Number of consecutive entries from entry i of a node at `level`, the
 * first at offset t (where choose_level gave `level`), that map leaves of
 * that level: choose_level gives the same answer for all of them (VA and
 * PA stay aligned to the size), up to the end of [t, hi) or of the node.
 */
static unsigned leaf_run(unsigned level, unsigned i, uint64_t t, uint64_t hi)
{
	uint64_t fit = (hi - t) / ptmm_level_size(level);
	unsigned left = PTMM_PTES_PER_NODE - i;
	return fit < left ? (unsigned)fit : left;
}

static int map_dry(struct op *op, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
		   uint64_t base, uint64_t lo, uint64_t hi)
{
	bool replace = op->flags & PTMM_MAP_REPLACE;
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(level, base, t, hi);
		ptmm_pte_t e = kind == V_REAL ? ptmm_pte_read(&tbl[sp.i]) : 0;
		bool present = kind_present(kind, e);
		unsigned want = choose_level(op, t);
		int err = PTMM_OK;

		if (present && !replace && (want == level || kind_leaf(op, kind, e, level)))
			return PTMM_EEXIST; /* a leaf would be overwritten */
		if (want == level && !replace) {
			/* A run of leaves of this level: only an entry in the way matters. */
			unsigned cnt = leaf_run(level, sp.i, t, hi);
			if (kind == V_REAL)
				for (unsigned k = 1; k < cnt; k++)
					if (ptmm_pte_is_present(ptmm_pte_read(&tbl[sp.i + k])))
						return PTMM_EEXIST;
			t += (uint64_t)cnt * ptmm_level_size(level);
			continue;
		}
		if (want < level) {
			/* A child table is needed: new, split off a leaf, or existing. */
			if (!present) {
				op->nodes++;
				if (level - 1 > 1)
					err = map_dry(op, V_ABSENT, 0, level - 1, sp.start, t, sp.stop);
			} else if (kind_leaf(op, kind, e, level)) {
				op->nodes++;
				if (level - 1 > 1)
					err = map_dry(op, V_LEAVES, 0, level - 1, sp.start, t, sp.stop);
			} else {
				const ptmm_pte_t *ctbl = ptmm_frame_to_virt(op->ft, ptmm_pte_table_addr(op->f, e));
				err = map_dry(op, V_REAL, ctbl, level - 1, sp.start, t, sp.stop);
			}
			if (err)
				return err;
		}
		t = sp.stop;
	}
	return PTMM_OK;
}

/*
 * Write `cnt` leaves of the node's level into the absent entries from
 * entry i on, mapping VA offset t onwards; one reference run for them all.
 */
static void fill_leaves(struct op *op, struct walk_node *n, unsigned i, unsigned cnt,
			uint64_t t)
{
	uint64_t size = ptmm_level_size(n->level);
	ptmm_paddr_t pa = op->pa0 + (t - op->va0);
	ptmm_pte_t tmpl = leaf_tmpl(op, n->level);
	ptmm_pte_t *tbl = n->tbl;
	/*
	 * Entry k is entry 0 plus k steps (ptmm_pte_addr_step): the template has
	 * no bit where the additions carry (x86's PAT bit 12 of a huge leaf
	 * lies below the leaf's alignment).
	 */
	ptmm_pte_t e = ptmm_pte_make(op->f, tmpl, pa), step = ptmm_pte_addr_step(op->f, tmpl, size);
	ptmm__rmap_add(op->c->pt, t, n->level, pa, cnt);
	for (unsigned k = 0; k < cnt; k++, e += step)
		ptmm_pte_write(&tbl[i + k], e);
	n->slot->nr_children += cnt;
	if (op->flags & (PTMM_MAP_MMIO | PTMM_MAP_UNTRACKED))
		return; /* no references */
	ref_leaf(op, pa, size);
	op->ref_n += cnt - 1u; /* the run ref_leaf started or extended */
}

static void map_real(struct op *op, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(n->level, n->base, t, hi);
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp.i]);
		unsigned want = choose_level(op, t);

		if (want == n->level && !(op->flags & PTMM_MAP_REPLACE)) {
			/* The dry run found every entry of the run absent. */
			unsigned cnt = leaf_run(n->level, sp.i, t, hi);
			fill_leaves(op, n, sp.i, cnt, t);
			t += (uint64_t)cnt * ptmm_level_size(n->level);
			continue;
		}
		if (want == n->level) {
			ptmm_paddr_t pa = op->pa0 + (t - op->va0);
			if (ptmm_pte_is_present(e))
				remove_entry(op, n, &sp); /* replace: checked by the dry run */
			ptmm_pte_write(&n->tbl[sp.i], ptmm_pte_make(op->f, leaf_tmpl(op, n->level), pa));
			ptmm__rmap_add(op->c->pt, t, n->level, pa, 1);
			n->slot->nr_children++;
			ref_leaf(op, pa, ptmm_level_size(n->level));
		} else {
			struct walk_node child;
			if (!ptmm_pte_is_present(e)) {
				take_node(op->c, n->level - 1, sp.start, &child);
				link_child(op->c, n, sp.i, &child);
				n->slot->nr_children++;
			} else if (ptmm_pte_is_leaf(op->f, e, n->level)) {
				split_leaf(op, n, &sp, &child);
			} else {
				ptmm__cursor_child(op->c, n, e, sp.start, &child);
			}
			ptmm__cursor_cache_descend(op->c, &child, t);
			map_real(op, &child, t, sp.stop);
		}
		t = sp.stop;
	}
}

/* ---- unmap ---- */

/* Entries of the kernel root are shared tables: emptied, never removed. */
static bool entry_pinned(const struct op *op, unsigned level)
{
	return op->c->pt->space == PTMM_PT_KERNEL && level == op->a->levels;
}

static void unmap_dry(struct op *op, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
		      uint64_t base, uint64_t lo, uint64_t hi);

/* unmap_dry for the one entry of the node that holds offset t, clipped to [t, hi). */
static void unmap_dry_entry(struct op *op, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
			    uint64_t base, uint64_t t, uint64_t hi)
{
	struct span sp = entry_span(level, base, t, hi);
	ptmm_pte_t e = kind == V_REAL ? ptmm_pte_read(&tbl[sp.i]) : 0;
	if (!kind_present(kind, e) || sp.full)
		return;
	if (kind_leaf(op, kind, e, level)) {
		op->nodes++;
		unmap_dry(op, V_LEAVES, 0, level - 1, sp.start, t, sp.stop);
	} else {
		unmap_dry(op, V_REAL, ptmm_frame_to_virt(op->ft, ptmm_pte_table_addr(op->f, e)), level - 1,
			  sp.start, t, sp.stop);
	}
}

/*
 * Only an entry cut by a boundary of [lo, hi) can need a node (for the
 * split of a leaf straddling it), and only the first and the last entry
 * the range meets can be cut: the dry run of an unmap (and of a protect)
 * looks at those two per level, whatever the length.
 */
static void unmap_dry(struct op *op, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
		      uint64_t base, uint64_t lo, uint64_t hi)
{
	uint64_t size = ptmm_level_size(level);
	uint64_t last = (hi - 1) & ~(size - 1);
	unmap_dry_entry(op, kind, tbl, level, base, lo, hi);
	if (last > lo)
		unmap_dry_entry(op, kind, tbl, level, base, last, hi);
}


static void unmap_real(struct op *op, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(n->level, n->base, t, hi);
		if (sp.full) {
			/* Whole entries: leaves go in one loop, up to a table. */
			unsigned k = remove_leaf_run(op, n, sp.i, leaf_run(n->level, sp.i, t, hi));
			if (k) {
				t += (uint64_t)k * ptmm_level_size(n->level);
				continue;
			}
		}
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp.i]);
		if (!ptmm_pte_is_present(e)) {
			t = sp.stop;
			continue;
		}
		bool leaf = ptmm_pte_is_leaf(op->f, e, n->level);
		if (sp.full && (leaf || !entry_pinned(op, n->level))) {
			remove_entry(op, n, &sp);
		} else {
			struct walk_node child;
			if (leaf)
				split_leaf(op, n, &sp, &child);
			else
				ptmm__cursor_child(op->c, n, e, sp.start, &child);
			ptmm__cursor_cache_descend(op->c, &child, t);
			unmap_real(op, &child, t, sp.stop);
			if (child.slot->nr_children == 0 && ptmm__cursor_node_reclaimable(op->c->pt, child.level))
				cursor_detach_node(op->c, n->tbl, n->slot, sp.i, n->level, child.pa);
		}
		t = sp.stop;
	}
}

/* ---- protect ---- */

/* The leaf `e` at `level` with the new property (same PA, same software tag). */
static ptmm_pte_t leaf_protected(struct op *op, ptmm_pte_t e, unsigned level)
{
	return ptmm_pte_make(op->f, leaf_tmpl(op, level) | (e & op->f->untracked),
			ptmm_pte_addr(op->f, e, level));
}

/* Would the leaf `e` at `level` change under the new property? */
static bool leaf_changes(struct op *op, ptmm_pte_t e, unsigned level)
{
	return leaf_protected(op, e, level) != e;
}

static void protect_dry(struct op *op, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
			uint64_t base, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(level, base, t, hi);
		ptmm_pte_t e = kind == V_REAL ? ptmm_pte_read(&tbl[sp.i]) : 0;
		uint64_t from = t;
		t = sp.stop;
		if (!kind_present(kind, e) || sp.full)
			continue;
		if (kind_leaf(op, kind, e, level)) {
			/* Split only where the property really changes (virtual leaves do). */
			if (kind == V_REAL && !leaf_changes(op, e, level))
				continue;
			op->nodes++;
			protect_dry(op, V_LEAVES, 0, level - 1, sp.start, from, sp.stop);
		} else {
			protect_dry(op, V_REAL, ptmm_frame_to_virt(op->ft, ptmm_pte_table_addr(op->f, e)),
				    level - 1, sp.start, from, sp.stop);
		}
	}
}

static void protect_real(struct op *op, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(n->level, n->base, t, hi);
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp.i]);
		uint64_t from = t;
		t = sp.stop;
		if (!ptmm_pte_is_present(e))
			continue;
		struct walk_node child;
		if (ptmm_pte_is_leaf(op->f, e, n->level)) {
			if (!leaf_changes(op, e, n->level)) {
				op->bytes += sp.stop - from;
				continue;
			}
			if (sp.full) {
				ptmm_pte_write(&n->tbl[sp.i], leaf_protected(op, e, n->level));
				op->bytes += sp.stop - from;
				if (!PTMM_MUTANT(PTMM_MUT_PROTECT))
					cursor_record_flush(op->c, sp.start, sp.end);
				continue;
			}
			split_leaf(op, n, &sp, &child);
		} else {
			ptmm__cursor_child(op->c, n, e, sp.start, &child);
		}
		ptmm__cursor_cache_descend(op->c, &child, from);
		protect_real(op, &child, from, sp.stop);
	}
}

/* ---- one 4 KiB page: the common case, without the dry run ---- */

/*
 * A 4 KiB map or unmap touches one entry of one level-1 node, so the dry
 * run's questions have direct answers: walking down from the cached path
 * through existing tables is the dry run (an absent entry means "create
 * the nodes below", a huge leaf on the way means a split and is left to
 * the general path), and the only allocation is the chain of new nodes,
 * made before anything is written.  The result is exactly that of the
 * general path: same entries, same node and frame accounting, same
 * release list and flush record.
 */

/*
 * Deferred references.  Runs of one-page maps and unmaps inside one data
 * block (a kernel mapping a big allocation page by page) would take the
 * allocator lock on every call.  Instead the cursor keeps the net change
 * for that block in c->pend and applies it at the next settle: at
 * ptmm_cursor_flush (so before anything is released) and ptmm_cursor_close, before
 * any other map, unmap or protect of the cursor, and when a page of
 * another block comes.  When no cursor is open, the counts are exact.
 *
 * Why the block cannot be freed, merged or split while its counts lag
 * behind (which is what makes the unlocked updates safe): a deferred
 * unmap only leaves the count too high, so while pend < 0 the count is
 * above zero; a deferred map is allowed only while pend < 0 or once the
 * cursor has taken one reference on the block for real (pend_held), and
 * that reference keeps the count above zero whatever other handles and
 * mappings do.  The cursor's own leaves change only under its locks.
 */

/* May the page at `pa` use the deferred count of the cursor's block? */
static inline bool pend_covers(const struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	return pa - c->pend_pa < c->pend_size && (c->pend_held || c->pend < 0);
}

/* Start deferring the references of the block whose head is slot `head`. */
static void pend_begin(struct ptmm_cursor *c, uint32_t head, int32_t pend, bool held)
{
	const struct ptmm_frame_table *ft = c->pt->ft;
	c->pend_block = head;
	c->pend_pa = ptmm_frame_slot_pa(ft, &ft->slots[head]);
	c->pend_size = PTMM_PAGE_SIZE << ft->slots[head].order;
	c->pend_ref = &ft->slots[head].refcount;
	c->pend = pend;
	c->pend_held = held;
}

void ptmm__cursor_settle_refs(struct ptmm_cursor *c)
{
	if (c->pend_block == PTMM_FRAME_NIL)
		return;
	if (c->pend)
		ptmm__frame_settle_refs(c->pt->ft, c->pend_block, c->pend, &c->rel);
	c->pend_block = PTMM_FRAME_NIL;
	c->pend_size = 0;
	c->pend_ref = (PTMM_ATOMIC(uint32_t) *)0;
	c->pend = 0;
	c->pend_held = false;
}

/* take_page_ref when the page is not of the deferred block: a real reference. */
static int take_page_ref_real(struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	ptmm__cursor_settle_refs(c);
	int err = ptmm__frame_map_page(ft, pa, &c->block_hint);
	if (!err)
		pend_begin(c, c->block_hint, 0, true);
	return err;
}

/*
 * May one more reference be deferred on the cursor's block?  The same
 * overflow rule as ptmm__frame_map_check, counting what is deferred.
 */
static inline bool pend_has_room(const struct ptmm_cursor *c)
{
	PTMM_ASSERT(c->pend_ref == &c->pt->ft->slots[c->pend_block].refcount);
	uint32_t rc = atomic_load_explicit(c->pend_ref, memory_order_relaxed);
	return (int64_t)rc + c->pend + 1 <= (int64_t)PTMM_FRAME_REF_MAX;
}

/* Take the reference of a new 4 KiB leaf of `pa`; the errors of ptmm__frame_map_check. */
static inline int take_page_ref(struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	if (!pend_covers(c, pa))
		return take_page_ref_real(c, pa);
	if (!pend_has_room(c))
		return PTMM_ENOMEM;
	c->pend++;
	return PTMM_OK;
}

/*
 * Drop (deferred) the reference of a removed 4 KiB leaf of tracked RAM at
 * `pa`, which is not of the deferred block.
 */
static void drop_page_ref_other(struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	/*
	 * Start deferring for the block of pa.  Once settled, the leaf's
	 * reference is real, so its block cannot change under the lookup,
	 * and with pend < 0 it cannot until the next settle.
	 */
	ptmm__cursor_settle_refs(c);
	pend_begin(c, ptmm__frame_mapped_block(c->pt->ft, pa, &c->block_hint), -1, false);
}

/* Outcome of a one-page walk that the general path must handle instead. */
#define PAGE_NEEDS_GENERAL 1

/*
 * Create the chain of nodes from the absent entry of `n` (level > 1) down
 * to level 1 for offset t, from the cursor's reserve; `n` ends at level 1.
 */
static void build_chain(struct ptmm_cursor *c, uint64_t t, struct walk_node *n)
{
	while (n->level > 1) {
		unsigned i = ptmm_level_index(t, n->level);
		struct walk_node child;
		take_node(c, n->level - 1, n->base + (uint64_t)i * ptmm_level_size(n->level), &child);
		link_child(c, n, i, &child);
		n->slot->nr_children++;
		ptmm__cursor_cache_descend(c, &child, t);
		*n = child;
	}
}

/*
 * Install the 4 KiB leaf `pte` in the absent entry i of the level-1 node
 * `n` for offset t (its reference already taken) and move past it.
 */
static inline void install_page_leaf(struct ptmm_cursor *c, const struct walk_node *n, unsigned i,
				     ptmm_pte_t pte, uint64_t t)
{
	ptmm_pte_write(&n->tbl[i], pte);
	ptmm__rmap_add(c->pt, t, 1, ptmm_pte_addr(&c->arch->fmt, pte, 1), 1);
	n->slot->nr_children++;
	if (!PTMM_MUTANT(PTMM_MUT_MAP_PAGE))
		cursor_record_flush(c, t, t + PTMM_PAGE_SIZE);
	c->va = t + PTMM_PAGE_SIZE;
}

/*
 * Map the page at the current VA to the tracked RAM frame `pa` with the
 * level-1 template `tmpl`, no replace.  Errors, in the general path's
 * order: those of ptmm__frame_map_check, PTMM_EEXIST (a leaf in the way),
 * PTMM_ENOMEM (no node); on any of them nothing changed.
 */
static int map_page(struct ptmm_cursor *c, ptmm_paddr_t pa, ptmm_pte_t tmpl)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	uint64_t t = c->va;
	struct walk_node n;
	int err;
	if (ptmm_pte_is_present(cursor_walk_page(c, t, &n))) {
		err = ptmm__frame_map_check(ft, pa, PTMM_PAGE_SIZE, &c->block_hint);
		return err ? err : PTMM_EEXIST;
	}
	if (n.level > 1) {
		/* The frame is checked before the nodes are asked for, then taken. */
		err = ptmm__frame_map_check(ft, pa, PTMM_PAGE_SIZE, &c->block_hint);
		if (!err)
			err = reserve_nodes(c, n.level - 1u);
		if (err)
			return err;
		err = take_page_ref(c, pa);
		if (err) {
			give_back_reserve(c);
			return err;
		}
		build_chain(c, t, &n);
	} else {
		err = take_page_ref(c, pa);
		if (err)
			return err;
	}
	install_page_leaf(c, &n, ptmm_level_index(t, 1), ptmm_pte_make(&c->arch->fmt, tmpl, pa), t);
	return PTMM_OK;
}

/*
 * ptmm__cursor_reclaim_path after a one-page unmap that left the node at
 * `level` (the end of the cached path, holding offset t) empty.  The
 * common case, an emptied level-1 node under a node that keeps other
 * children, is done here: its parent's entry and slot are the ones the
 * walk just came through, and a call would cost more than the detach.
 */
static inline void reclaim_page_path(struct ptmm_cursor *c, unsigned level, uint64_t t)
{
	if (level == 1 && c->guard_level > 1) {
		PTMM_ASSERT(c->level == 1 && ptmm__cursor_node_reclaimable(c->pt, 1));
		cursor_detach_node(c, c->table[2], c->slot[2], ptmm_level_index(t, 2), 2, c->node[1]);
		if (c->slot[2]->nr_children != 0)
			return;
		level = 2;
	}
	ptmm__cursor_reclaim_path(c, level, t);
}

/*
 * Unmap the page at the current VA, reclaiming the nodes it leaves empty.
 * PAGE_NEEDS_GENERAL (nothing changed) if a huge leaf covers it: that
 * needs a split.
 */
static int unmap_page(struct ptmm_cursor *c, uint64_t *removed)
{
	uint64_t t = c->va;
	struct walk_node n;
	ptmm_pte_t e = cursor_walk_page(c, t, &n);
	uint64_t bytes = 0;
	if (ptmm_pte_is_present(e) && n.level > 1)
		return PAGE_NEEDS_GENERAL;
	if (ptmm_pte_is_present(e)) {
		ptmm_pte_clear(&n.tbl[ptmm_level_index(t, 1)]);
		ptmm__rmap_del(c->pt, t, 1, e);
		n.slot->nr_children--;
		bytes = PTMM_PAGE_SIZE;
	}
	/*
	 * As the general path: empty nodes detached bottom-up (the walk
	 * cached the path, so n is the deepest cached node), then the frame.
	 */
	if (n.slot->nr_children == 0)
		reclaim_page_path(c, n.level, t);
	if (bytes) {
		ptmm_paddr_t pa = ptmm_pte_addr(&c->arch->fmt, e, 1);
		bool tracked = !(e & c->arch->fmt.untracked);
		/* A frame of the deferred block is RAM: no need to look. */
		if (tracked && pend_covers(c, pa))
			c->pend--;
		else if (tracked && frame_pa_is_ram(c->pt->ft, pa))
			drop_page_ref_other(c, pa);
		/* A removed table already makes the flush a full one (sparse unmaps). */
		if (!c->flush_tables && !PTMM_MUTANT(PTMM_MUT_UNMAP_PAGE))
			cursor_record_flush(c, t, t + PTMM_PAGE_SIZE);
	}
	if (removed)
		*removed = bytes;
	c->va = t + PTMM_PAGE_SIZE;
	return PTMM_OK;
}

/* ---- the public operations ---- */

/* PTMM_OK if `p` is valid for this table and expressible by its architecture. */
static int check_prop(const struct ptmm_cursor *c, struct ptmm_prop p)
{
	if ((p.flags & ~PTMM_PROP_ALL) || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	/* Global pages belong to the kernel half, user pages to the user half. */
	if (p.flags & (c->pt->space == PTMM_PT_USER ? PTMM_PROP_G : PTMM_PROP_U))
		return PTMM_EINVAL;
	return c->arch->prop_check(c->arch, p);
}

/* Is `p` the property whose check and level-1 template the cursor cached? */
static inline bool prop_cached(const struct ptmm_cursor *c, struct ptmm_prop p)
{
	return c->leaf_tmpl && ptmm_prop_eq(p, c->leaf_prop);
}

/*
 * Level-1 leaf template of the (checked) property `p`, cached per cursor.
 * Only write-back properties are cached: the one-page fast path trusts a
 * cached property for any frame of the deferred block, and the
 * one-memory-type rule (ptmm_frame_range_wb_only) was checked for other frames.
 */
static ptmm_pte_t leaf_tmpl_cached(struct ptmm_cursor *c, struct ptmm_prop p, bool cached)
{
	if (p.cache != PTMM_CACHE_WB)
		return c->arch->leaf_template(c->arch, p, 1);
	if (!cached) {
		c->leaf_tmpl = c->arch->leaf_template(c->arch, p, 1);
		c->leaf_inv = ptmm_pte_inversion(&c->arch->fmt, c->leaf_tmpl);
		c->leaf_prop = p;
	}
	return c->leaf_tmpl;
}

/*
 * The one-memory-type rule for RAM (frame.h, ptmm_frame_zone_set_wb_only):
 * PTMM_EPERM if `cache` is not write-back and [pa, pa+len) touches a
 * wb-only zone.  Device memory (MMIO) has no write-back alias.
 */
static int check_cache_rule(const struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, unsigned cache,
			    unsigned flags)
{
	if (cache == PTMM_CACHE_WB || (flags & PTMM_MAP_MMIO))
		return PTMM_OK;
	return ptmm_frame_range_wb_only(c->pt->ft, pa, len) ? PTMM_EPERM : PTMM_OK;
}

/*
 * The same rule for a protect to `cache` over [c->va, c->va+len): every
 * RAM leaf there (no-access ones too: protect can make them accessible).
 */
static int check_cache_rule_leaves(struct ptmm_cursor *c, uint64_t len, unsigned cache)
{
	if (cache == PTMM_CACHE_WB)
		return PTMM_OK;
	uint64_t va = c->va, hi = c->va + len, mask = ptmm__cursor_tree_mask(c->arch);
	int err = PTMM_OK;
	struct ptmm_mapping m;
	while (!err && c->va < hi && ptmm_cursor_find_next(c, hi - c->va, &m) == 1) {
		uint64_t lo = m.va & mask, end = lo + m.size;
		uint64_t from = lo > c->va ? lo : c->va, to = end < hi ? end : hi;
		if (!m.mmio && ptmm_frame_range_wb_only(c->pt->ft, m.pa + (from - lo), to - from))
			err = PTMM_EPERM;
		c->va = to;
	}
	c->va = va;
	return err;
}

static int map_general(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, struct ptmm_prop prop,
		       unsigned flags);

/*
 * The commonest one-page calls, done with no call and no stack frame (the
 * entry point then costs nothing to enter or leave): the cursor's cached
 * path ends in the level-1 node of the current VA and the frame lies in
 * the block whose references the cursor defers.  They return false, with
 * nothing changed, whenever that or anything else of the common case does
 * not hold; the full path (cursor_map_slow, cursor_unmap_slow) then gives
 * the same answer, errors included.
 */

/* Map one 4 KiB page: the entry is absent and the property is the cached one. */
static inline bool map_page_fast(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len,
				 struct ptmm_prop prop, unsigned flags)
{
	uint64_t t = c->va;
	if (len != PTMM_PAGE_SIZE || (flags & ~(unsigned)PTMM_MAP_HUGE) || c->end - t < len ||
	    !ptmm_is_aligned(pa, PTMM_PAGE_SIZE) || !prop_cached(c, prop) || !pend_covers(c, pa))
		return false;
	struct walk_node n;
	if (!cursor_cached_leaf_node(c, t, &n))
		return false;
	unsigned i = ptmm_level_index(t, 1);
	if (ptmm_pte_read(&n.tbl[i]) || !pend_has_room(c))
		return false;
	c->pend++;
	/* The template's inversion is cached with it (leaf_tmpl_cached). */
	PTMM_ASSERT(c->leaf_inv == ptmm_pte_inversion(&c->arch->fmt, c->leaf_tmpl));
	install_page_leaf(c, &n, i, ptmm_pte_make_inv(&c->arch->fmt, c->leaf_tmpl, c->leaf_inv, pa), t);
	return true;
}

/* Unmap one 4 KiB page: a tracked leaf whose node does not become empty. */
static inline bool unmap_page_fast(struct ptmm_cursor *c, uint64_t len, uint64_t *removed)
{
	uint64_t t = c->va;
	struct walk_node n;
	if (len != PTMM_PAGE_SIZE || c->end - t < len || !cursor_cached_leaf_node(c, t, &n))
		return false;
	unsigned i = ptmm_level_index(t, 1);
	ptmm_pte_t e = ptmm_pte_read(&n.tbl[i]);
	if (!e || (e & c->arch->fmt.untracked) || n.slot->nr_children < 2 ||
	    !pend_covers(c, ptmm_pte_addr(&c->arch->fmt, e, 1)))
		return false;
	ptmm_pte_clear(&n.tbl[i]);
	ptmm__rmap_del(c->pt, t, 1, e);
	n.slot->nr_children--;
	c->pend--;
	if (!PTMM_MUTANT(PTMM_MUT_UNMAP_FAST))
		cursor_record_flush(c, t, t + PTMM_PAGE_SIZE);
	if (removed)
		*removed = PTMM_PAGE_SIZE;
	c->va = t + PTMM_PAGE_SIZE;
	return true;
}

static int cursor_map_slow(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, struct ptmm_prop prop,
			   unsigned flags);

int ptmm_cursor_map(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, struct ptmm_prop prop, unsigned flags)
{
	if (map_page_fast(c, pa, len, prop, flags))
		return PTMM_OK;
	return cursor_map_slow(c, pa, len, prop, flags);
}

/* ptmm_cursor_map in full: every check, then the one-page or the general path. */
static __attribute__((noinline)) int cursor_map_slow(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len,
						     struct ptmm_prop prop, unsigned flags)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	if (!ptmm_is_aligned(pa, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (flags & ~(unsigned)(PTMM_MAP_HUGE | PTMM_MAP_REPLACE | PTMM_MAP_MMIO | PTMM_MAP_UNTRACKED))
		return PTMM_EINVAL;
	/* Untracked RAM is a kernel-table facility (direct map, image), and not MMIO. */
	if ((flags & PTMM_MAP_UNTRACKED) &&
	    ((flags & PTMM_MAP_MMIO) || c->pt->space != PTMM_PT_KERNEL))
		return PTMM_EINVAL;
	bool cached = prop_cached(c, prop); /* checked before */
	err = cached ? PTMM_OK : check_prop(c, prop);
	if (err)
		return err;
	/*
	 * A PA the PTE cannot hold would be silently truncated.  (The fast
	 * path needs no such check: it maps only frames of a RAM block the
	 * cursor already references, inside the slot window, which
	 * ptmm_page_table_init_* keeps below 2^pa_bits.)
	 */
	if (!ptmm_arch_pa_fits(c->arch, pa, len))
		return PTMM_ERANGE;
	err = check_cache_rule(c, pa, len, prop.cache, flags);
	if (err)
		return err;
	/* One page of tracked RAM, nothing to replace: no dry run needed. */
	if (len == PTMM_PAGE_SIZE && !(flags & ~(unsigned)PTMM_MAP_HUGE))
		return map_page(c, pa, leaf_tmpl_cached(c, prop, cached));
	return map_general(c, pa, len, prop, flags);
}

/*
 * ptmm_cursor_map past its argument checks: the frame check, the dry run, the
 * reserve and the real pass.  Out of line so that the one-page path does
 * not set up this path's stack frame.
 */
static __attribute__((noinline)) int map_general(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len,
						 struct ptmm_prop prop, unsigned flags)
{
	int err;
	if (flags & PTMM_MAP_MMIO)
		err = ptmm_frame_range_is_mmio(c->pt->ft, pa, len) ? PTMM_OK : PTMM_ERANGE;
	else if (flags & PTMM_MAP_UNTRACKED)
		err = ptmm_frame_range_is_ram(c->pt->ft, pa, len) ? PTMM_OK : PTMM_ERANGE;
	else
		err = ptmm__frame_map_check(c->pt->ft, pa, len, &c->block_hint);
	if (err)
		return err;

	ptmm__cursor_settle_refs(c); /* the general path counts on exact references */
	struct op op;
	op_init(&op, c);
	op.va0 = c->va;
	op.end = c->va + len;
	op.pa0 = pa;
	op.flags = flags;
	op.prop = prop;
	op.tag = (flags & PTMM_MAP_UNTRACKED) ? c->arch->fmt.untracked : 0;
	struct walk_node n;
	ptmm__cursor_start_node(c, op.va0, op.end, &n);
	err = map_dry(&op, V_REAL, n.tbl, n.level, n.base, op.va0, op.end);
	if (!err)
		err = reserve_nodes(c, op.nodes);
	if (err)
		return err;
	map_real(&op, &n, op.va0, op.end);
	ref_flush(&op);
	unref_flush(&op);
	give_back_reserve(c);
	if (!PTMM_MUTANT(PTMM_MUT_MAP_GENERAL))
		cursor_record_flush(c, op.va0, op.end);
	c->va = op.end;
	return PTMM_OK;
}

static int unmap_general(struct ptmm_cursor *c, uint64_t len, uint64_t *removed);
static int cursor_unmap_slow(struct ptmm_cursor *c, uint64_t len, uint64_t *removed);

int ptmm_cursor_unmap(struct ptmm_cursor *c, uint64_t len, uint64_t *removed)
{
	if (unmap_page_fast(c, len, removed))
		return PTMM_OK;
	return cursor_unmap_slow(c, len, removed);
}

/* ptmm_cursor_unmap in full: the checks, then the one-page or the general path. */
static __attribute__((noinline)) int cursor_unmap_slow(struct ptmm_cursor *c, uint64_t len,
						       uint64_t *removed)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	if (len == PTMM_PAGE_SIZE) {
		err = unmap_page(c, removed);
		if (err != PAGE_NEEDS_GENERAL)
			return err;
	}
	return unmap_general(c, len, removed);
}

/* ptmm_cursor_unmap past its checks; out of line for the reason of map_general. */
static __attribute__((noinline)) int unmap_general(struct ptmm_cursor *c, uint64_t len,
						   uint64_t *removed)
{
	int err;
	ptmm__cursor_settle_refs(c); /* the general path counts on exact references */
	struct op op;
	op_init(&op, c);
	uint64_t lo = c->va, hi = c->va + len;
	struct walk_node n;
	ptmm__cursor_start_node(c, lo, hi, &n);
	unmap_dry(&op, V_REAL, n.tbl, n.level, n.base, lo, hi);
	err = reserve_nodes(c, op.nodes);
	if (err)
		return err;
	unmap_real(&op, &n, lo, hi);
	ptmm__cursor_reclaim_path(c, n.level, lo);
	unref_flush(&op);
	give_back_reserve(c);
	if (op.bytes && !PTMM_MUTANT(PTMM_MUT_UNMAP_GENERAL))
		cursor_record_flush(c, lo, hi);
	if (removed)
		*removed = op.bytes;
	c->va = hi;
	return PTMM_OK;
}

int ptmm_cursor_protect(struct ptmm_cursor *c, uint64_t len, struct ptmm_prop prop, uint64_t *mapped)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	err = check_prop(c, prop);
	if (!err)
		err = check_cache_rule_leaves(c, len, prop.cache);
	if (err)
		return err;
	ptmm__cursor_settle_refs(c); /* splits count references too */
	struct op op;
	op_init(&op, c);
	op.prop = prop;
	uint64_t lo = c->va, hi = c->va + len;
	struct walk_node n;
	ptmm__cursor_start_node(c, lo, hi, &n);
	protect_dry(&op, V_REAL, n.tbl, n.level, n.base, lo, hi);
	err = reserve_nodes(c, op.nodes);
	if (err)
		return err;
	protect_real(&op, &n, lo, hi);
	give_back_reserve(c);
	if (mapped)
		*mapped = op.bytes;
	c->va = hi;
	return PTMM_OK;
}
