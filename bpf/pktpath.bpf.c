// SPDX-License-Identifier: GPL-2.0
/* pktpath: one record per hop of a packet through the kernel's network tracepoints.
 * Handlers read a few fields and submit; correlation and naming happen in TypeScript. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "pktpath.h"

char LICENSE[] SEC("license") = "GPL";

/* Minimal kernel types; CO-RE relocates every field access against the running kernel's BTF. */
struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct net { struct ns_common ns; } __attribute__((preserve_access_index));
typedef struct { struct net *net; } possible_net_t;
struct net_device {
	char name[16];
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));
struct sk_buff {
	struct net_device *dev;
	unsigned int len;
	__be16 protocol;
	__u16 transport_header;
	__u16 network_header;
	__u16 mac_header;
	unsigned char *head;
	unsigned char *data;
} __attribute__((preserve_access_index));
enum skb_drop_reason { SKB_NOT_DROPPED_YET = 0 };
struct sock;

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_HLEN 14
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define HEADER_UNSET 0xffff
/* Kernel addresses live in the upper half on x86-64 and arm64. */
#define KERNEL_ADDR_MIN 0xffff000000000000ULL

/* Settings, written by the loader into .rodata before load. */
const volatile __u8 filter_mode = PKTPATH_FILTER_ICMP_ECHO; /* enum pktpath_filter_proto */
const volatile __u8 filter_l4proto = 0;    /* IPv4 protocol number for PKTPATH_FILTER_PROTO */
const volatile __u8 filter_l4proto_v6 = 0; /* the same protocol as IPv6 names it (ICMP is 58 there) */
const volatile __u8 filter_host_family = 0; /* 0: any host, else 4 or 6 */
const volatile __u8 filter_host[PKTPATH_ADDR_LEN] = {};
const volatile __u16 filter_port = 0;       /* 0: any port */

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

/* Per CPU: slots reserved so far, and up to where reserving needs no look at ring_consumed. */
struct producer {
	__u64 next;
	__u64 limit;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct producer);
} producer SEC(".maps");

/* A program interrupted between its full-ring check and its reservation can be overtaken by the
 * programs that interrupt it (hard interrupts): keep this many slots spare for them. */
#define RING_SPARE 32

/* skb addresses whose hops we report; an skb address names a packet only until it is freed.
 * A direct-mapped table, not a hash map: an array slot is found with no lock and no call (the
 * verifier inlines array lookups), which matters because consume_skb runs for every skb the system
 * frees. Two in-flight skbs that share a slot evict each other: the older one's remaining xmit and
 * free events go unreported, and its journey ends as idle instead. With 2^17 slots and a few thousand
 * skbs in flight that is rare. */
#define TRACK_SLOTS (1 << 17)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACK_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} tracked SEC(".maps");

/* The capture filter (struct pktpath_filter in pktpath.h): two programs, filter_ctl[0] says which
 * one runs, so the loader writes a new one beside the one in use and then switches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pktpath_filter);
} filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} filter_ctl SEC(".maps");

/* One u64 per CPU to turn a BTF pointer into a number (see addr_value). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} scratch SEC(".maps");

/* The verifier keeps a BTF pointer a pointer through casts and refuses arithmetic on it. Written to
 * map memory and read back, it is a plain number: cheaper than a bpf_probe_read_kernel call. */
static __always_inline __u64 addr_value(const void *ptr)
{
	__u32 key = 0;
	volatile __u64 *cell = bpf_map_lookup_elem(&scratch, &key);

	if (!cell)
		return 0;
	*cell = (__u64)ptr;
	return *cell;
}

static __always_inline __u64 *track_slot(__u64 addr)
{
	/* Fibonacci hashing: skb addresses share their low bits (slab alignment) */
	__u32 key = (__u32)((addr * 0x9E3779B97F4A7C15ULL) >> (64 - 17));

	return bpf_map_lookup_elem(&tracked, &key);
}

