/*
 * cursor_ops.c - map, unmap and protect.
 *
 * Every changing operation runs in two passes over the same recursion:
 *
 *   1. a dry run that changes nothing: it finds every error (a mapping in
 *      the way, ...) and counts the nodes the operation will need (new
 *      tables, and one per split of a leaf straddling a boundary);
 *   2. the nodes are allocated up front (any failure: give them back,
 *      return MM_ENOMEM, nothing changed), then the real pass runs and
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
#include "cursor.h"

#include "cursor_internal.h"
#include "frame_internal.h"
#include "mm_assert.h"
#include "pte.h"
#include "spinlock.h"

enum node_kind {
	V_REAL,   /* an existing node: read its entries */
	V_ABSENT, /* a node that will be created: every entry absent */
	V_LEAVES, /* a node a split will create: every entry a present leaf */
};

/* One map/unmap/protect in progress. */
struct op {
	struct cursor *c;
	struct frame_table *ft;
	const struct mm_arch *a;
	const struct pte_format *f;
	/* map: VA offset va0 maps to pa0; protect: the new property */
	uint64_t va0, end;
	paddr_t pa0;
	unsigned flags;
	unsigned max_level;
	struct mm_prop prop;
	pte_t tag;                     /* map: software bits of every new leaf */
	pte_t tmpl[MM_MAX_LEVELS + 1]; /* leaf templates per level, 0 = not yet */
	unsigned nodes;                /* dry run: nodes needed */
	uint64_t bytes;                /* bytes removed / mapped */
	/* Runs of contiguous leaves whose references are taken / dropped together. */
	paddr_t ref_pa, unref_pa;
	uint64_t ref_size, ref_n, unref_size, unref_n;
	paddr_t unref_ram_end; /* end of the RAM range holding the unref run */
};

static void op_init(struct op *op, struct cursor *c)
{
	*op = (struct op){ .c = c, .ft = c->pt->ft, .a = c->arch, .f = &c->arch->fmt,
			   .max_level = page_table_max_leaf_level(c->pt) };
}

/* Leaf template of the operation's property (and tag) at `level`, computed once. */
static pte_t leaf_tmpl(struct op *op, unsigned level)
{
	if (!op->tmpl[level])
		op->tmpl[level] = op->a->leaf_template(op->a, op->prop, level) | op->tag;
	return op->tmpl[level];
}

/* Is the leaf `e` untracked (mapped without frame references)? */
static inline bool leaf_untracked(const struct op *op, pte_t e)
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
	uint64_t size = mm_level_size(level);
	s.i = mm_level_index(t, level);
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
		frame_map_leaves(op->ft, op->ref_pa, op->ref_size, op->ref_n, &op->c->block_hint);
	op->ref_n = 0;
}

static void unref_flush(struct op *op)
{
	if (op->unref_n)
		frame_unmap_leaves(op->ft, op->unref_pa, op->unref_size, op->unref_n,
				   &op->c->rel, &op->c->block_hint);
	op->unref_n = 0;
}

