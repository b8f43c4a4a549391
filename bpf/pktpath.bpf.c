// SPDX-License-Identifier: GPL-2.0
/* pktpath: one record per hop of a packet through the kernel: device tracepoints, the netfilter
 * hooks that are the IP stack's steps, receive handlers, the neighbour queue, and the free.
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
struct list_head { struct list_head *next; } __attribute__((preserve_access_index));
struct net_device {
	char name[16];
	int ifindex;
	possible_net_t nd_net;
	void *rx_handler;
	struct { struct list_head upper; } adj_list;
} __attribute__((preserve_access_index));
struct netdev_adjacent {
	struct net_device *dev;
	_Bool master;
	struct list_head list;
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
	__u8 cloned:1;
} __attribute__((preserve_access_index));
struct nf_hook_state {
	__u8 hook;
	__u8 pf;
	struct net_device *in;
	struct net_device *out;
	struct net *net;
	void *okfn;
} __attribute__((preserve_access_index));
struct bpf_nf_ctx {
	const struct nf_hook_state *state;
	struct sk_buff *skb;
} __attribute__((preserve_access_index));
struct neigh_table { int family; } __attribute__((preserve_access_index));
struct neighbour {
	struct neigh_table *tbl;
	struct net_device *dev;
	__u8 nud_state;
	__u8 primary_key[0];
} __attribute__((preserve_access_index));
enum skb_drop_reason { SKB_NOT_DROPPED_YET = 0 };
struct sock;

#define HEADER_UNSET 0xffff
#define NF_ACCEPT 1
#define NF_INET_FORWARD 2
#define NF_INET_LOCAL_OUT 3
#define NF_INET_POST_ROUTING 4
/* Kernel addresses live in the upper half on x86-64 and arm64. */
#define KERNEL_ADDR_MIN 0xffff000000000000ULL

/* Packet bytes are read with plain loads through bpf_rdonly_cast: the verifier marks the result
 * untrusted, and the JIT turns each load into one that yields 0 instead of faulting. That is much
 * cheaper than a bpf_probe_read_kernel call per hop (about 45 ns of ~200, bench/flood.ts). The
 * casts are to the kernel's own header structs, whose layout the verifier checks the loads against.
 * Kernels before 6.2 have no bpf_rdonly_cast: for them pktpath-compat.bpf.o is built with
 * PKTPATH_PROBE_READ, which copies each header into a stack array with bpf_probe_read_kernel. */
#define PKT_SRC __u64 /* a kernel address as a number: global functions take no raw pointers */
#ifdef PKTPATH_PROBE_READ
#define PKT_READ(copy, src, off, type) \
	(bpf_probe_read_kernel((copy), sizeof(copy), (const void *)((src) + (off))) ? (const __u8 *)0 : (const __u8 *)(copy))
#else
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define PKT_READ(copy, src, off, type) \
	((void)(copy), (const __u8 *)bpf_rdonly_cast((const void *)((src) + (off)), bpf_core_type_id_kernel(type)))
#endif

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

/* filter_ctl counts the filters set so far: its low bit is the filter map's slot in use, and the whole
 * number tells a verdict of this filter from one of an earlier filter (see the rejected map). */
static __always_inline __u32 filter_generation(void)
{
	__u32 key = 0;
	__u32 *ctl = bpf_map_lookup_elem(&filter_ctl, &key);

	return ctl ? *ctl : 0;
}

static __always_inline const struct pktpath_filter *active_filter(void)
{
	__u32 key = filter_generation() & 1;

	return bpf_map_lookup_elem(&filter, &key);
}
#define FILTER_PROGRAM() active_filter()
#include "filter.h"
#include "ring.h"

/* skb addresses whose hops we report; an skb address names a packet only until it is freed.
 * A direct-mapped table, not a hash map: an array slot is found with no lock and no call (the
 * verifier inlines array lookups), which matters because consume_skb runs for every skb the system
 * frees. Two in-flight skbs that share a slot evict each other (counted as PKTPATH_STAT_COLLISIONS):
 * the older one's remaining hops go unreported, and its journey ends as idle instead. With 2^17
 * slots and a few thousand skbs in flight that is rare. A slot also remembers the netfilter hook
 * the skb is in, so a chain boundary knows its place and a drop knows its hook. */
#define TRACK_BITS 17
struct track {
	__u64 addr;
	__u32 nf_netns;
	__u8 nf_pf;
	__u8 nf_hook;
	__u8 nf_index;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << TRACK_BITS);
	__type(key, __u32);
	__type(value, struct track);
} tracked SEC(".maps");

/* Data buffers (skb->head) of tracked skbs, and which skb owns the entry: an skb never tracked that
 * shares one is a clone (skb_clone shares the data: bridge flooding, taps), tracked from then on. */
struct head_owner {
	__u64 head;
	__u64 skb;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << TRACK_BITS);
	__type(key, __u32);
	__type(value, struct head_owner);
} heads SEC(".maps");