static __always_inline int is_tracked(__u64 addr)
{
	__u64 *slot = track_slot(addr);

	return slot && *slot == addr;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* The parsed headers of one packet, laid out as bytes 40..87 of struct pktpath_event (kind
 * first, which submit sets) so that they go into a record as one 48-byte copy. */
struct pkt {
	__u8 kind;
	__u8 family;
	__u8 l4proto;
	__u8 icmp_type;
	__u16 icmp_id;
	__u16 icmp_seq;
	__u16 sport;
	__u16 dport;
	__u32 pad;
	__u32 saddr[PKTPATH_ADDR_LEN / 4]; /* network byte order, IPv4 in the first word */
	__u32 daddr[PKTPATH_ADDR_LEN / 4];
};
#define PKT_AT __builtin_offsetof(struct pktpath_event, kind)
_Static_assert(sizeof(struct pkt) == __builtin_offsetof(struct pktpath_event, ifname) - PKT_AT, "struct pkt mirrors the event");
_Static_assert(__builtin_offsetof(struct pkt, saddr) == __builtin_offsetof(struct pktpath_event, saddr) - PKT_AT, "struct pkt mirrors the event");
_Static_assert(__builtin_offsetof(struct pkt, dport) == __builtin_offsetof(struct pktpath_event, dport) - PKT_AT, "struct pkt mirrors the event");

/* Packet bytes are read with plain loads through bpf_rdonly_cast: the verifier marks the result
 * untrusted, and the JIT turns each load into one that yields 0 instead of faulting. That is much
 * cheaper than a bpf_probe_read_kernel call per hop (about 45 ns of ~200, bench/flood.ts). The
 * casts are to the kernel's own header structs, whose layout the verifier checks the loads against;
 * the offsets themselves are fixed by the IP, UDP, TCP and ICMP headers.
 * HEADER(copy, src, type) is the header at src, or 0. Kernels before 6.2 have no bpf_rdonly_cast:
 * for them pktpath-compat.bpf.o is built with PKTPATH_PROBE_READ, which copies each header into
 * copy (a stack array of the header's size) with bpf_probe_read_kernel instead. */
#ifdef PKTPATH_PROBE_READ
#define HEADER(copy, src, type) \
	(bpf_probe_read_kernel((copy), sizeof(copy), (src)) ? (const void *)0 : (const void *)(copy))
#else
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define HEADER(copy, src, type) ((void)(copy), (const void *)bpf_rdonly_cast((src), bpf_core_type_id_kernel(type)))
#endif
struct iphdr { __u8 protocol; } __attribute__((preserve_access_index));
struct ipv6hdr { __u8 nexthdr; } __attribute__((preserve_access_index));
struct udphdr { __u16 source; } __attribute__((preserve_access_index));

/* The first 8 bytes of the L4 header: ports for TCP and UDP, type/id/seq for ICMP and ICMPv6. */
static __always_inline void read_l4(struct pkt *p, const unsigned char *at)
{
	__u16 copy[4];
	const __u16 *w = HEADER(copy, at, struct udphdr);

	if (!w)
		return;
	if (p->l4proto == IPPROTO_ICMP || p->l4proto == IPPROTO_ICMPV6) {
		p->icmp_type = bpf_ntohs(w[0]) >> 8;
		p->icmp_id = bpf_ntohs(w[2]);
		p->icmp_seq = bpf_ntohs(w[3]);
	} else if (p->l4proto == IPPROTO_TCP || p->l4proto == IPPROTO_UDP) {
		p->sport = bpf_ntohs(w[0]);
		p->dport = bpf_ntohs(w[1]);
	}
}

/* Fills p from the headers at head+off when its version nibble matches want (4 or 6). The IP
 * length fields say whether the 8 bytes of L4 header are really there. */
static __always_inline int read_ip(struct pkt *p, const unsigned char *head, __u16 off, __u8 want)
{
	const unsigned char *at = head + off;

	if (off == HEADER_UNSET)
		return 0;
	if (want == 4) {
		__u32 copy[5];
		const __u8 *b = HEADER(copy, at, struct iphdr);
		__u8 vihl;
		__u32 ihl;

		if (!b)
			return 0;
		vihl = b[0];
		ihl = (vihl & 0xf) * 4;
		if ((vihl >> 4) != 4)
			return 0;
		p->family = 4;
		p->l4proto = b[9];
		p->saddr[0] = *(const __u32 *)(b + 12);
		p->daddr[0] = *(const __u32 *)(b + 16);
		/* later fragments carry no L4 header */
		if ((bpf_ntohs(*(const __u16 *)(b + 6)) & 0x1fff) != 0 || bpf_ntohs(*(const __u16 *)(b + 2)) < ihl + 8)
			return 1;
		if (ihl >= 20)
			read_l4(p, at + ihl);
		return 1;
	}
	__u32 copy[10];
	const __u8 *b = HEADER(copy, at, struct ipv6hdr);
	const __u32 *w = (const __u32 *)b;

	if (!b)
		return 0;
	if ((b[0] >> 4) != 6)
		return 0;
	p->family = 6;
	p->l4proto = b[6]; /* extension headers are not walked */
	for (int i = 0; i < 4; i++) {
		p->saddr[i] = w[2 + i];
		p->daddr[i] = w[6 + i];
	}
	if (bpf_ntohs(*(const __u16 *)(b + 4)) >= 8)
		read_l4(p, at + 40);
	return 1;
}

/* Network header first; on receive paths before it is reset, the byte after the Ethernet header.
 * skb fields are plain loads: tp_btf arguments are BTF pointers the verifier lets us read directly. */
static __noinline void parse_skb(struct pkt *p, struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 proto = bpf_ntohs(skb->protocol);
	__u16 nh = skb->network_header;
	__u16 mh = skb->mac_header;
	__u8 want = proto == ETH_P_IP ? 4 : proto == ETH_P_IPV6 ? 6 : 0;

	if (!want || !head)
		return;
	if (read_ip(p, head, nh, want))
		return;
	if (mh != HEADER_UNSET)
		read_ip(p, head, mh + ETH_HLEN, want);
}

static __always_inline int addr_eq(const __u8 *a, __u8 len)
{
	for (int i = 0; i < PKTPATH_ADDR_LEN; i++) {
		if (i < len && a[i] != filter_host[i])
			return 0;
	}
	return 1;
}

static __always_inline int passes(const struct pkt *p)
{
	if (!p->family)
		return 0;
	if (filter_mode == PKTPATH_FILTER_ICMP_ECHO) {
		if (p->l4proto == IPPROTO_ICMP && p->icmp_type != 0 && p->icmp_type != 8)
			return 0;
		if (p->l4proto == IPPROTO_ICMPV6 && p->icmp_type != 128 && p->icmp_type != 129)
			return 0;
		if (p->l4proto != IPPROTO_ICMP && p->l4proto != IPPROTO_ICMPV6)
			return 0;
	} else if (filter_mode == PKTPATH_FILTER_PROTO) {
		if (p->l4proto != (p->family == 4 ? filter_l4proto : filter_l4proto_v6))
			return 0;
	}
	if (filter_host_family) {
		__u8 len = p->family == 4 ? 4 : 16;
		if (p->family != filter_host_family || (!addr_eq((const __u8 *)p->saddr, len) && !addr_eq((const __u8 *)p->daddr, len)))
			return 0;
	}
	if (filter_port) {
		if (p->l4proto != IPPROTO_TCP && p->l4proto != IPPROTO_UDP)
			return 0;
		if (p->sport != filter_port && p->dport != filter_port)
			return 0;
	}
	return 1;
}

static __always_inline void count_lost(void)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* A free slot in this CPU's ring, or 0 (counted as lost) when the reader is that far behind.
 * The consumed position is read only when the cached limit is reached: it is a cache line the
 * reader writes, and reading it for every record would cost a miss each time. */
static __always_inline struct pktpath_slot *reserve(void)
{
	__u32 key = 0;
	struct producer *pr = bpf_map_lookup_elem(&producer, &key);
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 slots = 1ULL << ring_slots_log2;
	__u64 pos;

	if (!pr)
		return 0;
	if (pr->next >= pr->limit) {
		struct pktpath_ring_cursor *c = bpf_map_lookup_elem(&ring_consumed, &cpu);

		if (!c)
			return 0;
		pr->limit = *(volatile __u64 *)&c->consumed + slots - RING_SPARE;
		if (pr->next >= pr->limit) {
			count_lost();
			return 0;
		}
	}
	pos = __sync_fetch_and_add(&pr->next, 1);
	key = (cpu << ring_slots_log2) | (__u32)(pos & (slots - 1));
	/* never 0: the loader sized the array for every possible CPU */
	return bpf_map_lookup_elem(&ring, &key);
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

/* Nothing reads these: they put the enums into the object's BTF (struct pktpath_event
 * gets there through the ring map), where test/decode.test.ts checks the decoder against both. */
const volatile enum pktpath_event_kind pktpath_event_kind_btf = PKTPATH_EV_NET_DEV_QUEUE;
const volatile enum pktpath_filter_op pktpath_filter_op_btf = PKTPATH_FOP_TRUE;

/* The packet part of a record; p is 0 for events that carry no headers (xmit, frees). */
static __always_inline void fill_packet(struct pktpath_event *e, __u8 kind, const struct pkt *p)
{
	struct pkt *dst = (struct pkt *)&e->kind;

	if (p)
		__builtin_memcpy(dst, p, sizeof(*dst));
	else
		__builtin_memset(dst, 0, sizeof(*dst));
	dst->kind = kind;
}

static __always_inline void submit(__u8 kind, __u64 skbaddr, struct net_device *dev, __u32 len,
				   const struct pkt *p, __u64 location, __u32 reason)
{
	struct pktpath_slot *slot = reserve();
	struct pktpath_event *e;

	if (!slot)
		return;
	e = &slot->ev;
	e->ts_ns = bpf_ktime_get_ns();
	e->skbaddr = skbaddr;
	e->location = location;
	e->netns_ino = dev ? dev->nd_net.net->ns.inum : 0;
	e->ifindex = dev ? dev->ifindex : 0;
	e->len = len;
	e->drop_reason = reason;
	fill_packet(e, kind, p);
	if (dev)
		__builtin_memcpy(e->ifname, dev->name, sizeof(e->ifname));
	else
		__builtin_memset(e->ifname, 0, sizeof(e->ifname));
	commit(slot);
}

/* A hop that passes the filter reports itself and marks its skb as tracked. */
static __always_inline int handle_hop(struct sk_buff *skb, __u8 kind)
{
	struct pkt p = {};
	__u64 addr = addr_value(skb);
	__u64 *slot;

	parse_skb(&p, skb);
	if (!passes(&p))
		return 0;
	slot = track_slot(addr);
	if (slot)
		*slot = addr;
	submit(kind, addr, skb->dev, skb->len, &p, 0, 0);
	return 0;
}

/* The end of a tracked skb's life: report it and forget the address. Its headers were reported by
 * its hops already. skb->dev shares its word with
 * dev_scratch, which UDP fills once the skb is queued to a socket: at consume_skb it is not a device
 * (reading it faults, slowly), so only kfree_skb, where drops happen and are rare, looks at it, and
 * only when it holds a kernel address. */
static __always_inline int handle_free(struct sk_buff *skb, __u8 kind, __u64 location, __u32 reason)
{
	__u64 addr = addr_value(skb);
	struct net_device *dev = 0;
	__u64 *slot = track_slot(addr);

	if (!slot || *slot != addr)
		return 0;
	*slot = 0;
	if (kind == PKTPATH_EV_KFREE_SKB) {
		dev = skb->dev;
		if ((__u64)dev < KERNEL_ADDR_MIN)
			dev = 0;
	}
	submit(kind, addr, dev, skb->len, 0, location, reason);
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(handle_net_dev_queue, struct sk_buff *skb)
{
	return handle_hop(skb, PKTPATH_EV_NET_DEV_QUEUE);
}

/* The skb may already be freed here (the peer took it): use its address, never its contents. */
SEC("tp_btf/net_dev_xmit")
int BPF_PROG(handle_net_dev_xmit, struct sk_buff *skb, int rc, struct net_device *dev, unsigned int skb_len)
{
	__u64 addr = addr_value(skb);

	if (!is_tracked(addr))
		return 0;
	submit(PKTPATH_EV_NET_DEV_XMIT, addr, dev, skb_len, 0, 0, 0);
	return 0;
}

SEC("tp_btf/netif_rx")
int BPF_PROG(handle_netif_rx, struct sk_buff *skb)
{
	return handle_hop(skb, PKTPATH_EV_NETIF_RX);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(handle_netif_receive_skb, struct sk_buff *skb)
{
	return handle_hop(skb, PKTPATH_EV_NETIF_RECEIVE_SKB);
}

SEC("tp_btf/napi_gro_receive_entry")
int BPF_PROG(handle_napi_gro_receive_entry, struct sk_buff *skb)
{
	return handle_hop(skb, PKTPATH_EV_NAPI_GRO_RECEIVE_ENTRY);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	return handle_free(skb, PKTPATH_EV_KFREE_SKB, (__u64)location, (__u32)reason);
}

SEC("tp_btf/consume_skb")
int BPF_PROG(handle_consume_skb, struct sk_buff *skb, void *location)
{
	return handle_free(skb, PKTPATH_EV_CONSUME_SKB, (__u64)location, 0);
}