/* Take the references of a new leaf (nothing for MMIO or untracked RAM). */
static void ref_leaf(struct op *op, paddr_t pa, uint64_t size)
{
	if (op->flags & (MM_MAP_MMIO | MM_MAP_UNTRACKED))
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
static void unref_new_run(struct op *op, paddr_t pa, uint64_t size)
{
	paddr_t ram_end = frame_ram_range_end(op->ft, pa);
	if (ram_end == 0)
		return; /* MMIO */
	unref_flush(op);
	op->unref_pa = pa;
	op->unref_size = size;
	op->unref_n = 1;
	op->unref_ram_end = ram_end;
}

/* Drop the references of a removed leaf of tracked RAM or MMIO (not untracked) at `pa`. */
static inline void unref_tracked(struct op *op, paddr_t pa, uint64_t size)
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
static void unref_leaf(struct op *op, pte_t e, unsigned level)
{
	paddr_t pa = pte_addr(op->f, e, level);
	uint64_t size = mm_level_size(level);
	op->bytes += size;
	if (!leaf_untracked(op, e))
		unref_tracked(op, pa, size);
}

/* ---- node reserve ---- */

/* Free the nodes still in the cursor's reserve (never part of any tree). */
static void give_back_reserve(struct cursor *c)
{
	struct frame_table *ft = c->pt->ft;
	while (c->reserve != FRAME_NIL) {
		struct frame_slot *s = &ft->slots[c->reserve];
		c->reserve = s->next;
		frame_node_free(ft, frame_slot_pa(ft, s));
	}
}

/* Allocate `n` nodes for the operation; on failure none are kept. */
static int reserve_nodes(struct cursor *c, unsigned n)
{
	struct frame_table *ft = c->pt->ft;
	for (unsigned k = 0; k < n; k++) {
		paddr_t pa;
		int err = frame_node_alloc(ft, c->pt->node_zone, 0, &pa);
		if (err) {
			give_back_reserve(c);
			return err;
		}
		struct frame_slot *s = frame_slot_of(ft, pa);
		s->next = c->reserve;
		c->reserve = frame_slot_index(ft, s);
	}
	return MM_OK;
}

/* A reserved node becomes a (locked, owned) node at `level` spanning from base. */
static void take_node(struct cursor *c, unsigned level, uint64_t base, struct walk_node *out)
{
	struct frame_table *ft = c->pt->ft;
	MM_ASSERT(c->reserve != FRAME_NIL); /* the dry pass reserved every node the real one takes */
	struct frame_slot *s = &ft->slots[c->reserve];
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
	out->pa = frame_slot_pa(ft, s);
	out->tbl = frame_to_virt(ft, out->pa);
	out->level = level;
	out->base = base;
}

/* Entry i of `parent` becomes a table pointing to `child`. */
static void link_child(struct cursor *c, struct walk_node *parent, unsigned i,
		       const struct walk_node *child)
{
	pte_t tmpl = c->arch->table_template(c->arch, parent->level);
	pte_link(&parent->tbl[i], pte_make(&c->arch->fmt, tmpl, child->pa));
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
	pte_t e = pte_read(&n->tbl[sp->i]);
	paddr_t pa = pte_addr(op->f, e, n->level);
	uint64_t step = mm_level_size(n->level - 1);
	struct mm_prop prop = op->a->leaf_prop(op->a, e, n->level);
	/* The children keep the parent's software tag (untracked stays untracked). */
	pte_t tmpl = op->a->leaf_template(op->a, prop, n->level - 1) | (e & op->f->untracked);

	take_node(op->c, n->level - 1, sp->start, child);
	pte_t *ctbl = child->tbl;
	/* As in fill_leaves: each child's entry is the previous one plus the step's field. */
	pte_t ce = pte_make(op->f, tmpl, pa), cstep = pte_addr_step(op->f, tmpl, step);
	for (unsigned j = 0; j < MM_PTES_PER_NODE; j++, ce += cstep)
		pte_write(&ctbl[j], ce);
	child->slot->nr_children = MM_PTES_PER_NODE;
	if (!leaf_untracked(op, e) && frame_is_ram(op->ft, pa))
		frame_split_leaf(op->ft, pa, mm_level_size(n->level), &op->c->block_hint);
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
	const struct pte_format fmt = *op->f, *f = &fmt;
	unsigned level = n->level, k, removed = 0;
	uint64_t size = mm_level_size(level);
	pte_t *tbl = n->tbl;
	uint64_t extend = 0;  /* leaves added to the op's run, not yet counted */
	paddr_t next = 1;     /* frame that would extend the run (1: no run) */
	paddr_t limit = 0;    /* end of the run's RAM range */
	if (op->unref_n && op->unref_size == size) {
		next = op->unref_pa + op->unref_n * size;
		limit = op->unref_ram_end;
	}
	for (k = 0; k < cnt; k++) {
		pte_t e = pte_read(&tbl[i + k]);
		if (!pte_is_present(e))
			continue;
		if (!pte_is_leaf(f, e, level))
			break;
		pte_clear(&tbl[i + k]);
		removed++;
		if (e & f->untracked)
			continue;
		paddr_t pa = pte_addr(f, e, level);
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
	remove_leaf_run(op, n, 0, MM_PTES_PER_NODE);
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
	for (unsigned i = 0; i < MM_PTES_PER_NODE; i++) {
		pte_t e = pte_read(&n->tbl[i]);
		if (!pte_is_present(e))
			continue;
		pte_clear(&n->tbl[i]);
		if (pte_is_leaf(op->f, e, n->level)) {
			unref_leaf(op, e, n->level);
			continue;
		}
		struct walk_node child;
		cursor_child(op->c, n, e, n->base + (uint64_t)i * mm_level_size(n->level), &child);
		drop_subtree(op, &child);
		cursor_retire_node(op->c, child.pa, child.level);
	}
	n->slot->nr_children = 0;
	n->slot->nr_tables = 0;
}

/* Remove whatever entry `sp.i` of `n` holds (a leaf, or a whole subtree). */
static void remove_entry(struct op *op, struct walk_node *n, const struct span *sp)
{
	pte_t e = pte_read(&n->tbl[sp->i]);
	if (pte_is_leaf(op->f, e, n->level)) {
		unref_leaf(op, e, n->level);
		pte_clear(&n->tbl[sp->i]);
		n->slot->nr_children--;
		return;
	}
	struct walk_node child;
	cursor_child(op->c, n, e, sp->start, &child);
	drop_subtree(op, &child);
	cursor_detach_node(op->c, n->tbl, n->slot, sp->i, n->level, child.pa);
}

/* Is entry `e` of `n` present, and a leaf, in the node kind being walked? */
static inline bool kind_present(enum node_kind k, pte_t e)
{
	return k == V_LEAVES || (k == V_REAL && pte_is_present(e));
}

static inline bool kind_leaf(const struct op *op, enum node_kind k, pte_t e, unsigned level)
{
	return k == V_LEAVES || (k == V_REAL && pte_is_leaf(op->f, e, level));
}

/* ---- map ---- */

/*
 * Level of the leaf that map places at offset t: 1 without MM_MAP_HUGE;
 * with it, the largest level whose page size both VA and PA are aligned to
 * and that fits in what remains (MODEL.md section 5, PTSIM greedy rule).
 */
static unsigned choose_level(const struct op *op, uint64_t t)
{
	if (!(op->flags & MM_MAP_HUGE))
		return 1;
	paddr_t pa = op->pa0 + (t - op->va0);
	for (unsigned l = op->max_level; l > 1; l--) {
		uint64_t size = mm_level_size(l);
		if (mm_is_aligned(t, size) && mm_is_aligned(pa, size) && op->end - t >= size)
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
	uint64_t fit = (hi - t) / mm_level_size(level);
	unsigned left = MM_PTES_PER_NODE - i;
	return fit < left ? (unsigned)fit : left;
}

static int map_dry(struct op *op, enum node_kind kind, const pte_t *tbl, unsigned level,
		   uint64_t base, uint64_t lo, uint64_t hi)
{
	bool replace = op->flags & MM_MAP_REPLACE;
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(level, base, t, hi);
		pte_t e = kind == V_REAL ? pte_read(&tbl[sp.i]) : 0;
		bool present = kind_present(kind, e);
		unsigned want = choose_level(op, t);
		int err = MM_OK;

		if (present && !replace && (want == level || kind_leaf(op, kind, e, level)))
			return MM_EEXIST; /* a leaf would be overwritten */
		if (want == level && !replace) {
			/* A run of leaves of this level: only an entry in the way matters. */
			unsigned cnt = leaf_run(level, sp.i, t, hi);
			if (kind == V_REAL)
				for (unsigned k = 1; k < cnt; k++)
					if (pte_is_present(pte_read(&tbl[sp.i + k])))
						return MM_EEXIST;
			t += (uint64_t)cnt * mm_level_size(level);
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
				const pte_t *ctbl = frame_to_virt(op->ft, pte_table_addr(op->f, e));
				err = map_dry(op, V_REAL, ctbl, level - 1, sp.start, t, sp.stop);
			}
			if (err)
				return err;
		}
		t = sp.stop;
	}
	return MM_OK;
}

/*
 * Write `cnt` leaves of the node's level into the absent entries from
 * entry i on, mapping VA offset t onwards; one reference run for them all.
 */
static void fill_leaves(struct op *op, struct walk_node *n, unsigned i, unsigned cnt,
			uint64_t t)
{
	uint64_t size = mm_level_size(n->level);
	paddr_t pa = op->pa0 + (t - op->va0);
	pte_t tmpl = leaf_tmpl(op, n->level);
	pte_t *tbl = n->tbl;
	/*
	 * Entry k is entry 0 plus k steps (pte_addr_step): the template has
	 * no bit where the additions carry (x86's PAT bit 12 of a huge leaf
	 * lies below the leaf's alignment).
	 */
	pte_t e = pte_make(op->f, tmpl, pa), step = pte_addr_step(op->f, tmpl, size);
	for (unsigned k = 0; k < cnt; k++, e += step)
		pte_write(&tbl[i + k], e);
	n->slot->nr_children += cnt;
	if (op->flags & (MM_MAP_MMIO | MM_MAP_UNTRACKED))
		return; /* no references */
	ref_leaf(op, pa, size);
	op->ref_n += cnt - 1u; /* the run ref_leaf started or extended */
}

static void map_real(struct op *op, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(n->level, n->base, t, hi);
		pte_t e = pte_read(&n->tbl[sp.i]);
		unsigned want = choose_level(op, t);

		if (want == n->level && !(op->flags & MM_MAP_REPLACE)) {
			/* The dry run found every entry of the run absent. */
			unsigned cnt = leaf_run(n->level, sp.i, t, hi);
			fill_leaves(op, n, sp.i, cnt, t);
			t += (uint64_t)cnt * mm_level_size(n->level);
			continue;
		}
		if (want == n->level) {
			paddr_t pa = op->pa0 + (t - op->va0);
			if (pte_is_present(e))
				remove_entry(op, n, &sp); /* replace: checked by the dry run */
			pte_write(&n->tbl[sp.i], pte_make(op->f, leaf_tmpl(op, n->level), pa));
			n->slot->nr_children++;
			ref_leaf(op, pa, mm_level_size(n->level));
		} else {
			struct walk_node child;
			if (!pte_is_present(e)) {
				take_node(op->c, n->level - 1, sp.start, &child);
				link_child(op->c, n, sp.i, &child);
				n->slot->nr_children++;
			} else if (pte_is_leaf(op->f, e, n->level)) {
				split_leaf(op, n, &sp, &child);
			} else {
				cursor_child(op->c, n, e, sp.start, &child);
			}
			cursor_cache_descend(op->c, &child, t);
			map_real(op, &child, t, sp.stop);
		}
		t = sp.stop;
	}
}

