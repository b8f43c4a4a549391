/* The per-CPU rings records go to, and the program's counters. Included by pktpath.bpf.c. */
#ifndef PKTPATH_RING_H
#define PKTPATH_RING_H

#include "pktpath.h"

/* Records go to one ring per CPU, all in one array the reader maps into its memory: reserving a
 * slot is an atomic add on this CPU's own counter, not the BPF ring buffer's spinlock and two
 * helper calls (30-40 ns a record more, bench/flood.ts), and nothing wakes the reader: it polls.
 * CPU c owns slots [c << ring_slots_log2, (c + 1) << ring_slots_log2); the loader sizes the array
 * to the possible CPUs before load. A slot is free while its len is 0: the program fills it, then
 * sets len last; the reader copies it, zeroes len and then advances that CPU's ring_consumed. */
const volatile __u32 ring_slots_log2 = 15;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* set by the loader: possible CPUs << ring_slots_log2 */
	__type(key, __u32);
	__type(value, struct pktpath_slot);
} ring SEC(".maps");

/* Per CPU: how many of its slots the reader has consumed. Only the reader writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* set by the loader: possible CPUs */
	__type(key, __u32);
	__type(value, struct pktpath_ring_cursor);
} ring_consumed SEC(".maps");

/* Per CPU: slots reserved so far, up to where reserving needs no look at ring_consumed, and the
 * records lost since the last one stored: how many, the first's and the last's time. */
struct producer {
	__u64 next;
	__u64 limit;
	__u64 lost;
	__u64 lost_first_ns;
	__u64 lost_last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct producer);
} producer SEC(".maps");

/* enum pktpath_stat, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PKTPATH_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* A program interrupted between its full-ring check and its reservation can be overtaken by the
 * programs that interrupt it (hard interrupts): keep this many slots spare for them. */
#define RING_SPARE 32

static __always_inline void count_stat(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &which);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Sampling (see pktpath.bpf.c): the records waiting unread in a CPU's ring past which it is crowded
 * (0: never), and until when (bpf_ktime_get_ns) some CPU last found its ring so. Past midway from
 * there to full it is deeply crowded (deep_until_ns: the same for that). Every CROWDING_EVERY
 * records a CPU looks at its own (take_slot). */
const volatile __u32 sample_fill = 0;
__u64 crowded_until_ns = 0;
__u64 deep_until_ns = 0;
#define CROWDED_HOLD_NS 10000000
#define CROWDING_EVERY 1024 /* records between two looks of a CPU at its own ring */
#define CROWDED 1
#define DEEPLY_CROWDED 2

/* Where the reader is in this CPU's ring, into pr->limit (the position this CPU may fill up to): a
 * cache line the reader writes, so it is read only when needed, not for every record. 0 when this
 * CPU has no cursor. */
static __always_inline int look_at_reader(struct producer *pr, __u32 cpu, __u64 slots)
{
	struct pktpath_ring_cursor *c = bpf_map_lookup_elem(&ring_consumed, &cpu);

	if (!c)
		return 0;
	pr->limit = *(volatile __u64 *)&c->consumed + slots - RING_SPARE;
	return 1;
}

/* Records up to position pos that the reader had not taken when this CPU last looked. */
static __always_inline __u64 unread(const struct producer *pr, __u64 pos, __u64 slots)
{
	return pos - (pr->limit + RING_SPARE - slots);
}

/* How crowded this CPU's ring is, looked at now up to pos: 0, CROWDED (sample_fill records wait
 * unread) or DEEPLY_CROWDED (midway from there to full). When crowded, every CPU samples for
 * CROWDED_HOLD_NS, whether or not it takes in new packets itself (a reply's records land on another
 * CPU than the one that followed its request); so for deep crowding. */
static __always_inline int look_for_crowding(struct producer *pr, __u32 cpu, __u64 pos, __u64 slots)
{
	__u64 waiting, now;

	if (!look_at_reader(pr, cpu, slots))
		return 0;
	waiting = unread(pr, pos, slots);
	if (waiting < sample_fill)
		return 0;
	now = bpf_ktime_get_ns();
	crowded_until_ns = now + CROWDED_HOLD_NS;
	if (waiting < (slots + sample_fill) / 2)
		return CROWDED;
	deep_until_ns = now + CROWDED_HOLD_NS;
	return DEEPLY_CROWDED;
}

