/*
 * acpi.c - the CPUs of the machine from the ACPI MADT: RSDP (the PVH start
 * info's rsdp_paddr) -> XSDT (revision >= 2) or RSDT -> the "APIC" table
 * -> its Processor Local APIC (type 0) and Processor Local x2APIC (type 9)
 * entries whose Enabled flag is set.  Runs before kmain on the boot table,
 * whose direct map reaches all of [0, 4 GiB) (QEMU keeps the tables there).
 * Every table is checksummed; a bad or missing one means "no MADT", and the
 * kernel then runs on the boot CPU alone.
 */
#include "x86.h"

#define MADT_LAPIC 0
#define MADT_X2APIC 9
#define MADT_ENABLED 1u
#define PHYS_REACH (4ull << 30) /* what the boot table's direct map covers */

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem[6];
	char oem_table[8];
	uint32_t oem_revision;
	uint32_t creator, creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char sig[8];
	uint8_t checksum;
	char oem[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length; /* revision >= 2 from here */
	uint64_t xsdt;
	uint8_t xchecksum;
	uint8_t reserved[3];
} __attribute__((packed));

/* Through the boot direct map; NULL if [pa, pa+len) is beyond its reach. */
static const uint8_t *phys(uint64_t pa, uint64_t len)
{
	if (pa >= PHYS_REACH || len > PHYS_REACH - pa)
		return 0;
	return (const uint8_t *)(uintptr_t)(DIRECT_MAP_BASE + pa);
}

/* True if the len bytes at p sum to 0 (mod 256), as ACPI checksums require. */
static bool sums_to_zero(const uint8_t *p, uint64_t len)
{
	uint8_t sum = 0;
	for (uint64_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum == 0;
}

static bool sig_is(const char *sig, const char *want, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (sig[i] != want[i])
			return false;
	return true;
}

/* The table at pa if it is reachable, whole and its checksum holds; else NULL. */
static const struct acpi_header *table_at(uint64_t pa)
{
	const struct acpi_header *h = (const void *)phys(pa, sizeof(*h));

	if (!h || h->length < sizeof(*h) || !phys(pa, h->length) ||
	    !sums_to_zero((const uint8_t *)h, h->length))
		return 0;
	return h;
}

/* The MADT through the XSDT (8-byte entries) or the RSDT (4-byte ones); NULL if none. */
static const struct acpi_header *find_madt(uint64_t rsdp_pa)
{
	const struct acpi_rsdp *r = (const void *)phys(rsdp_pa, sizeof(struct acpi_rsdp));
	const struct acpi_header *sdt;
	unsigned entry_size;

	if (!r || !sig_is(r->sig, "RSD PTR ", 8) || !sums_to_zero((const uint8_t *)r, 20))
		return 0;
	if (r->revision >= 2 && r->xsdt && sums_to_zero((const uint8_t *)r, sizeof(*r))) {
		sdt = table_at(r->xsdt);
		entry_size = 8;
	} else {
		sdt = table_at(r->rsdt);
		entry_size = 4;
	}
	if (!sdt)
		return 0;
	const uint8_t *e = (const uint8_t *)(sdt + 1);
	unsigned n = (sdt->length - sizeof(*sdt)) / entry_size;
	for (unsigned i = 0; i < n; i++) {
		uint64_t pa = 0;
		for (unsigned b = 0; b < entry_size; b++)
			pa |= (uint64_t)e[i * entry_size + b] << (8 * b);
		const struct acpi_header *t = table_at(pa);
		if (t && sig_is(t->sig, "APIC", 4))
			return t;
	}
	return 0;
}

/* Appends id to ids[*n] unless already there; counts it in *enabled; drops it if full. */
static void id_add(uint32_t *ids, unsigned *n, unsigned max, unsigned *enabled, uint32_t id)
{
	for (unsigned i = 0; i < *n; i++)
		if (ids[i] == id)
			return;
	(*enabled)++;
	if (*n < max)
		ids[(*n)++] = id;
}

unsigned x86_madt_cpus(uint64_t rsdp_pa, uint32_t *ids, unsigned max, unsigned *enabled,
		       uint64_t *lapic_pa)
{
	const struct acpi_header *madt = rsdp_pa ? find_madt(rsdp_pa) : 0;
	unsigned n = 0;

	*enabled = 0;
	if (!madt || madt->length < sizeof(*madt) + 8)
		return 0;
	const uint8_t *p = (const uint8_t *)madt;
	*lapic_pa = (uint64_t)p[36] | (uint64_t)p[37] << 8 | (uint64_t)p[38] << 16 |
		    (uint64_t)p[39] << 24;
	/* Entries after the header and the 8 bytes of LAPIC address and flags. */
	for (uint32_t off = sizeof(*madt) + 8; off + 2 <= madt->length;) {
		uint8_t type = p[off], len = p[off + 1];
		if (len < 2 || off + len > madt->length)
			break;
		if (type == MADT_LAPIC && len >= 8) {
			uint32_t flags = p[off + 4] | (uint32_t)p[off + 5] << 8;
			if (flags & MADT_ENABLED)
				id_add(ids, &n, max, enabled, p[off + 3]);
		} else if (type == MADT_X2APIC && len >= 16) {
			uint32_t id = p[off + 4] | (uint32_t)p[off + 5] << 8 |
				      (uint32_t)p[off + 6] << 16 | (uint32_t)p[off + 7] << 24;
			uint32_t flags = p[off + 8] | (uint32_t)p[off + 9] << 8;
			/* The xAPIC addresses ids below 255 only (apic.c): others are not started. */
			if ((flags & MADT_ENABLED) && id < 255)
				id_add(ids, &n, max, enabled, id);
		}
		off += len;
	}
	return n;
}