/* The skbs the filter turned away, with the bytes it judged: an untracked packet passes up to eight
 * hooks, and parsing and filtering it at each one was most of what pktpath cost a host whose traffic
 * it does not capture (bench/flood.ts). A hook that finds its skb here with the same bytes at the same
 * place returns at once. The bytes are the IP header (no options, no IPv6 extension headers) and the
 * first word of the transport header: every field the filter tests but the length, which is compared
 * too when the filter tests it. Whatever rewrites the header (NAT, a tunnel pushing or pulling one, a
 * new skb at the address) changes these bytes or the offset, so the packet is judged again. Equal
 * bytes mean an equal verdict, whichever packet they belong to, so a stale entry is never wrong; and
 * a header that holds a tunnel or quotes a packet (an ICMP error) is never remembered, since the
 * filter looks inside those. Indexed like the tracked table, 8 of its slots to one of these; per CPU,
 * so no entry is read while another CPU writes it (a packet mostly stays on one CPU for its hops). */
#define REJECT_BITS 14
#define REJECT_WORDS 11 /* IPv6: 40 bytes of header, 4 of transport; IPv4 uses 6 */
struct rejected {
	__u64 addr;
	__u32 generation;
	__u16 network_header;
	__u16 protocol;
	__u32 len;
	__u32 words[REJECT_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << REJECT_BITS);
	__type(key, __u32);
	__type(value, struct rejected);
} rejected SEC(".maps");

/* Sampling under pressure (serve): once this CPU's ring holds sample_fill records not yet read (the
 * reader is behind: correlation cannot keep up; see crowded), a packet the filter takes is followed
 * only if its flow is light (at most FLOW_BURST packets a window: see flow_follows), or else one in
 * N of its exchanges, N the flow's load over FLOW_BURST (a power of two); past midway from there to
 * full, none of a heavy flow's. Someone's own pings amid another team's flood are then all followed,
 * the flood is followed in part, and every journey followed is whole: what is not followed is never
 * begun, instead of a full ring cutting journeys short at random. The decision is the same for both
 * ways of an exchange (the key is symmetric, and an echo's is its id and seq, a DNS query's its id, a
 * TCP connect's its ports; an ICMP error goes by the header it quotes), and holds for its other
 * packets for about a second (see follow). 0: never (trace, record). */
/* sample_fill: in ring.h */

#define FLOW_BITS 12
#define FLOW_BURST 4
#define FLOW_WINDOW_SHIFT 23 /* windows of 2^23 ns, about 8 ms */
struct flow_rate {
	__u32 key;
	__u32 window;
	__u32 count;  /* packets judged in this window */
	__u32 prev;   /* before this window: see flow_follows */
};

/* Shared by the CPUs, so that both ways of a flow see one count; a lost update only shifts a count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << FLOW_BITS);
	__type(key, __u32);
	__type(value, struct flow_rate);
} flows SEC(".maps");

/* What was decided for an exchange lately (see follow), by its key. */
#define DECIDED_BITS 14
#define DECIDED_UNITS 954 /* about a second, in units of 2^20 ns */
struct decided {
	__u32 key;
	__u32 at;
	__u32 follow;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << DECIDED_BITS);
	__type(key, __u32);
	__type(value, struct decided);
} decided SEC(".maps");

/* The low bit of a tracked slot's address marks an skb judged and not followed (sampled out): skbs
 * are aligned, so no tracked address has it. Its other hooks pass over it without judging it again,
 * which could begin its journey halfway. The mark holds for IGNORED_UNITS at most (its free may go
 * unseen, and the address then names a new skb): the time, in units of 2^20 ns, is in nf_netns. */
#define IGNORED 1ULL
#define IGNORED_UNITS 100 /* about 105 ms */

/* Per CPU, the last tracked skb that left POSTROUTING: the one a neighbour lookup right after it
 * (neigh_event_send_done, which is not told the skb) is about. */
struct last_out {
	__u64 skb;
	__u64 ts_ns;
	__u32 ifindex;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_out);
} last_out SEC(".maps");

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

/* Fibonacci hashing: kernel addresses share their low bits (slab alignment). */
static __always_inline __u32 slot_of(__u64 addr)
{
	return (__u32)((addr * 0x9E3779B97F4A7C15ULL) >> (64 - TRACK_BITS));
}

static __always_inline struct track *track_slot(__u64 addr)
{
	__u32 key = slot_of(addr);

	return bpf_map_lookup_elem(&tracked, &key);
}

static __always_inline struct rejected *rejected_slot(__u64 addr)
{
	__u32 key = slot_of(addr) >> (TRACK_BITS - REJECT_BITS);

	return bpf_map_lookup_elem(&rejected, &key);
}

static __always_inline __u32 now_units(void)
{
	return (__u32)(bpf_ktime_get_ns() >> 20);
}

/* Whether this skb was judged and not followed, recently enough to be the same one. */
static __always_inline int ignored(const struct track *t, __u64 addr)
{
	return t->addr == (addr | IGNORED) && now_units() - t->nf_netns < IGNORED_UNITS;
}

