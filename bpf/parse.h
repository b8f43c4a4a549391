/* Packet header parsing, shared by pktpath.bpf.c (kernel memory at skb->head) and parse_test.bpf.c
 * (crafted packets run through BPF_PROG_TEST_RUN). The includer defines
 *   PKT_SRC                         what the bytes are read from
 *   PKT_READ(copy, src, off, type)  a const __u8 pointer to sizeof(copy) bytes at off, or 0; type
 *                                   names a kernel struct at least that large (bpf_rdonly_cast
 *                                   checks each read against the struct it was cast to)
 * Every offset and length comes from the headers themselves; what a header promises is read only
 * when the IP total length says the bytes are there. The entry points are global functions, which
 * the verifier checks once each instead of at every call site (inlined, the extension-header loop
 * alone took it past its million-instruction budget). */
#ifndef PKTPATH_PARSE_H
#define PKTPATH_PARSE_H

#include "pktpath.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_TEB 0x6558 /* Ethernet in a tunnel (GRE, Geneve) */
#define ETH_HLEN 14
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_IPIP 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_GRE 47
#define IPPROTO_AH 51
#define IPPROTO_ICMPV6 58
#define IPPROTO_DSTOPTS 60
#define PORT_VXLAN 4789
#define PORT_VXLAN_LINUX 8472 /* the kernel's default before IANA assigned 4789 */
#define PORT_GENEVE 6081
#define PORT_DNS 53
#define IPV6_EXT_MAX 6

struct iphdr { __u8 ihl; } __attribute__((preserve_access_index));
struct ipv6hdr { __u8 nexthdr; } __attribute__((preserve_access_index));
struct udphdr { __u16 source; } __attribute__((preserve_access_index));
struct tcphdr { __u16 source; } __attribute__((preserve_access_index));
struct frag_hdr { __u8 nexthdr; } __attribute__((preserve_access_index));
struct vlan_ethhdr { __u8 h_dest[6]; } __attribute__((preserve_access_index));

static __always_inline __u16 be16(const __u8 *b)
{
	return ((__u16)b[0] << 8) | b[1];
}

static __always_inline __u32 be32(const __u8 *b)
{
	return ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | b[3];
}

/* The IPv6 extension headers a packet may carry before its transport header (bounded). */
static __always_inline __u32 skip_ipv6_ext(struct pktpath_pkt *p, PKT_SRC src, __u32 at, __u32 end)
{
	__u8 nh = p->l4proto;

	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 copy[8];
		const __u8 *h;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_FRAGMENT && nh != IPPROTO_AH)
			break;
		if (at + 8 > end)
			return 0;
		h = PKT_READ(copy, src, at, struct frag_hdr);
		if (!h)
			return 0;
		if (nh == IPPROTO_FRAGMENT) {
			__u16 fo = be16(h + 2);

			p->frag_off = fo & 0xfff8;
			p->frag |= PKTPATH_FRAG_IS | ((fo & 1) ? PKTPATH_FRAG_MORE : 0);
			p->ip_id = be32(h + 4);
			at += 8;
		} else if (nh == IPPROTO_AH) {
			at += ((__u32)h[1] + 2) * 4;
		} else {
			at += ((__u32)h[1] + 1) * 8;
		}
		nh = h[0];
	}
	p->l4proto = nh;
	return at;
}

/* Fills p from the IP header at off when its version is want (4, 6; 0: either). Returns the offset
 * of the transport header, 0 when there is no such IP header; *end becomes the end of the packet. */
__noinline __u32 read_ip(struct pktpath_pkt *p, PKT_SRC src, __u32 off, __u8 want, __u32 *end)
{
	__u8 copy4[20];
	const __u8 *b;
	__u8 version;

	if (!p || !end)
		return 0;
	b = PKT_READ(copy4, src, off, struct iphdr);
	if (!b)
		return 0;
	version = b[0] >> 4;
	if (want && version != want)
		return 0;
	if (version == 4) {
		__u32 ihl = (b[0] & 0xf) * 4;
		__u16 fo = be16(b + 6);

		if (ihl < 20)
			return 0;
		p->family = 4;
		p->ttl = b[8];
		p->l4proto = b[9];
		p->ip_id = be16(b + 4);
		p->frag_off = (fo & 0x1fff) * 8;
		if (fo & 0x3fff)
			p->frag |= PKTPATH_FRAG_IS;
		if (fo & 0x2000)
			p->frag |= PKTPATH_FRAG_MORE;
		__builtin_memcpy(p->saddr, b + 12, 4);
		__builtin_memcpy(p->daddr, b + 16, 4);
		*end = off + be16(b + 2);
		return off + ihl;
	}
	if (version != 6)
		return 0;
	__u8 copy6[40];
	b = PKT_READ(copy6, src, off, struct ipv6hdr);
	if (!b)
		return 0;
	p->family = 6;
	p->l4proto = b[6];
	p->ttl = b[7];
	__builtin_memcpy(p->saddr, b + 8, 16);
	__builtin_memcpy(p->daddr, b + 24, 16);
	*end = off + 40 + be16(b + 4);
	return skip_ipv6_ext(p, src, off + 40, *end);
}