/* ---- unmap ---- */

/* Entries of the kernel root are shared tables: emptied, never removed. */
static bool entry_pinned(const struct op *op, unsigned level)
{
	return op->c->pt->space == PT_KERNEL && level == op->a->levels;
}

static void unmap_dry(struct op *op, enum node_kind kind, const pte_t *tbl, unsigned level,
		      uint64_t base, uint64_t lo, uint64_t hi);

/* unmap_dry for the one entry of the node that holds offset t, clipped to [t, hi). */
static void unmap_dry_entry(struct op *op, enum node_kind kind, const pte_t *tbl, unsigned level,
			    uint64_t base, uint64_t t, uint64_t hi)
{
	struct span sp = entry_span(level, base, t, hi);
	pte_t e = kind == V_REAL ? pte_read(&tbl[sp.i]) : 0;
	if (!kind_present(kind, e) || sp.full)
		return;
	if (kind_leaf(op, kind, e, level)) {
		op->nodes++;
		unmap_dry(op, V_LEAVES, 0, level - 1, sp.start, t, sp.stop);
	} else {
		unmap_dry(op, V_REAL, frame_to_virt(op->ft, pte_table_addr(op->f, e)), level - 1,
			  sp.start, t, sp.stop);
	}
}

/*
 * Only an entry cut by a boundary of [lo, hi) can need a node (for the
 * split of a leaf straddling it), and only the first and the last entry
 * the range meets can be cut: the dry run of an unmap (and of a protect)
 * looks at those two per level, whatever the length.
 */