/* Marks an skb not followed, in its slot if no tracked skb holds it; 0 when one does. */
static __always_inline int ignore(struct track *t, __u64 addr)
{
	if (t->addr && !(t->addr & IGNORED))
		return 0;
	t->addr = addr | IGNORED;
	t->nf_netns = now_units();
	return 1;
}

/* How crowded this CPU's ring is (see look_for_crowding): at least sample_fill records wait in it for
 * the reader (a quarter of it, for serve: a burst that fits is read whole), or midway from there to
 * full (correlation has stalled; past midway from that to full the reader lets stale records go, and
 * then the ring loses them). The reader's position is looked at (a cache line it writes) only when
 * the one remembered says so. */
static __always_inline int crowded(void)
{
	__u32 key = 0;
	struct producer *pr = bpf_map_lookup_elem(&producer, &key);
	__u64 slots = 1ULL << ring_slots_log2;

	if (!pr || unread(pr, pr->next, slots) < sample_fill)
		return 0;
	return look_for_crowding(pr, bpf_get_smp_processor_id(), pr->next, slots);
}

/* How crowded this CPU's ring is, or another CPU found its own lately (crowded_until_ns and
 * deep_until_ns, in ring.h: a request followed on one CPU has its reply's records on another, whose
 * ring would fill on): the deeper of the two. */
static __always_inline int crowding(void)
{
	int own = crowded();
	__u64 now;

	if (own == DEEPLY_CROWDED)
		return own;
	now = bpf_ktime_get_ns();
	if (now < *(volatile __u64 *)&deep_until_ns)
		return DEEPLY_CROWDED;
	return own || now < *(volatile __u64 *)&crowded_until_ns ? CROWDED : 0;
}

static __always_inline __u32 mix32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

/* The same for both ways of a flow: the two addresses' words summed, the ports too. */
static __always_inline __u32 symmetric_addrs(const struct pktpath_pkt *p)
{
	const __u32 *s = (const __u32 *)p->saddr, *d = (const __u32 *)p->daddr;

	return mix32(s[0] ^ s[1] ^ s[2] ^ s[3]) + mix32(d[0] ^ d[1] ^ d[2] ^ d[3]);
}

/* A packet's flow and exchange keys (see sample_fill): symmetric, so both ways of an exchange have
 * the same ones; an ICMP error has those of the header it quotes. */
static __always_inline __u32 flow_keys(const struct pktpath_pkt *p, const struct pktpath_pkt *aux, __u32 *exchange)
{
	const struct pktpath_pkt *q = aux->aux_kind == PKTPATH_AUX_QUOTED ? aux : p;
	__u32 flow = symmetric_addrs(q) ^ mix32(q->l4proto);

	if (is_icmp(q)) {
		flow ^= mix32(0x10000u | q->sport); /* an echo's id; its seq names the exchange */
		*exchange = mix32(flow ^ mix32(0x20000u | q->dport));
	} else {
		flow ^= mix32(q->sport) + mix32(q->dport);
		if (q->dns_id)
			*exchange = mix32(flow ^ mix32(0x30000u | q->dns_id));
		else if (q->l4proto == IPPROTO_TCP && q->tcp_flags & 0x02)
			*exchange = mix32(flow); /* a connect: SYN and SYN-ACK */
		else
			*exchange = mix32(flow ^ q->ip_id ^ mix32(q->frag_off)); /* no exchange: packet by packet */
	}
	*exchange |= 1;
	return flow | 1;
}

/* Counts a packet of this flow; whether its exchange is followed: every one while the ring is not
 * crowded, and then every one of a light flow, one in N of a heavy one's, and none of a heavy one's
 * once deeply crowded (correlation has stalled: what the ring holds is kept for the light flows, and
 * nothing waits long enough to be let go). A flow's load is the larger of its count in this window
 * and what it had before, halved for each window passed: a flood whose sender paused for a window
 * (descheduled on a busy machine) is heavy still, not light for the burst that follows. Counted
 * whether crowded or not, so that the first window of a crowded ring knows its flows. */
static __always_inline int flow_follows(__u32 flow, __u32 exchange, int crowd)
{
	__u32 idx = flow >> (32 - FLOW_BITS), window, modulus, load;
	struct flow_rate *f = bpf_map_lookup_elem(&flows, &idx);

	if (!f)
		return 1;
	window = (__u32)(bpf_ktime_get_ns() >> FLOW_WINDOW_SHIFT);
	if (f->key != flow) {
		f->key = flow;
		f->window = window;
		f->count = 0;
		f->prev = 0;
	} else if (f->window != window) {
		__u32 gap = window - f->window;
		__u32 last = f->count > f->prev / 2 ? f->count : f->prev / 2;

		f->prev = gap > 31 ? 0 : last >> (gap - 1);
		f->window = window;
		f->count = 0;
	}
	f->count++;
	load = f->count > f->prev ? f->count : f->prev;
	if (!crowd || load <= FLOW_BURST)
		return 1;
	if (crowd == DEEPLY_CROWDED)
		return 0;
	modulus = load / FLOW_BURST;
	modulus = modulus >= 1u << 16 ? 1u << 16 : modulus;
	/* the power of two at or above it */
	modulus--;
	modulus |= modulus >> 1;
	modulus |= modulus >> 2;
	modulus |= modulus >> 4;
	modulus |= modulus >> 8;
	modulus++;
	return (mix32(exchange) & (modulus - 1)) == 0;
}

