/* The whole contract between the BPF program and the TypeScript decoder (server/capture/decode.ts).
 * Fixed-width fields, explicit padding, no implicit holes. The decoder takes every offset from this
 * struct's BTF in the compiled object (server/capture/layout.ts), so this file is the one definition. */
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
	PKTPATH_EV_NF_HOOK = 8,     /* a netfilter hook entered (nf_index 0) or a chain boundary passed */
	PKTPATH_EV_RX_HANDLER = 9,  /* netif_receive_skb on a device whose rx_handler (location) takes it */
	PKTPATH_EV_NEIGH_QUEUE = 10, /* queued until the neighbour (aux.daddr) resolves */
	PKTPATH_EV_RECORDS_LOST = 11, /* this CPU's ring was full: len records lost, from location to ts_ns */
};

/* What a record's aux header is. */
enum pktpath_aux_kind {
	PKTPATH_AUX_NONE = 0,
	PKTPATH_AUX_VXLAN = 1,      /* aux is the outer header of a tunnel, pkt the inner one */
	PKTPATH_AUX_GENEVE = 2,
	PKTPATH_AUX_GRE = 3,
	PKTPATH_AUX_IPIP = 4,       /* IPv4 in IPv4 */
	PKTPATH_AUX_SIT = 5,        /* IPv6 in IPv4 */
	PKTPATH_AUX_IP6TNL = 6,     /* IPv4 or IPv6 in IPv6 */
	PKTPATH_AUX_QUOTED = 7,     /* pkt is an ICMP error, aux the header it quotes */
	PKTPATH_AUX_NEIGH = 8,      /* aux.daddr is the neighbour a queued packet waits for */
};

/* Counters the program keeps per CPU (the stats map), summed by the reader. */
enum pktpath_stat {
	PKTPATH_STAT_LOST = 0,       /* records that did not fit in the ring: the reader was behind */
	PKTPATH_STAT_COLLISIONS = 1, /* tracked skbs evicted from the tracked table by another one */
	PKTPATH_STAT_SAMPLED = 2,    /* packets the filter took but not followed: the ring was filling and their flow is heavy */
	PKTPATH_STAT_MAX = 3,
};

/* pktpath_event.flags */
#define PKTPATH_REC_NEW_SKB 1 /* a new packet at this address: whatever journey the address had is over */

/* pktpath_pkt.frag bits */
#define PKTPATH_FRAG_IS 1   /* the header is an IP fragment (offset or more-fragments set, or an IPv6 fragment header) */
#define PKTPATH_FRAG_MORE 2 /* more fragments follow */

/* One IP header and the start of what it carries, as a hook saw it. */
struct pktpath_pkt {
	__u8 family;       /* 4, 6, or 0 when no IP header was read */
	__u8 l4proto;      /* IPPROTO_*, after IPv6 extension headers */
	__u8 ttl;          /* TTL / hop limit */
	__u8 frag;         /* PKTPATH_FRAG_* */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 tcp_flags;    /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 */
	__u8 aux_kind;     /* aux only: enum pktpath_aux_kind */
	__u16 sport;       /* TCP/UDP ports; ICMP echo id and seq; host byte order */
	__u16 dport;
	__u16 frag_off;    /* fragment offset in bytes */
	__u16 dns_id;      /* UDP to or from port 53: the DNS transaction id */
	__u32 ip_id;       /* IPv4 id, or the id of an IPv6 fragment header */
	__u32 vni;         /* outer header of a tunnel: VXLAN/Geneve VNI or GRE key */
	__u8 saddr[PKTPATH_ADDR_LEN]; /* IPv4 in the first 4 bytes */
	__u8 daddr[PKTPATH_ADDR_LEN];
};

struct pktpath_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns() */
	__u64 skbaddr;
	__u64 location;    /* frees: the caller; rx handler: the handler; netfilter hook: its okfn */
	__u64 clone_of;    /* the tracked skb whose data this one shares, 0 if none */
	__u32 netns_ino;   /* dev->nd_net.net->ns.inum (a netfilter hook: the hook's netns), 0 when unknown */
	__u32 ifindex;
	__u32 len;         /* skb->len */
	__u32 drop_reason; /* enum skb_drop_reason value at kfree_skb */
	__u32 ifindex2;    /* ip_forward: the way out; rx handler: the device's master */
	__u32 nf_netns;    /* frees: the netns of the netfilter hook it last entered */
	__u8 kind;         /* enum pktpath_event_kind */
	__u8 nf_pf;        /* netfilter hooks, and frees after one: NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10) */
	__u8 nf_hook;      /* NF_INET_PRE_ROUTING (0) .. NF_INET_POST_ROUTING (4) */
	__u8 nf_index;     /* 0 on entering the hook, k after the k-th chain boundary observer */
	__u8 flags;        /* PKTPATH_REC_* */
	__u8 pad[3];
	struct pktpath_pkt pkt;   /* the header (the inner one of a tunnel) */
	struct pktpath_pkt aux;   /* see aux.aux_kind */
	char ifname[PKTPATH_IFNAMSIZ];
	char ifname2[PKTPATH_IFNAMSIZ];
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

/* pktpath_filter.flags */
#define PKTPATH_FILTER_F_LEN 1 /* some instruction tests the packet's length */

struct pktpath_filter {
	__u32 len;         /* instructions in use, at most PKTPATH_FILTER_MAX */
	__u32 flags;       /* PKTPATH_FILTER_F_* */
	struct pktpath_filter_insn insn[PKTPATH_FILTER_MAX];
};

#endif
