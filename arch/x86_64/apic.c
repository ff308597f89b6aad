/*
 * apic.c - the local APIC in xAPIC mode (MMIO registers), the legacy PICs
 * masked, and a PIT-timed delay for the INIT-SIPI-SIPI sequence.
 *
 * xAPIC rather than x2APIC: QEMU 7.2's TCG does not emulate x2APIC (it is
 * the machine this kernel is tested on, docs/PLATFORM.md), every x86-64
 * CPU has the xAPIC, and the MADT's ids here are all below 255.  The
 * registers are reached through the kernel table's uncached MMIO window
 * (the LAPIC page is a boot_info device window) once the mm's table is
 * active, and through an uncached alias in the boot table before (an AP
 * enables its LAPIC before it joins the shootdown set, smp.c).
 */
#include "x86.h"

#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_SVR_ENABLE (1u << 8)
#define ICR_DELIVERY_PENDING (1u << 12)
#define PIT_HZ 1193182u
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20
#define PIT_POLL_LIMIT 100000000u

/* The LAPIC registers every CPU uses after the mm's table is on (all CPUs share the PA). */
static volatile uint32_t *lapic;

static uint32_t reg_read(volatile uint32_t *regs, unsigned off)
{
	return regs[off / 4];
}

static void reg_write(volatile uint32_t *regs, unsigned off, uint32_t v)
{
	regs[off / 4] = v;
}

/* From now on this CPU and every later one use `regs` (the kernel table's MMIO window). */
void x86_lapic_set_base(volatile uint32_t *regs)
{
	lapic = regs;
}

/*
 * Software-enables this CPU's LAPIC (SVR bit 8, spurious vector
 * X86_VEC_SPURIOUS): from here it accepts fixed IPIs.  `regs` is the
 * mapping in force on this CPU.
 */
void x86_lapic_enable(volatile uint32_t *regs)
{
	reg_write(regs, LAPIC_SVR, LAPIC_SVR_ENABLE | X86_VEC_SPURIOUS);
}

/* End of interrupt for the IPI being served (fixed, edge: any value). */
void x86_lapic_eoi(void)
{
	reg_write(lapic, LAPIC_EOI, 0);
}

/*
 * Sends one IPI: destination APIC id (physical mode) and the ICR's low word
 * (vector, delivery mode, level).  The two writes must not be split by
 * another ICR write on this CPU, so interrupts are off for them (a few
 * instructions, no waiting on another CPU); then waits for the LAPIC to
 * take the message (delivery status idle).
 */
void x86_lapic_send(uint32_t apic_id, uint32_t icr_low)
{
	uint64_t flags = x86_read_rflags();

	__asm__ volatile("cli" ::: "memory");
	while (reg_read(lapic, LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING)
		__builtin_ia32_pause();
	reg_write(lapic, LAPIC_ICR_HIGH, apic_id << 24);
	reg_write(lapic, LAPIC_ICR_LOW, icr_low);
	while (reg_read(lapic, LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING)
		__builtin_ia32_pause();
	x86_write_rflags(flags);
}

/*
 * Masks every line of both 8259 PICs: the kernel runs with interrupts on
 * once the APs are up (to serve IPIs), and the firmware left the PIT's
 * IRQ 0 at vector 8 (#DF's) — nothing but IPIs may arrive.
 */
void x86_pic_mask_all(void)
{
	x86_outb(0x21, 0xff);
	x86_outb(0xa1, 0xff);
}

/*
 * Waits about `us` microseconds on the PIT's channel 2 (mode 0 one-shot,
 * polled on port 0x61's OUT2), at most ~54 ms per count; a machine
 * without the PIT (OUT2 never rises) ends each count after a bounded spin.
 */
void x86_delay_us(unsigned us)
{
	while (us) {
		unsigned part = us > 50000 ? 50000 : us;
		uint32_t ticks = (uint32_t)((uint64_t)part * PIT_HZ / 1000000u) + 1;
		uint8_t b = (uint8_t)(x86_inb(PORT_B) & ~(PORT_B_SPEAKER | PORT_B_GATE2));

		x86_outb(PORT_B, b);
		x86_outb(PIT_CMD, 0xb0); /* channel 2, lo/hi byte, mode 0, binary */
		x86_outb(PIT_CH2, (uint8_t)ticks);
		x86_outb(PIT_CH2, (uint8_t)(ticks >> 8));
		x86_outb(PORT_B, b | PORT_B_GATE2);
		for (uint32_t i = 0; i < PIT_POLL_LIMIT && !(x86_inb(PORT_B) & PORT_B_OUT2); i++)
			__builtin_ia32_pause();
		us -= part;
	}
}