static void unmap_dry(struct op *op, enum node_kind kind, const pte_t *tbl, unsigned level,
		      uint64_t base, uint64_t lo, uint64_t hi)
{
	uint64_t size = mm_level_size(level);
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
				t += (uint64_t)k * mm_level_size(n->level);
				continue;
			}
		}
		pte_t e = pte_read(&n->tbl[sp.i]);
		if (!pte_is_present(e)) {
			t = sp.stop;
			continue;
		}
		bool leaf = pte_is_leaf(op->f, e, n->level);
		if (sp.full && (leaf || !entry_pinned(op, n->level))) {
			remove_entry(op, n, &sp);
		} else {
			struct walk_node child;
			if (leaf)
				split_leaf(op, n, &sp, &child);
			else
				cursor_child(op->c, n, e, sp.start, &child);
			cursor_cache_descend(op->c, &child, t);
			unmap_real(op, &child, t, sp.stop);
			if (child.slot->nr_children == 0 && cursor_node_reclaimable(op->c->pt, child.level))
				cursor_detach_node(op->c, n->tbl, n->slot, sp.i, n->level, child.pa);
		}
		t = sp.stop;
	}
}

/* ---- protect ---- */

/* The leaf `e` at `level` with the new property (same PA, same software tag). */
static pte_t leaf_protected(struct op *op, pte_t e, unsigned level)
{
	return pte_make(op->f, leaf_tmpl(op, level) | (e & op->f->untracked),
			pte_addr(op->f, e, level));
}

/* Would the leaf `e` at `level` change under the new property? */
static bool leaf_changes(struct op *op, pte_t e, unsigned level)
{
	return leaf_protected(op, e, level) != e;
}

static void protect_dry(struct op *op, enum node_kind kind, const pte_t *tbl, unsigned level,
			uint64_t base, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(level, base, t, hi);
		pte_t e = kind == V_REAL ? pte_read(&tbl[sp.i]) : 0;
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
			protect_dry(op, V_REAL, frame_to_virt(op->ft, pte_table_addr(op->f, e)),
				    level - 1, sp.start, from, sp.stop);
		}
	}
}