/* Whether a packet the filter took is followed (sample_fill set). What was decided for an exchange
 * holds for its other packets a while, whether the ring is crowded then or not: a request followed
 * just before the ring filled has its reply followed too, one not followed has no reply alone. */
static __always_inline int follow(const struct pktpath_pkt *p, const struct pktpath_pkt *aux)
{
	__u32 exchange, flow = flow_keys(p, aux, &exchange);
	__u32 idx = exchange >> (32 - DECIDED_BITS), now = now_units();
	struct decided *d = bpf_map_lookup_elem(&decided, &idx);
	int crowd = crowding(); /* looked at even when decided: this CPU's ring may be the one filling */
	int verdict;

	if (d && d->key == exchange && now - d->at < DECIDED_UNITS)
		return d->follow;
	verdict = flow_follows(flow, exchange, crowd);
	if (d) {
		d->key = exchange;
		d->at = now;
		d->follow = verdict;
	}
	return verdict;
}

/* 16 bytes of header as four words: struct in6_addr is the kernel struct whose members let the verifier
 * allow a 4-byte load at each 4-byte offset (a load across two members of iphdr is refused). */
struct in6_addr { union { __u32 u6_addr32[4]; } in6_u; } __attribute__((preserve_access_index));
#define REJECT_CHUNK(copy, head, at) \
	((const __u32 *)PKT_READ(copy, head, at, struct in6_addr))

/* Compares (store == 0) or stores (store == 1) the bytes a rejection is remembered by (see the
 * rejected map), read at the network header in place, with no copy on the stack but under
 * PKTPATH_PROBE_READ; 0 when the skb's protocol is not IP or a read fails, or they differ. The
 * words past an IPv4 header and its first transport word stay zero. */
static __always_inline int header_words(struct rejected *r, __u64 head, __u16 nh, __u16 proto, int store)
{
	__u8 copy[16];
	const __u32 *c;
	int chunks;

	if (proto == ETH_P_IP)
		chunks = 2; /* 20 bytes of header, 4 of transport: words 0..5 */
	else if (proto == ETH_P_IPV6)
		chunks = 3; /* 40 bytes of header, 4 of transport: words 0..10 */
	else
		return 0;
	for (int k = 0; k < 3; k++) {
		if (k >= chunks)
			break;
		c = REJECT_CHUNK(copy, head, nh + 16 * k);
		if (!c)
			return 0;
		for (int i = 0; i < 4; i++) {
			int w = 4 * k + i;
			__u32 v;

			if (w >= REJECT_WORDS)
				break;
			v = (proto == ETH_P_IP && w > 5) ? 0 : c[i];
			if (store)
				r->words[w] = v;
			else if (r->words[w] != v)
				return 0;
		}
	}
	return 1;
}

/* Whether the filter turned this skb away before with the bytes it has now. A clone is never taken
 * from here: it may be a clone of a tracked skb, which admit() tracks whatever its bytes say. */
static __always_inline int rejected_before(const struct sk_buff *skb, __u64 addr)
{
	struct rejected *r = rejected_slot(addr);
	__u16 nh = skb->network_header;
	const struct pktpath_filter *f;

	if (!r || r->addr != addr || r->generation != filter_generation() || r->network_header != nh ||
	    r->protocol != skb->protocol || nh == HEADER_UNSET)
		return 0;
	if (r->len != skb->len) {
		f = active_filter();
		if (!f || f->flags & PKTPATH_FILTER_F_LEN)
			return 0;
	}
	if (BPF_CORE_READ_BITFIELD(skb, cloned))
		return 0;
	if (!header_words(r, addr_value(skb->head), nh, bpf_ntohs(skb->protocol), 0))
		return 0;
	return r->addr == addr; /* not rewritten meanwhile by a program that interrupted this one */
}

/* Remembers a rejection when the header was read at the network header and holds nothing the
 * filter looks inside (see the rejected map). */
static __always_inline void remember_rejected(const struct sk_buff *skb, __u64 addr, const struct pktpath_pkt *p,
					      const struct pktpath_pkt *aux, int at_network_header)
{
	struct rejected *r = rejected_slot(addr);
	__u16 nh = skb->network_header;

	if (!r || !at_network_header || aux->aux_kind || nh == HEADER_UNSET || p->frag)
		return;
	r->addr = 0; /* no half-written entry is ever taken for a whole one */
	if (BPF_CORE_READ_BITFIELD(skb, cloned) ||
	    !header_words(r, addr_value(skb->head), nh, bpf_ntohs(skb->protocol), 1))
		return;
	/* an IPv4 header with options or IPv6 extension headers puts the transport header elsewhere */
	if (p->family == 4 ? (r->words[0] & 0x0f) != 5 : (r->words[1] >> 16 & 0xff) != p->l4proto) {
		r->addr = 0;
		return;
	}
	r->addr = addr;
	r->generation = filter_generation();
	r->network_header = nh;
	r->protocol = skb->protocol;
	r->len = skb->len;
}

