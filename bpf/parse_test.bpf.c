// SPDX-License-Identifier: GPL-2.0
/* The header parser and the filter of pktpath.bpf.c (parse.h, filter.h), run by BPF_PROG_TEST_RUN on
 * packets a test crafts: tunnels this kernel has no driver for (Geneve, GRE, IPIP, SIT), IPv6
 * extension headers, ICMP errors, the filter's instructions. Built beside pktpath.bpf.o, never loaded
 * by pktpath itself. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "pktpath.h"

char LICENSE[] SEC("license") = "GPL";

#define PKT_SRC struct __sk_buff *
#define PKT_READ(copy, src, off, type) (bpf_skb_load_bytes((src), (off), (copy), sizeof(copy)) ? (const __u8 *)0 : (const __u8 *)(copy))

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pktpath_filter);
} filter SEC(".maps");

static __always_inline const struct pktpath_filter *test_filter(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&filter, &key);
}
#define FILTER_PROGRAM() test_filter()
#include "filter.h"

/* What one run found: the parsed headers, and whether the filter took the packet. */
struct parse_result {
	struct pktpath_pkt pkt;
	struct pktpath_pkt aux;
	__u32 parsed;
	__u32 accepted;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct parse_result);
} result SEC(".maps");

/* The packet is an Ethernet frame: IPv4 or IPv6 after it, as the ethertype says. */
SEC("tc")
int parse_test(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct parse_result *r = bpf_map_lookup_elem(&result, &key);
	__u8 eth[14];
	__u16 type;

	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	if (bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)))
		return 0;
	type = ((__u16)eth[12] << 8) | eth[13];
	r->parsed = parse_packet(&r->pkt, &r->aux, skb, ETH_HLEN, type == ETH_P_IP ? 4 : type == ETH_P_IPV6 ? 6 : 0);
	r->accepted = filter_accepts(&r->pkt, &r->aux, skb->len);
	return 0;
}