static __always_inline int is_icmp(const struct pktpath_pkt *p)
{
	return (p->family == 4 && p->l4proto == IPPROTO_ICMP) || (p->family == 6 && p->l4proto == IPPROTO_ICMPV6);
}

static __always_inline int is_echo_type(__u8 family, __u8 type)
{
	return family == 4 ? (type == 0 || type == 8) : (type == 128 || type == 129);
}

/* Destination unreachable, time exceeded, parameter problem (and IPv4's source quench and
 * redirect; IPv6's packet too big): the ICMP messages that quote the packet they are about. */
static __always_inline int is_icmp_error(const struct pktpath_pkt *p)
{
	if (!is_icmp(p) || (p->frag & PKTPATH_FRAG_IS && p->frag_off))
		return 0;
	if (p->family == 4)
		return p->icmp_type == 3 || p->icmp_type == 4 || p->icmp_type == 5 || p->icmp_type == 11 || p->icmp_type == 12;
	return p->icmp_type >= 1 && p->icmp_type <= 4;
}

/* The first bytes of the transport header: ports, flags and DNS id, ICMP type, code, id and seq. */
__noinline int read_l4(struct pktpath_pkt *p, PKT_SRC src, __u32 at, __u32 end)
{
	__u8 copy[8];
	const __u8 *b;

	if (!p || p->frag_off || at + 8 > end)
		return 0; /* a later fragment carries no transport header */
	b = PKT_READ(copy, src, at, struct udphdr);
	if (!b)
		return 0;
	if (is_icmp(p)) {
		p->icmp_type = b[0];
		p->icmp_code = b[1];
		if (is_echo_type(p->family, b[0])) {
			p->sport = be16(b + 4);
			p->dport = be16(b + 6);
		}
		return 1;
	}
	if (p->l4proto != IPPROTO_TCP && p->l4proto != IPPROTO_UDP)
		return 1;
	p->sport = be16(b);
	p->dport = be16(b + 2);
	if (p->l4proto == IPPROTO_TCP && at + 14 <= end) {
		__u8 more[8];
		const __u8 *t = PKT_READ(more, src, at + 8, struct udphdr);

		if (t)
			p->tcp_flags = t[5];
	} else if (p->l4proto == IPPROTO_UDP && (p->sport == PORT_DNS || p->dport == PORT_DNS) && at + 10 <= end) {
		__u8 more[8];
		const __u8 *d = at + 16 <= end ? PKT_READ(more, src, at + 8, struct udphdr) : 0;

		if (d)
			p->dns_id = be16(d);
	}
	return 1;
}

/* An Ethernet header inside a tunnel: the offset of the IP header it carries and its version. */
static __always_inline __u32 inner_ethernet(PKT_SRC src, __u32 at, __u32 end, __u8 *want)
{
	__u8 copy[18];
	const __u8 *e;
	__u16 type;

	if (at + 18 > end)
		return 0;
	e = PKT_READ(copy, src, at, struct vlan_ethhdr);
	if (!e)
		return 0;
	type = be16(e + 12);
	at += ETH_HLEN;
	if (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		type = be16(e + 16);
		at += 4;
	}
	*want = type == ETH_P_IP ? 4 : type == ETH_P_IPV6 ? 6 : 0;
	return *want ? at : 0;
}

/* GRE (RFC 2784/2890): flags, protocol, then checksum, key and sequence number when flagged. */
static __always_inline __u32 inner_gre(struct pktpath_pkt *outer, PKT_SRC src, __u32 at, __u32 end, __u8 *want)
{
	__u8 copy[16];
	const __u8 *g;
	__u16 flags, proto;
	__u32 off = 4;

	if (at + 16 > end)
		return 0;
	g = PKT_READ(copy, src, at, struct tcphdr);
	if (!g)
		return 0;
	flags = be16(g);
	proto = be16(g + 2);
	if (flags & 0x0007)
		return 0; /* version 1 is PPTP's enhanced GRE */
	if (flags & 0x8000)
		off += 4;
	if (flags & 0x2000) {
		outer->vni = be32(g + (off & 0xc));
		off += 4;
	}
	if (flags & 0x1000)
		off += 4;
	if (proto == ETH_P_TEB)
		return inner_ethernet(src, at + off, end, want);
	*want = proto == ETH_P_IP ? 4 : proto == ETH_P_IPV6 ? 6 : 0;
	return *want ? at + off : 0;
}