/* Nothing reads these: they put the enums into the object's BTF (struct pktpath_event gets there
 * through the ring map), where the decoder and test/decode.test.ts read them. */
const volatile enum pktpath_event_kind pktpath_event_kind_btf = PKTPATH_EV_NET_DEV_QUEUE;
const volatile enum pktpath_filter_op pktpath_filter_op_btf = PKTPATH_FOP_TRUE;
const volatile enum pktpath_aux_kind pktpath_aux_kind_btf = PKTPATH_AUX_NONE;
const volatile enum pktpath_stat pktpath_stat_btf = PKTPATH_STAT_LOST;

/* Network header first; on receive paths before it is reset, the byte after the Ethernet header.
 * skb fields are plain loads: tp_btf arguments are BTF pointers the verifier lets us read directly. */
#define PARSED_AT_NETWORK_HEADER 1
#define PARSED_AFTER_MAC_HEADER 2
static __always_inline int parse_skb(struct pktpath_pkt *p, struct pktpath_pkt *aux, const struct sk_buff *skb)
{
	__u64 head = addr_value(skb->head);
	__u16 proto = bpf_ntohs(skb->protocol);
	__u16 nh = skb->network_header;
	__u16 mh = skb->mac_header;
	__u8 want = proto == ETH_P_IP ? 4 : proto == ETH_P_IPV6 ? 6 : 0;

	if (!want || !head)
		return 0;
	if (nh != HEADER_UNSET && parse_packet(p, aux, head, nh, want))
		return PARSED_AT_NETWORK_HEADER;
	if (mh != HEADER_UNSET && parse_packet(p, aux, head, mh + ETH_HLEN, want))
		return PARSED_AFTER_MAC_HEADER;
	return 0;
}

/* Whether an skb not tracked yet is to be: a clone of a tracked one (clone_of set), or one the
 * filter accepts; ADMIT_SAMPLED when the filter took it but the ring is crowded and it is not one
 * to follow then (see sample_fill). */
#define ADMIT_SAMPLED 2
static __always_inline int admit(const struct sk_buff *skb, const struct pktpath_pkt *p,
				 const struct pktpath_pkt *aux, __u64 *clone_of)
{
	__u64 head = addr_value(skb->head);
	__u32 key = slot_of(head);
	struct head_owner *h;

	/* Only a clone shares its data: a new skb whose buffer reuses the head of a tracked one freed
	 * without a tracepoint (TCP's __kfree_skb) is not one, and skb->cloned tells them apart. Tested
	 * first, as most skbs are no clones: the heads table is not read for them. */
	h = BPF_CORE_READ_BITFIELD(skb, cloned) ? bpf_map_lookup_elem(&heads, &key) : 0;
	if (h && h->head == head && head && h->skb) {
		struct track *owner = track_slot(h->skb);

		if (owner && owner->addr == h->skb) {
			*clone_of = h->skb;
			return 1;
		}
	}
	if (!filter_accepts(p, aux, skb->len))
		return 0;
	if (sample_fill && !follow(p, aux)) {
		count_stat(PKTPATH_STAT_SAMPLED);
		return ADMIT_SAMPLED;
	}
	return 1;
}

/* An skb admit() did not take (verdict 0 or ADMIT_SAMPLED): one sampling turned away is marked not
 * followed in its slot; one the filter turned away, or one whose slot a tracked skb holds, has its
 * bytes remembered (see the rejected map). */
static __always_inline void turned_away(const struct sk_buff *skb, struct track *t, __u64 addr, const struct pktpath_pkt *p,
					const struct pktpath_pkt *aux, int parsed, int verdict)
{
	if (verdict != ADMIT_SAMPLED || !ignore(t, addr))
		remember_rejected(skb, addr, p, aux, parsed == PARSED_AT_NETWORK_HEADER);
}

static __always_inline void track(struct track *t, __u64 addr, const struct sk_buff *skb)
{
	__u64 head = addr_value(skb->head);
	__u32 key = slot_of(head);
	struct head_owner *h = bpf_map_lookup_elem(&heads, &key);

	if (t->addr && !(t->addr & IGNORED))
		count_stat(PKTPATH_STAT_COLLISIONS);
	t->addr = addr;
	t->nf_netns = 0;
	t->nf_pf = 0;
	t->nf_hook = 0;
	t->nf_index = 0;
	if (h && head) {
		h->head = head;
		h->skb = addr;
	}
}

static __always_inline void untrack(struct track *t, const struct sk_buff *skb)
{
	__u64 head = addr_value(skb->head);
	__u32 key = slot_of(head);
	struct head_owner *h = bpf_map_lookup_elem(&heads, &key);

	if (h && h->skb == t->addr)
		h->skb = 0;
	t->addr = 0;
}

