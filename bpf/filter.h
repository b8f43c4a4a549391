/* Runs the capture filter (struct pktpath_filter, compiled by shared/filter) on a parsed header.
 * The includer provides the filter program: FILTER_PROGRAM() yields a const struct pktpath_filter *
 * or 0. Shared by pktpath.bpf.c and parse_test.bpf.c, so the tests run the kernel's own evaluator. */
#ifndef PKTPATH_FILTER_H
#define PKTPATH_FILTER_H

#include "parse.h"

/* A word at a time: the addresses sit 4-byte aligned in struct pktpath_pkt and in the instruction;
 * an IPv4 address is the first word (the others are zero in packet, mask and address alike). */
static __always_inline int net_matches(const __u8 *addr, const struct pktpath_filter_insn *in)
{
	const __u32 *a = (const __u32 *)addr, *m = (const __u32 *)in->mask, *w = (const __u32 *)in->addr;

	return (a[0] & m[0]) == w[0] && (a[1] & m[1]) == w[1] && (a[2] & m[2]) == w[2] && (a[3] & m[3]) == w[3];
}

static __always_inline int port_in(__u16 port, __u32 arg)
{
	return port >= (arg & 0xffff) && port <= (arg >> 16);
}

static __always_inline int has_ports(const struct pktpath_pkt *p)
{
	return (p->l4proto == IPPROTO_TCP || p->l4proto == IPPROTO_UDP) && !p->frag_off;
}

/* An echo request or reply, a later fragment of an ICMP message (which may be an echo's), or an
 * ICMP error quoting an echo request: the default filter. */
static __always_inline int is_echo_related(const struct pktpath_pkt *p, const struct pktpath_pkt *aux)
{
	if (!is_icmp(p))
		return 0;
	if (p->frag_off)
		return 1;
	if (is_echo_type(p->family, p->icmp_type))
		return 1;
	return aux->aux_kind == PKTPATH_AUX_QUOTED && is_icmp(aux) &&
	       aux->icmp_type == (aux->family == 4 ? 8 : 128);
}

/* One instruction's test, inlined into the loop of filter_run: a function call per instruction cost
 * more than most tests (bench/filter.ts). */
static __always_inline int filter_test(const struct pktpath_filter_insn *in, const struct pktpath_pkt *p,
			   const struct pktpath_pkt *aux, __u32 len)
{
	if (!in || !p || !aux)
		return 0;
	switch (in->op) {
	case PKTPATH_FOP_TRUE:
		return 1;
	case PKTPATH_FOP_FAMILY:
		return p->family == in->arg;
	case PKTPATH_FOP_PROTO:
		return p->l4proto == in->arg;
	case PKTPATH_FOP_SRC_NET:
		return p->family == in->arg && net_matches(p->saddr, in);
	case PKTPATH_FOP_DST_NET:
		return p->family == in->arg && net_matches(p->daddr, in);
	case PKTPATH_FOP_SPORT:
		return has_ports(p) && port_in(p->sport, in->arg);
	case PKTPATH_FOP_DPORT:
		return has_ports(p) && port_in(p->dport, in->arg);
	case PKTPATH_FOP_ECHO:
		return is_echo_related(p, aux);
	case PKTPATH_FOP_LEN_LE:
		return len <= in->arg;
	case PKTPATH_FOP_LEN_GE:
		return len >= in->arg;
	}
	return 0;
}

/* Whether the program accepts this header: forward jumps only, so it ends within its length. Global
 * (not static), so the verifier walks its loop once, on its own, not at every call site. */
__noinline int filter_run(const struct pktpath_filter *f, const struct pktpath_pkt *p,
			  const struct pktpath_pkt *aux, __u32 len)
{
	__u32 pc = 0;

	if (!f || !p || !aux)
		return 0;
	for (int i = 0; i < PKTPATH_FILTER_MAX; i++) {
		const struct pktpath_filter_insn *in;

		if (pc >= f->len || pc >= PKTPATH_FILTER_MAX)
			return 0;
		in = &f->insn[pc];
		pc = filter_test(in, p, aux, len) ? in->jt : in->jf;
		if (pc == PKTPATH_FILTER_ACCEPT)
			return 1;
		if (pc == PKTPATH_FILTER_REJECT)
			return 0;
	}
	return 0;
}

/* A packet not yet tracked is captured when the filter accepts its header, or, for a tunnel's
 * packet, the outer header (the inner one is tried first), or, for an ICMP error, the header it
 * quotes: an error goes with the packet it is about (a UDP datagram's port unreachable). */
static __always_inline int filter_accepts(const struct pktpath_pkt *p, const struct pktpath_pkt *aux, __u32 len)
{
	const struct pktpath_filter *f = FILTER_PROGRAM();

	if (!f || !p->family)
		return 0;
	if (filter_run(f, p, aux, len))
		return 1;
	return aux->aux_kind && aux->aux_kind <= PKTPATH_AUX_QUOTED && filter_run(f, aux, aux, len);
}

#endif