/* Where the inner IP header of a tunnel starts, if this outer header is one the kernel terminates:
 * VXLAN and Geneve over UDP, GRE, IPIP, SIT and ip6tnl. Sets the tunnel kind and VNI/key in outer. */
static __always_inline __u32 tunnel_inner(struct pktpath_pkt *outer, PKT_SRC src, __u32 l4, __u32 end, __u8 *want)
{
	if (outer->frag_off)
		return 0;
	if (outer->l4proto == IPPROTO_UDP && (outer->dport == PORT_VXLAN || outer->dport == PORT_VXLAN_LINUX ||
					      outer->dport == PORT_GENEVE)) {
		__u8 copy[8];
		const __u8 *h;

		if (l4 + 16 > end)
			return 0;
		h = PKT_READ(copy, src, l4 + 8, struct udphdr);
		if (!h)
			return 0;
		outer->vni = ((__u32)h[4] << 16) | ((__u32)h[5] << 8) | h[6];
		if (outer->dport != PORT_GENEVE) {
			outer->aux_kind = PKTPATH_AUX_VXLAN;
			return inner_ethernet(src, l4 + 16, end, want);
		}
		outer->aux_kind = PKTPATH_AUX_GENEVE;
		__u32 inner = l4 + 16 + (h[0] & 0x3f) * 4;
		__u16 proto = be16(h + 2);
		if (proto == ETH_P_TEB)
			return inner_ethernet(src, inner, end, want);
		*want = proto == ETH_P_IP ? 4 : proto == ETH_P_IPV6 ? 6 : 0;
		return *want ? inner : 0;
	}
	if (outer->l4proto == IPPROTO_IPIP || outer->l4proto == IPPROTO_IPV6) {
		*want = outer->l4proto == IPPROTO_IPIP ? 4 : 6;
		outer->aux_kind = outer->family == 6 ? PKTPATH_AUX_IP6TNL : *want == 4 ? PKTPATH_AUX_IPIP : PKTPATH_AUX_SIT;
		return l4;
	}
	if (outer->l4proto == IPPROTO_GRE) {
		outer->aux_kind = PKTPATH_AUX_GRE;
		return inner_gre(outer, src, l4, end, want);
	}
	return 0;
}

/* The packet at off: p gets the header (for a tunnel, the inner one, with the outer one in aux);
 * an ICMP error gets the header it quotes in aux. Returns 1 when an IP header was read. */
__noinline int parse_packet(struct pktpath_pkt *p, struct pktpath_pkt *aux, PKT_SRC src, __u32 off, __u8 want)
{
	__u32 end = 0, inner_end = 0;
	__u8 inner_want = 0;
	__u32 inner, l4;

	if (!p || !aux)
		return 0;
	l4 = read_ip(p, src, off, want, &end);
	if (!l4)
		return 0;
	read_l4(p, src, l4, end);
	if (is_icmp_error(p)) {
		__u32 ql4 = read_ip(aux, src, l4 + 8, 0, &inner_end);

		if (!ql4) {
			__builtin_memset(aux, 0, sizeof(*aux));
			return 1;
		}
		aux->aux_kind = PKTPATH_AUX_QUOTED;
		read_l4(aux, src, ql4, end); /* the quote ends where the error does */
		return 1;
	}
	inner = tunnel_inner(p, src, l4, end, &inner_want);
	if (!inner)
		return 1;
	__builtin_memcpy(aux, p, sizeof(*aux));
	__builtin_memset(p, 0, sizeof(*p));
	l4 = read_ip(p, src, inner, inner_want, &inner_end);
	if (!l4) {
		/* not a tunnel after all: the outer header is the packet */
		__builtin_memcpy(p, aux, sizeof(*p));
		p->aux_kind = 0;
		p->vni = 0;
		__builtin_memset(aux, 0, sizeof(*aux));
		return 1;
	}
	read_l4(p, src, l4, inner_end < end ? inner_end : end);
	return 1;
}

#endif