static __always_inline void put_dev(struct pktpath_event *e, const struct net_device *dev)
{
	if (!dev) {
		__builtin_memset(e->ifname, 0, sizeof(e->ifname));
		return;
	}
	e->netns_ino = dev->nd_net.net->ns.inum;
	e->ifindex = dev->ifindex;
	__builtin_memcpy(e->ifname, dev->name, sizeof(e->ifname));
}

static __always_inline void put_dev2(struct pktpath_event *e, const struct net_device *dev)
{
	if (!dev) {
		__builtin_memset(e->ifname2, 0, sizeof(e->ifname2));
		return;
	}
	e->ifindex2 = dev->ifindex;
	__builtin_memcpy(e->ifname2, dev->name, sizeof(e->ifname2));
}

/* A record that reports no header: begin() leaves the header words to the caller, and a slot the
 * ring used before still holds the last record's (another packet's header on this hop). */
static __always_inline void no_headers(struct pktpath_event *e)
{
	__builtin_memset(&e->pkt, 0, sizeof(e->pkt));
	__builtin_memset(&e->aux, 0, sizeof(e->aux));
}

static __always_inline void put_master(struct pktpath_event *e, const struct net_device *dev)
{
	__builtin_memset(e->ifname2, 0, sizeof(e->ifname2));
	if (!dev)
		return;
	e->ifindex2 = BPF_CORE_READ(dev, ifindex);
	bpf_core_read(e->ifname2, sizeof(e->ifname2), &dev->name);
}

/* IPv4, IPv6, or a VLAN tag that may carry them. */
static __always_inline int is_ip_ethertype(__u16 proto)
{
	return proto == ETH_P_IP || proto == ETH_P_IPV6 || proto == ETH_P_8021Q || proto == ETH_P_8021AD;
}

/* The checks every hook makes first, in the caller, so that a packet they turn away costs no more:
 * the parsed headers' stack space is zeroed only in the body, past them (clang zeroes a local where
 * it is declared, before any early return after that). */
static __always_inline int hop_body(const struct sk_buff *skb, __u8 kind, __u64 addr, struct track *t)
{
	struct pktpath_pkt p = {}, aux = {};
	struct pktpath_slot *slot;
	struct pktpath_event *e;
	__u64 clone_of = 0;
	__u8 flags = 0;
	int parsed;

	parsed = parse_skb(&p, &aux, skb);
	/* An ARP (or any non-IP) frame at a tracked address is a new skb: the tracked one was freed
	 * without a tracepoint (a UDP socket's read), and a frame that is not IP has no netfilter hook
	 * where a new packet would otherwise be told apart. */
	if (t->addr == addr && !is_ip_ethertype(bpf_ntohs(skb->protocol)))
		untrack(t, skb);
	if (t->addr != addr) {
		int verdict = admit(skb, &p, &aux, &clone_of);

		if (verdict != 1) {
			turned_away(skb, t, addr, &p, &aux, parsed, verdict);
			return 0;
		}
		track(t, addr, skb);
		flags = PKTPATH_REC_NEW_SKB;
	}
	t->nf_pf = 0; /* past any netfilter hook: a drop from here on is not a chain's */
	slot = reserve();
	if (!slot)
		return 0;
	e = begin(slot, kind, addr);
	e->flags = flags;
	e->clone_of = clone_of;
	e->len = skb->len;
	put_dev(e, skb->dev);
	put_dev2(e, 0);
	__builtin_memcpy(&e->pkt, &p, sizeof(p));
	__builtin_memcpy(&e->aux, &aux, sizeof(aux));
	commit(slot);
	return 0;
}

/* Whether a hook passes over this skb: not tracked, and either unable to begin a journey here
 * (may_begin 0) or turned away by the filter before with the bytes it has now. */
static __always_inline int passed_over(const struct sk_buff *skb, __u64 addr, const struct track *t, int may_begin)
{
	return !t || (t->addr != addr && (!may_begin || ignored(t, addr) || rejected_before(skb, addr)));
}

/* A hop that is tracked, or becomes so, reports itself with the header it sees. */
static __always_inline int handle_hop(const struct sk_buff *skb, __u8 kind)
{
	__u64 addr = addr_value(skb);
	struct track *t = track_slot(addr);

	if (passed_over(skb, addr, t, 1))
		return 0;
	return hop_body(skb, kind, addr, t);
}

/* The device a frame goes on to: the bridge of a bridge port, the bond of a slave. Read with
 * probe reads (a rare path), so the result is a plain address: see put_master. */
static __always_inline const struct net_device *master_of(const struct net_device *dev)
{
	struct list_head *first = BPF_CORE_READ(dev, adj_list.upper.next);
	__u64 list = (__u64)first;
	__u64 head = addr_value(&dev->adj_list.upper);
	struct netdev_adjacent *adj;

	if (!first || list == head)
		return 0;
	adj = (struct netdev_adjacent *)(list - bpf_core_field_offset(struct netdev_adjacent, list));
	if (!BPF_CORE_READ(adj, master))
		return 0;
	return BPF_CORE_READ(adj, dev);
}