static void protect_real(struct op *op, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct span sp = entry_span(n->level, n->base, t, hi);
		pte_t e = pte_read(&n->tbl[sp.i]);
		uint64_t from = t;
		t = sp.stop;
		if (!pte_is_present(e))
			continue;
		struct walk_node child;
		if (pte_is_leaf(op->f, e, n->level)) {
			if (!leaf_changes(op, e, n->level)) {
				op->bytes += sp.stop - from;
				continue;
			}
			if (sp.full) {
				pte_write(&n->tbl[sp.i], leaf_protected(op, e, n->level));
				op->bytes += sp.stop - from;
				if (!MM_MUTANT(MM_MUT_PROTECT))
					cursor_record_flush(op->c, sp.start, sp.end);
				continue;
			}
			split_leaf(op, n, &sp, &child);
		} else {
			cursor_child(op->c, n, e, sp.start, &child);
		}
		cursor_cache_descend(op->c, &child, from);
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
 * cursor_flush (so before anything is released) and cursor_close, before
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
static inline bool pend_covers(const struct cursor *c, paddr_t pa)
{
	return pa - c->pend_pa < c->pend_size && (c->pend_held || c->pend < 0);
}

/* Start deferring the references of the block whose head is slot `head`. */
static void pend_begin(struct cursor *c, uint32_t head, int32_t pend, bool held)
{
	const struct frame_table *ft = c->pt->ft;
	c->pend_block = head;
	c->pend_pa = frame_slot_pa(ft, &ft->slots[head]);
	c->pend_size = MM_PAGE_SIZE << ft->slots[head].order;
	c->pend_ref = &ft->slots[head].refcount;
	c->pend = pend;
	c->pend_held = held;
}

void cursor_settle_refs(struct cursor *c)
{
	if (c->pend_block == FRAME_NIL)
		return;
	if (c->pend)
		frame_settle_refs(c->pt->ft, c->pend_block, c->pend, &c->rel);
	c->pend_block = FRAME_NIL;
	c->pend_size = 0;
	c->pend_ref = (MM_ATOMIC(uint32_t) *)0;
	c->pend = 0;
	c->pend_held = false;
}

/* take_page_ref when the page is not of the deferred block: a real reference. */
static int take_page_ref_real(struct cursor *c, paddr_t pa)
{
	struct frame_table *ft = c->pt->ft;
	cursor_settle_refs(c);
	int err = frame_map_page(ft, pa, &c->block_hint);
	if (!err)
		pend_begin(c, c->block_hint, 0, true);
	return err;
}

/*
 * May one more reference be deferred on the cursor's block?  The same
 * overflow rule as frame_map_check, counting what is deferred.
 */
static inline bool pend_has_room(const struct cursor *c)
{
	MM_ASSERT(c->pend_ref == &c->pt->ft->slots[c->pend_block].refcount);
	uint32_t rc = atomic_load_explicit(c->pend_ref, memory_order_relaxed);
	return (int64_t)rc + c->pend + 1 <= (int64_t)FRAME_REF_MAX;
}

/* Take the reference of a new 4 KiB leaf of `pa`; the errors of frame_map_check. */
static inline int take_page_ref(struct cursor *c, paddr_t pa)
{
	if (!pend_covers(c, pa))
		return take_page_ref_real(c, pa);
	if (!pend_has_room(c))
		return MM_ENOMEM;
	c->pend++;
	return MM_OK;
}

/*
 * Drop (deferred) the reference of a removed 4 KiB leaf of tracked RAM at
 * `pa`, which is not of the deferred block.
 */
static void drop_page_ref_other(struct cursor *c, paddr_t pa)
{
	/*
	 * Start deferring for the block of pa.  Once settled, the leaf's
	 * reference is real, so its block cannot change under the lookup,
	 * and with pend < 0 it cannot until the next settle.
	 */
	cursor_settle_refs(c);
	pend_begin(c, frame_mapped_block(c->pt->ft, pa, &c->block_hint), -1, false);
}

/* Outcome of a one-page walk that the general path must handle instead. */
#define PAGE_NEEDS_GENERAL 1

/*
 * Walk from the cached path towards the level-1 entry of offset t through
 * existing tables, caching each node reached.  Stops at level 1, at an
 * absent entry (n->level > 1), or at a leaf above level 1 (*leaf set).
 */
static void walk_page_uncached(struct cursor *c, uint64_t t, struct walk_node *n, bool *leaf)
{
	const struct pte_format *f = &c->arch->fmt;
	cursor_start_node(c, t, t + MM_PAGE_SIZE, n);
	while (n->level > 1) {
		unsigned i = mm_level_index(t, n->level);
		pte_t e = pte_read(&n->tbl[i]);
		if (!pte_is_present(e))
			return;
		if (pte_is_leaf(f, e, n->level)) {
			*leaf = true;
			return;
		}
		struct walk_node child;
		cursor_child(c, n, e, n->base + (uint64_t)i * mm_level_size(n->level), &child);
		cursor_cache_descend(c, &child, t);
		*n = child;
	}
}

/* walk_page_uncached, after a look at the cached level-1 node (the common case). */
static inline void walk_page(struct cursor *c, uint64_t t, struct walk_node *n, bool *leaf)
{
	*leaf = false;
	if (!cursor_cached_leaf_node(c, t, n))
		walk_page_uncached(c, t, n, leaf);
}

/*
 * Create the chain of nodes from the absent entry of `n` (level > 1) down
 * to level 1 for offset t, from the cursor's reserve; `n` ends at level 1.
 */
static void build_chain(struct cursor *c, uint64_t t, struct walk_node *n)
{
	while (n->level > 1) {
		unsigned i = mm_level_index(t, n->level);
		struct walk_node child;
		take_node(c, n->level - 1, n->base + (uint64_t)i * mm_level_size(n->level), &child);
		link_child(c, n, i, &child);
		n->slot->nr_children++;
		cursor_cache_descend(c, &child, t);
		*n = child;
	}
}

/*
 * Install the 4 KiB leaf `pte` in the absent entry i of the level-1 node
 * `n` for offset t (its reference already taken) and move past it.
 */
static inline void install_page_leaf(struct cursor *c, const struct walk_node *n, unsigned i,
				     pte_t pte, uint64_t t)
{
	pte_write(&n->tbl[i], pte);
	n->slot->nr_children++;
	if (!MM_MUTANT(MM_MUT_MAP_PAGE))
		cursor_record_flush(c, t, t + MM_PAGE_SIZE);
	c->va = t + MM_PAGE_SIZE;
}

/*
 * Map the page at the current VA to the tracked RAM frame `pa` with the
 * level-1 template `tmpl`, no replace.  Errors, in the general path's
 * order: those of frame_map_check, MM_EEXIST (a leaf in the way),
 * MM_ENOMEM (no node); on any of them nothing changed.
 */
static int map_page(struct cursor *c, paddr_t pa, pte_t tmpl)
{
	struct frame_table *ft = c->pt->ft;
	uint64_t t = c->va;
	struct walk_node n;
	bool leaf;
	int err;
	walk_page(c, t, &n, &leaf);
	unsigned i = mm_level_index(t, n.level);
	if (leaf || (n.level == 1 && pte_is_present(pte_read(&n.tbl[i])))) {
		err = frame_map_check(ft, pa, MM_PAGE_SIZE, &c->block_hint);
		return err ? err : MM_EEXIST;
	}
	if (n.level > 1) {
		/* The frame is checked before the nodes are asked for, then taken. */
		err = frame_map_check(ft, pa, MM_PAGE_SIZE, &c->block_hint);
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
		i = mm_level_index(t, 1);
	} else {
		err = take_page_ref(c, pa);
		if (err)
			return err;
	}
	install_page_leaf(c, &n, i, pte_make(&c->arch->fmt, tmpl, pa), t);
	return MM_OK;
}

/*
 * Unmap the page at the current VA, reclaiming the nodes it leaves empty.
 * PAGE_NEEDS_GENERAL (nothing changed) if a huge leaf covers it: that
 * needs a split.
 */
static int unmap_page(struct cursor *c, uint64_t *removed)
{
	uint64_t t = c->va;
	struct walk_node n;
	bool leaf;
	walk_page(c, t, &n, &leaf);
	if (leaf)
		return PAGE_NEEDS_GENERAL;
	unsigned i = mm_level_index(t, n.level);
	pte_t e = pte_read(&n.tbl[i]);
	uint64_t bytes = 0;
	if (n.level == 1 && pte_is_present(e)) {
		pte_clear(&n.tbl[i]);
		n.slot->nr_children--;
		bytes = MM_PAGE_SIZE;
	}
	/*
	 * As the general path: empty nodes detached bottom-up (the walk
	 * cached the path, so n is the deepest cached node), then the frame.
	 */
	if (n.slot->nr_children == 0)
		cursor_reclaim_path(c, n.level, t);
	if (bytes) {
		paddr_t pa = pte_addr(&c->arch->fmt, e, 1);
		bool tracked = !(e & c->arch->fmt.untracked);
		/* A frame of the deferred block is RAM: no need to look. */
		if (tracked && pend_covers(c, pa))
			c->pend--;
		else if (tracked && frame_pa_is_ram(c->pt->ft, pa))
			drop_page_ref_other(c, pa);
		if (!MM_MUTANT(MM_MUT_UNMAP_PAGE))
			cursor_record_flush(c, t, t + MM_PAGE_SIZE);
	}
	if (removed)
		*removed = bytes;
	c->va = t + MM_PAGE_SIZE;
	return MM_OK;
}

/* ---- the public operations ---- */

/* MM_OK if `p` is valid for this table and expressible by its architecture. */
static int check_prop(const struct cursor *c, struct mm_prop p)
{
	if ((p.flags & ~MM_PROP_ALL) || p.cache >= MM_CACHE_COUNT)
		return MM_EINVAL;
	/* Global pages belong to the kernel half, user pages to the user half. */
	if (p.flags & (c->pt->space == PT_USER ? MM_PROP_G : MM_PROP_U))
		return MM_EINVAL;
	return c->arch->prop_check(c->arch, p);
}

/* Is `p` the property whose check and level-1 template the cursor cached? */
static inline bool prop_cached(const struct cursor *c, struct mm_prop p)
{
	return c->leaf_tmpl && mm_prop_eq(p, c->leaf_prop);
}

/*
 * Level-1 leaf template of the (checked) property `p`, cached per cursor.
 * Only write-back properties are cached: the one-page fast path trusts a
 * cached property for any frame of the deferred block, and the
 * one-memory-type rule (frame_range_wb_only) was checked for other frames.
 */
static pte_t leaf_tmpl_cached(struct cursor *c, struct mm_prop p, bool cached)
{
	if (p.cache != MM_CACHE_WB)
		return c->arch->leaf_template(c->arch, p, 1);
	if (!cached) {
		c->leaf_tmpl = c->arch->leaf_template(c->arch, p, 1);
		c->leaf_inv = pte_inversion(&c->arch->fmt, c->leaf_tmpl);
		c->leaf_prop = p;
	}
	return c->leaf_tmpl;
}

/*
 * The one-memory-type rule for RAM (frame.h, frame_zone_set_wb_only):
 * MM_EPERM if `cache` is not write-back and [pa, pa+len) touches a
 * wb-only zone.  Device memory (MMIO) has no write-back alias.
 */
static int check_cache_rule(const struct cursor *c, paddr_t pa, uint64_t len, unsigned cache,
			    unsigned flags)
{
	if (cache == MM_CACHE_WB || (flags & MM_MAP_MMIO))
		return MM_OK;
	return frame_range_wb_only(c->pt->ft, pa, len) ? MM_EPERM : MM_OK;
}

/*
 * The same rule for a protect to `cache` over [c->va, c->va+len): every
 * RAM leaf there (no-access ones too: protect can make them accessible).
 */
static int check_cache_rule_leaves(struct cursor *c, uint64_t len, unsigned cache)
{
	if (cache == MM_CACHE_WB)
		return MM_OK;
	uint64_t va = c->va, hi = c->va + len, mask = cursor_tree_mask(c->arch);
	int err = MM_OK;
	struct mm_mapping m;
	while (!err && c->va < hi && cursor_find_next(c, hi - c->va, &m) == 1) {
		uint64_t lo = m.va & mask, end = lo + m.size;
		uint64_t from = lo > c->va ? lo : c->va, to = end < hi ? end : hi;
		if (!m.mmio && frame_range_wb_only(c->pt->ft, m.pa + (from - lo), to - from))
			err = MM_EPERM;
		c->va = to;
	}
	c->va = va;
	return err;
}

static int map_general(struct cursor *c, paddr_t pa, uint64_t len, struct mm_prop prop,
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
static inline bool map_page_fast(struct cursor *c, paddr_t pa, uint64_t len,
				 struct mm_prop prop, unsigned flags)
{
	uint64_t t = c->va;
	if (len != MM_PAGE_SIZE || (flags & ~(unsigned)MM_MAP_HUGE) || c->end - t < len ||
	    !mm_is_aligned(pa, MM_PAGE_SIZE) || !prop_cached(c, prop) || !pend_covers(c, pa))
		return false;
	struct walk_node n;
	if (!cursor_cached_leaf_node(c, t, &n))
		return false;
	unsigned i = mm_level_index(t, 1);
	if (pte_read(&n.tbl[i]) || !pend_has_room(c))
		return false;
	c->pend++;
	/* pte_make with the template's inversion cached (leaf_tmpl_cached). */
	pte_t pte = (c->leaf_tmpl | pte_addr_field(&c->arch->fmt, pa)) ^ c->leaf_inv;
	MM_ASSERT(pte == pte_make(&c->arch->fmt, c->leaf_tmpl, pa));
	install_page_leaf(c, &n, i, pte, t);
	return true;
}

/* Unmap one 4 KiB page: a tracked leaf whose node does not become empty. */
static inline bool unmap_page_fast(struct cursor *c, uint64_t len, uint64_t *removed)
{
	uint64_t t = c->va;
	struct walk_node n;
	if (len != MM_PAGE_SIZE || c->end - t < len || !cursor_cached_leaf_node(c, t, &n))
		return false;
	unsigned i = mm_level_index(t, 1);
	pte_t e = pte_read(&n.tbl[i]);
	if (!e || (e & c->arch->fmt.untracked) || n.slot->nr_children < 2 ||
	    !pend_covers(c, pte_addr(&c->arch->fmt, e, 1)))
		return false;
	pte_clear(&n.tbl[i]);
	n.slot->nr_children--;
	c->pend--;
	if (!MM_MUTANT(MM_MUT_UNMAP_FAST))
		cursor_record_flush(c, t, t + MM_PAGE_SIZE);
	if (removed)
		*removed = MM_PAGE_SIZE;
	c->va = t + MM_PAGE_SIZE;
	return true;
}

static int cursor_map_slow(struct cursor *c, paddr_t pa, uint64_t len, struct mm_prop prop,
			   unsigned flags);

int cursor_map(struct cursor *c, paddr_t pa, uint64_t len, struct mm_prop prop, unsigned flags)
{
	if (map_page_fast(c, pa, len, prop, flags))
		return MM_OK;
	return cursor_map_slow(c, pa, len, prop, flags);
}

/* cursor_map in full: every check, then the one-page or the general path. */
static __attribute__((noinline)) int cursor_map_slow(struct cursor *c, paddr_t pa, uint64_t len,
						     struct mm_prop prop, unsigned flags)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	if (!mm_is_aligned(pa, MM_PAGE_SIZE))
		return MM_EALIGN;
	if (flags & ~(unsigned)(MM_MAP_HUGE | MM_MAP_REPLACE | MM_MAP_MMIO | MM_MAP_UNTRACKED))
		return MM_EINVAL;
	/* Untracked RAM is a kernel-table facility (direct map, image), and not MMIO. */
	if ((flags & MM_MAP_UNTRACKED) &&
	    ((flags & MM_MAP_MMIO) || c->pt->space != PT_KERNEL))
		return MM_EINVAL;
	bool cached = prop_cached(c, prop); /* checked before */
	err = cached ? MM_OK : check_prop(c, prop);
	if (err)
		return err;
	/*
	 * A PA the PTE cannot hold would be silently truncated.  (The fast
	 * path needs no such check: it maps only frames of a RAM block the
	 * cursor already references, inside the slot window, which
	 * page_table_init_* keeps below 2^pa_bits.)
	 */
	if (!mm_arch_pa_fits(c->arch, pa, len))
		return MM_ERANGE;
	err = check_cache_rule(c, pa, len, prop.cache, flags);
	if (err)
		return err;
	/* One page of tracked RAM, nothing to replace: no dry run needed. */
	if (len == MM_PAGE_SIZE && !(flags & ~(unsigned)MM_MAP_HUGE))
		return map_page(c, pa, leaf_tmpl_cached(c, prop, cached));
	return map_general(c, pa, len, prop, flags);
}

/*
 * cursor_map past its argument checks: the frame check, the dry run, the
 * reserve and the real pass.  Out of line so that the one-page path does
 * not set up this path's stack frame.
 */
static __attribute__((noinline)) int map_general(struct cursor *c, paddr_t pa, uint64_t len,
						 struct mm_prop prop, unsigned flags)
{
	int err;
	if (flags & MM_MAP_MMIO)
		err = frame_range_is_mmio(c->pt->ft, pa, len) ? MM_OK : MM_ERANGE;
	else if (flags & MM_MAP_UNTRACKED)
		err = frame_range_is_ram(c->pt->ft, pa, len) ? MM_OK : MM_ERANGE;
	else
		err = frame_map_check(c->pt->ft, pa, len, &c->block_hint);
	if (err)
		return err;

	cursor_settle_refs(c); /* the general path counts on exact references */
	struct op op;
	op_init(&op, c);
	op.va0 = c->va;
	op.end = c->va + len;
	op.pa0 = pa;
	op.flags = flags;
	op.prop = prop;
	op.tag = (flags & MM_MAP_UNTRACKED) ? c->arch->fmt.untracked : 0;
	struct walk_node n;
	cursor_start_node(c, op.va0, op.end, &n);
	err = map_dry(&op, V_REAL, n.tbl, n.level, n.base, op.va0, op.end);
	if (!err)
		err = reserve_nodes(c, op.nodes);
	if (err)
		return err;
	map_real(&op, &n, op.va0, op.end);
	ref_flush(&op);
	unref_flush(&op);
	give_back_reserve(c);
	if (!MM_MUTANT(MM_MUT_MAP_GENERAL))
		cursor_record_flush(c, op.va0, op.end);
	c->va = op.end;
	return MM_OK;
}

static int unmap_general(struct cursor *c, uint64_t len, uint64_t *removed);
static int cursor_unmap_slow(struct cursor *c, uint64_t len, uint64_t *removed);

int cursor_unmap(struct cursor *c, uint64_t len, uint64_t *removed)
{
	if (unmap_page_fast(c, len, removed))
		return MM_OK;
	return cursor_unmap_slow(c, len, removed);
}

/* cursor_unmap in full: the checks, then the one-page or the general path. */
static __attribute__((noinline)) int cursor_unmap_slow(struct cursor *c, uint64_t len,
						       uint64_t *removed)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	if (len == MM_PAGE_SIZE) {
		err = unmap_page(c, removed);
		if (err != PAGE_NEEDS_GENERAL)
			return err;
	}
	return unmap_general(c, len, removed);
}

