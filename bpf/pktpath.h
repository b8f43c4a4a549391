/* The whole contract between the BPF program and the TypeScript decoder (server/capture/decode.ts).
 * Fixed-width fields, explicit padding, no implicit holes: test/decode.test.ts checks the decoder's
 * offsets against this struct's BTF in the compiled object. */
#ifndef PKTPATH_H
#define PKTPATH_H

#define PKTPATH_IFNAMSIZ 16
#define PKTPATH_ADDR_LEN 16

enum pktpath_event_kind {
	PKTPATH_EV_NET_DEV_QUEUE = 1,
	PKTPATH_EV_NET_DEV_XMIT = 2,
	PKTPATH_EV_NETIF_RX = 3,
	PKTPATH_EV_NETIF_RECEIVE_SKB = 4,
	PKTPATH_EV_NAPI_GRO_RECEIVE_ENTRY = 5,
	PKTPATH_EV_KFREE_SKB = 6,
	PKTPATH_EV_CONSUME_SKB = 7,
};

/* Filter settings written into .rodata before load (const volatile in the program). */
enum pktpath_filter_proto {
	PKTPATH_FILTER_ICMP_ECHO = 0, /* ICMP/ICMPv6 echo request and reply only (the default) */
	PKTPATH_FILTER_ANY_IP = 1,
	PKTPATH_FILTER_PROTO = 2,     /* one IP protocol number, filter_l4proto */
};

struct pktpath_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns() */
	__u64 skbaddr;
	__u64 location;    /* kfree_skb/consume_skb caller address, 0 otherwise */
	__u32 netns_ino;   /* dev->nd_net.net->ns.inum, 0 when unknown */
	__u32 ifindex;
	__u32 len;         /* skb->len as the tracepoint reports it */
	__u32 drop_reason; /* enum skb_drop_reason value at kfree_skb */
	__u8 kind;         /* enum pktpath_event_kind */
	__u8 family;       /* 4, 6, or 0 when no IP header was read */
	__u8 l4proto;      /* IPPROTO_* */
	__u8 icmp_type;
	__u16 icmp_id;     /* host byte order */
	__u16 icmp_seq;    /* host byte order */
	__u16 sport;       /* host byte order, TCP/UDP */
	__u16 dport;
	__u8 pad[4];
	__u8 saddr[PKTPATH_ADDR_LEN]; /* IPv4 in the first 4 bytes */
	__u8 daddr[PKTPATH_ADDR_LEN];
	char ifname[PKTPATH_IFNAMSIZ];
};

/* One slot of a CPU's ring (see the ring map in pktpath.bpf.c). Framed like a BPF ring buffer
 * record, an 8-byte header whose first word is the length, so the decoder reads both alike. */
struct pktpath_slot {
	__u32 len;         /* sizeof(struct pktpath_event) once filled, 0 while free */
	__u32 pad;
	struct pktpath_event ev;
};

/* Per CPU, written by the reader: slots of that CPU's ring consumed so far. A cache line each. */
struct pktpath_ring_cursor {
	__u64 consumed;
	__u64 pad[7];
};

/* The capture filter: a small program the BPF side runs on every packet it does not track yet
 * (shared/filter compiles a pcap-filter expression into it). Instructions run from index 0; each
 * tests one thing of the packet's header and continues at jt when the test holds, at jf when not.
 * Jumps go forward only (jt, jf > the instruction's index) or end the run: PKTPATH_FILTER_ACCEPT,
 * PKTPATH_FILTER_REJECT. Running past len rejects. Two programs live in the filter map; filter_ctl
 * names the active one, so a new filter is written beside the one in use and then switched to. */
#define PKTPATH_FILTER_MAX 64
#define PKTPATH_FILTER_ACCEPT 0xfe
#define PKTPATH_FILTER_REJECT 0xff

enum pktpath_filter_op {
	PKTPATH_FOP_TRUE = 0,      /* always holds */
	PKTPATH_FOP_FAMILY = 1,    /* arg: 4 or 6 */
	PKTPATH_FOP_PROTO = 2,     /* arg: the IP protocol / IPv6 next header (after extension headers) */
	PKTPATH_FOP_SRC_NET = 3,   /* arg: family; (saddr & mask) == addr */
	PKTPATH_FOP_DST_NET = 4,
	PKTPATH_FOP_SPORT = 5,     /* arg: lo | hi << 16; TCP/UDP with its ports in this fragment */
	PKTPATH_FOP_DPORT = 6,
	PKTPATH_FOP_ECHO = 7,      /* an ICMP/ICMPv6 echo request or reply, or an error quoting an echo request */
	PKTPATH_FOP_LEN_LE = 8,    /* arg: the packet's length (skb->len) is at most arg */
	PKTPATH_FOP_LEN_GE = 9,    /* arg: at least arg */
};

struct pktpath_filter_insn {
	__u8 op;           /* enum pktpath_filter_op */
	__u8 jt;
	__u8 jf;
	__u8 pad;
	__u32 arg;
	__u8 addr[PKTPATH_ADDR_LEN]; /* network byte order; IPv4 in the first 4 bytes */
	__u8 mask[PKTPATH_ADDR_LEN];
};

struct pktpath_filter {
	__u32 len;         /* instructions in use, at most PKTPATH_FILTER_MAX */
	__u32 pad;
	struct pktpath_filter_insn insn[PKTPATH_FILTER_MAX];
};

#endif