/* After netif_receive_skb, a device with a receive handler (bridge port, macvlan or ipvlan parent,
 * bond slave) hands the skb over without another receive tracepoint: say so, naming the handler. */
static __always_inline void handle_rx_handler(const struct sk_buff *skb)
{
	__u64 addr = addr_value(skb);
	const struct net_device *dev = skb->dev;
	struct track *t = track_slot(addr);
	struct pktpath_slot *slot;
	struct pktpath_event *e;
	__u64 handler;

	if (!t || t->addr != addr || !dev)
		return;
	handler = (__u64)dev->rx_handler;
	if (!handler)
		return;
	slot = reserve();
	if (!slot)
		return;
	e = begin(slot, PKTPATH_EV_RX_HANDLER, addr);
	no_headers(e);
	e->location = handler;
	e->len = skb->len;
	put_dev(e, dev);
	put_master(e, master_of(dev));
	commit(slot);
}

/* The end of a tracked skb's life: report it and forget the address, with the netfilter hook it
 * was last in. An skb never tracked that is dropped (not consumed) and matches the filter is
 * reported too: a packet can die before any hook saw it (one that waited for ARP in vain).
 * skb->dev shares its word with dev_scratch, which UDP fills once the skb is queued to a socket:
 * only a kernel address there is a device. */
static __always_inline int free_body(const struct sk_buff *skb, __u8 kind, __u64 location, __u32 reason,
				     __u64 addr, struct track *t)
{
	struct pktpath_pkt p = {}, aux = {};
	const struct net_device *dev = skb->dev;
	struct pktpath_slot *slot;
	struct pktpath_event *e;
	__u64 clone_of = 0;
	int was_tracked = t->addr == addr;

	if (!was_tracked) {
		parse_skb(&p, &aux, skb);
		if (admit(skb, &p, &aux, &clone_of) != 1)
			return 0;
	}
	if (addr_value(dev) < KERNEL_ADDR_MIN)
		dev = 0;
	slot = reserve();
	if (slot) {
		e = begin(slot, kind, addr);
		if (!was_tracked)
			e->flags = PKTPATH_REC_NEW_SKB;
		e->location = location;
		e->clone_of = clone_of;
		e->drop_reason = reason;
		e->len = skb->len;
		put_dev(e, dev);
		put_dev2(e, 0);
		if (was_tracked && t->nf_pf) {
			e->nf_netns = t->nf_netns;
			e->nf_pf = t->nf_pf;
			e->nf_hook = t->nf_hook;
			e->nf_index = t->nf_index;
		}
		__builtin_memcpy(&e->pkt, &p, sizeof(p));
		__builtin_memcpy(&e->aux, &aux, sizeof(aux));
		commit(slot);
	}
	if (was_tracked)
		untrack(t, skb);
	return 0;
}