/* cursor_unmap past its checks; out of line for the reason of map_general. */
static __attribute__((noinline)) int unmap_general(struct cursor *c, uint64_t len,
						   uint64_t *removed)
{
	int err;
	cursor_settle_refs(c); /* the general path counts on exact references */
	struct op op;
	op_init(&op, c);
	uint64_t lo = c->va, hi = c->va + len;
	struct walk_node n;
	cursor_start_node(c, lo, hi, &n);
	unmap_dry(&op, V_REAL, n.tbl, n.level, n.base, lo, hi);
	err = reserve_nodes(c, op.nodes);
	if (err)
		return err;
	unmap_real(&op, &n, lo, hi);
	cursor_reclaim_path(c, n.level, lo);
	unref_flush(&op);
	give_back_reserve(c);
	if (op.bytes && !MM_MUTANT(MM_MUT_UNMAP_GENERAL))
		cursor_record_flush(c, lo, hi);
	if (removed)
		*removed = op.bytes;
	c->va = hi;
	return MM_OK;
}

int cursor_protect(struct cursor *c, uint64_t len, struct mm_prop prop, uint64_t *mapped)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	err = check_prop(c, prop);
	if (!err)
		err = check_cache_rule_leaves(c, len, prop.cache);
	if (err)
		return err;
	cursor_settle_refs(c); /* splits count references too */
	struct op op;
	op_init(&op, c);
	op.prop = prop;
	uint64_t lo = c->va, hi = c->va + len;
	struct walk_node n;
	cursor_start_node(c, lo, hi, &n);
	protect_dry(&op, V_REAL, n.tbl, n.level, n.base, lo, hi);
	err = reserve_nodes(c, op.nodes);
	if (err)
		return err;
	protect_real(&op, &n, lo, hi);
	give_back_reserve(c);
	if (mapped)
		*mapped = op.bytes;
	c->va = hi;
	return MM_OK;
}