/* A free slot in this CPU's ring, or 0 when the reader is that far behind. The reader's position is
 * looked at only when the cached limit is reached, and every CROWDING_EVERY records when sampling. */
static __always_inline struct pktpath_slot *take_slot(struct producer *pr, __u32 cpu)
{
	__u64 slots = 1ULL << ring_slots_log2;
	__u32 key;
	__u64 pos;

	if (pr->next >= pr->limit && (!look_at_reader(pr, cpu, slots) || pr->next >= pr->limit))
		return 0;
	pos = __sync_fetch_and_add(&pr->next, 1);
	if (sample_fill && (pos & (CROWDING_EVERY - 1)) == 0)
		look_for_crowding(pr, cpu, pos, slots);
	key = (cpu << ring_slots_log2) | (__u32)(pos & (slots - 1));
	/* never 0: the loader sized the array for every possible CPU */
	return bpf_map_lookup_elem(&ring, &key);
}

/* The slot's record with its time, skb and kind set and everything else zero: a slot is reused, and
 * each handler then writes what it knows. */
static __always_inline struct pktpath_event *begin(struct pktpath_slot *slot, __u8 kind, __u64 skbaddr)
{
	struct pktpath_event *e = &slot->ev;

	__builtin_memset(e, 0, __builtin_offsetof(struct pktpath_event, pkt));
	e->ts_ns = bpf_ktime_get_ns();
	e->skbaddr = skbaddr;
	e->kind = kind;
	return e;
}

/* Publishes a filled slot: len last, after every other store. x86 makes stores visible in program
 * order and the JIT keeps ours in order, so there a compiler barrier and a plain store do (about
 * 10 ns less per record than an exchange, bench/flood.ts); elsewhere an atomic exchange orders them. */
static __always_inline void commit(struct pktpath_slot *slot)
{
	slot->pad = 0;
#if defined(__TARGET_ARCH_x86) && !defined(PKTPATH_COMMIT_XCHG) /* tests build the other way too */
	asm volatile("" ::: "memory");
	*(volatile __u32 *)&slot->len = sizeof(slot->ev);
#else
	__sync_lock_test_and_set(&slot->len, (__u32)sizeof(slot->ev));
#endif
}

/* A record this CPU could not store: counted, and remembered for the next one it stores. */
static __always_inline void lost_one(struct producer *pr)
{
	__u64 now = bpf_ktime_get_ns();

	count_stat(PKTPATH_STAT_LOST);
	if (!pr->lost)
		pr->lost_first_ns = now;
	pr->lost_last_ns = now;
	pr->lost++;
}

/* A free slot in this CPU's ring, or 0 (counted as lost) when the reader is that far behind. The
 * first record stored after lost ones is preceded by one that says so: how many, and when the
 * first and the last were (so the reader knows which packets' journeys may lack hops). */
static __always_inline struct pktpath_slot *reserve(void)
{
	__u32 key = 0;
	struct producer *pr = bpf_map_lookup_elem(&producer, &key);
	__u32 cpu = bpf_get_smp_processor_id();
	struct pktpath_slot *slot;

	if (!pr)
		return 0;
	slot = take_slot(pr, cpu);
	if (!slot) {
		lost_one(pr);
		return 0;
	}
	if (!pr->lost)
		return slot;
	__builtin_memset(&slot->ev, 0, sizeof(slot->ev));
	slot->ev.ts_ns = pr->lost_last_ns;
	slot->ev.location = pr->lost_first_ns;
	slot->ev.len = pr->lost > 0xffffffff ? 0xffffffff : (__u32)pr->lost;
	slot->ev.kind = PKTPATH_EV_RECORDS_LOST;
	commit(slot);
	pr->lost = 0;
	slot = take_slot(pr, cpu);
	if (!slot)
		lost_one(pr);
	return slot;
}

#endif