static __always_inline int handle_free(const struct sk_buff *skb, __u8 kind, __u64 location, __u32 reason)
{
	__u64 addr = addr_value(skb);
	struct track *t = track_slot(addr);

	if (t && t->addr == (addr | IGNORED)) {
		int fresh = ignored(t, addr);

		t->addr = 0;
		if (fresh)
			return 0; /* the end of a packet not followed */
	}
	if (passed_over(skb, addr, t, kind == PKTPATH_EV_KFREE_SKB))
		return 0;
	return free_body(skb, kind, location, reason, addr, t);
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
	struct track *t = track_slot(addr);
	struct pktpath_slot *slot;
	struct pktpath_event *e;

	if (!t || t->addr != addr)
		return 0;
	slot = reserve();
	if (!slot)
		return 0;
	e = begin(slot, PKTPATH_EV_NET_DEV_XMIT, addr);
	no_headers(e);
	e->len = skb_len;
	put_dev(e, dev);
	put_dev2(e, 0);
	commit(slot);
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
	handle_hop(skb, PKTPATH_EV_NETIF_RECEIVE_SKB);
	handle_rx_handler(skb);
	return 0;
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

/* A netfilter hook, at the front of its chains (nf_enter) or right after a chain's priority
 * (nf_after): these are the IP stack's steps (PREROUTING is ip_rcv's, FORWARD ip_forward's, ...), in
 * the hook's own namespace, with the devices it knows. The loader attaches them per namespace and
 * hook (BPF netfilter links); a chain boundary knows its place by counting since the hook began. */
static __always_inline int nf_body(struct bpf_nf_ctx *ctx, int entering, __u64 addr, struct track *t)
{
	const struct nf_hook_state *st = ctx->state;
	const struct sk_buff *skb = ctx->skb;
	struct pktpath_pkt p = {}, aux = {};
	struct pktpath_slot *slot;
	struct pktpath_event *e;
	__u64 clone_of = 0;
	__u8 hook = st->hook;
	__u8 flags = 0;
	int parsed;

	parsed = parse_skb(&p, &aux, skb);
	/* A packet this host sends starts at the output hook. Seen there with an address still tracked
	 * and no tunnel header pushed on it (a tunnel sends its packets out again, wrapped), it is a new
	 * skb: the one that had the address was freed without a tracepoint (TCP frees with __kfree_skb). */
	if (entering && hook == NF_INET_LOCAL_OUT && t->addr == addr && (!aux.aux_kind || aux.aux_kind == PKTPATH_AUX_QUOTED)) {
		untrack(t, skb);
		flags = PKTPATH_REC_NEW_SKB;
	}
	if (t->addr != addr) {
		int verdict = admit(skb, &p, &aux, &clone_of);

		if (verdict != 1) {
			turned_away(skb, t, addr, &p, &aux, parsed, verdict);
			return NF_ACCEPT;
		}
		track(t, addr, skb);
		flags = PKTPATH_REC_NEW_SKB;
	}
	t->nf_index = entering ? 0 : t->nf_index + 1;
	t->nf_pf = st->pf;
	t->nf_hook = hook;
	t->nf_netns = st->net->ns.inum;
	slot = reserve();
	if (!slot)
		return NF_ACCEPT;
	e = begin(slot, PKTPATH_EV_NF_HOOK, addr);
	e->flags = flags;
	e->clone_of = clone_of;
	e->len = skb->len;
	e->nf_pf = st->pf;
	e->nf_hook = hook;
	e->nf_index = t->nf_index;
	/* what runs after the hook says whose step it is: ip_rcv_finish, or br_netfilter's for a bridged frame */
	e->location = (__u64)st->okfn;
	/* where the packet is: the device it came in on, or for the output hooks the one it leaves by */
	put_dev(e, hook <= NF_INET_FORWARD ? st->in : st->out);
	put_dev2(e, hook == NF_INET_FORWARD ? st->out : 0);
	e->netns_ino = t->nf_netns;
	__builtin_memcpy(&e->pkt, &p, sizeof(p));
	__builtin_memcpy(&e->aux, &aux, sizeof(aux));
	if (hook == NF_INET_POST_ROUTING && st->out) {
		__u32 key = 0;
		struct last_out *lo = bpf_map_lookup_elem(&last_out, &key);

		if (lo) {
			lo->skb = addr;
			lo->ts_ns = e->ts_ns;
			lo->ifindex = st->out->ifindex;
		}
	}
	commit(slot);
	return NF_ACCEPT;
}

static __always_inline int handle_nf(struct bpf_nf_ctx *ctx, int entering)
{
	const struct sk_buff *skb = ctx->skb;
	__u64 addr = addr_value(skb);
	struct track *t = track_slot(addr);

	/* a packet this host sends starts at the output hook: an address still marked there is a new skb */
	if (entering && t && t->addr == (addr | IGNORED) && ctx->state->hook == NF_INET_LOCAL_OUT)
		t->addr = 0;
	if (passed_over(skb, addr, t, entering))
		return NF_ACCEPT;
	return nf_body(ctx, entering, addr, t);
}

SEC("netfilter")
int nf_enter(struct bpf_nf_ctx *ctx)
{
	return handle_nf(ctx, 1);
}

SEC("netfilter")
int nf_after(struct bpf_nf_ctx *ctx)
{
	return handle_nf(ctx, 0);
}

/* A neighbour not yet resolved queues the packet until it is (or frees it, NEIGH_FAILED, when it
 * never is). The tracepoint is not told the skb: it is the one that left POSTROUTING on this CPU
 * just before, on the neighbour's device. aux carries the neighbour: its address in daddr, its NUD
 * state in ttl. */
#define NEIGH_AFTER_OUT_NS 200000
SEC("tp_btf/neigh_event_send_done")
int BPF_PROG(handle_neigh_event_send_done, struct neighbour *n, int rc)
{
	__u32 key = 0;
	struct last_out *lo = bpf_map_lookup_elem(&last_out, &key);
	struct pktpath_slot *slot;
	struct pktpath_event *e;
	struct track *t;
	__u64 skb;
	int family;

	if (!lo || !lo->skb || rc == 0)
		return 0;
	skb = lo->skb;
	lo->skb = 0;
	if (!n->dev || bpf_ktime_get_ns() - lo->ts_ns > NEIGH_AFTER_OUT_NS || n->dev->ifindex != lo->ifindex)
		return 0;
	t = track_slot(skb);
	if (!t || t->addr != skb)
		return 0;
	slot = reserve();
	if (!slot)
		return 0;
	e = begin(slot, PKTPATH_EV_NEIGH_QUEUE, skb);
	put_dev(e, n->dev);
	put_dev2(e, 0);
	no_headers(e);
	family = n->tbl ? n->tbl->family : 0;
	e->aux.aux_kind = PKTPATH_AUX_NEIGH;
	e->aux.family = family == 10 ? 6 : 4;
	e->aux.ttl = n->nud_state;
	bpf_probe_read_kernel(e->aux.daddr, family == 10 ? 16 : 4, &n->primary_key);
	commit(slot);
	return 0;
}
