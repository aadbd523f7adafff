/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv4 parsing.
 *
 * Headers are copied to the stack (struct pkt4): the copies stay valid
 * across the helpers that rewrite the packet, which invalidate packet
 * pointers, and the rewrite functions keep them in sync. pkt_load copies
 * straight from the skb's linear area when it holds the bytes (direct
 * packet access, a few instructions) and falls back to bpf_skb_load_bytes,
 * which copes with non-linear skbs, when it does not.
 */
#ifndef DP_PARSE_H
#define DP_PARSE_H

#include "common.h"
#include "maps.h"

#define PORT_NONE	0xff	/* sport_off/dport_off: the L4 header has no such port */

#define L4_F_PORTS	0x01	/* TCP, UDP or ICMP echo: a tuple can be built */
#define L4_F_PSEUDO	0x02	/* checksum covers the pseudo header (TCP, UDP) */
#define L4_F_UDP	0x04	/* checksum 0 means "none" (BPF_F_MARK_MANGLED_0) */
#define L4_F_FRAG	0x08	/* non-first fragment: ports from its first, no L4 header */

struct pkt4 {
	struct ipv4hdr	ip;		/* copy of the base header, kept in sync */
	__u32		l4_off;		/* from the start of the frame */
	__be16		sport;		/* 0 when absent */
	__be16		dport;
	__u8		sport_off;	/* offsets inside the L4 header, PORT_NONE if absent */
	__u8		dport_off;
	__u8		csum_off;
	__u8		l4_flags;	/* L4_F_* */
	__u8		tcp_flags;
	__u8		has_dsr;	/* the first IPv4 option is a valid DSR option */
	__be16		dsr_port;
	__be32		dsr_addr;
	/*
	 * ICMP errors (destination unreachable, time exceeded, parameter
	 * problem) quoting a TCP, UDP or ICMP echo packet: the quoted packet's
	 * tuple, as it was sent (see parse_icmp_err4).
	 */
	__u8		inner_proto;
	__u8		inner_sport_off; /* inside the inner L4 header, PORT_NONE if absent */
	__u8		inner_dport_off;
	__u32		inner_off;	/* inner IPv4 header, from the start of the frame */
	__u32		inner_l4_off;
	__be32		inner_saddr;
	__be32		inner_daddr;
	__be16		inner_sport;
	__be16		inner_dport;
	/*
	 * Set (1) for such an error. A full, aligned word: the verifier then
	 * knows it on every path and skips the ICMP-error code on the others.
	 */
	__u64		icmp_err;
	/*
	 * bpf_ktime_get_ns() read once by parse_ipv4: every conntrack lookup
	 * and refresh of the packet uses it instead of reading the clock again.
	 */
	__u64		now;
};

static __always_inline __u32 ipv4_hlen(const struct pkt4 *p)
{
	return (p->ip.ver_ihl & 0x0f) * 4;
}

/* TCP or UDP with ports known, from the header or (fragments) its first fragment. */
static __always_inline bool l4_tcp_udp(const struct pkt4 *p)
{
	return (p->l4_flags & L4_F_PORTS) &&
	       (p->ip.protocol == IPPROTO_TCP || p->ip.protocol == IPPROTO_UDP);
}

static __always_inline bool tcp_is_syn(const struct pkt4 *p)
{
	return p->ip.protocol == IPPROTO_TCP &&
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

#define ICMP_DEST_UNREACH	3
#define ICMP_TIME_EXCEEDED	11
#define ICMP_PARAMETERPROB	12

/*
 * An ICMP error quotes the IPv4 header and the first 8 L4 bytes of the
 * packet it answers. Record that packet's tuple when it has one (TCP, UDP,
 * ICMP echo); otherwise the error stays a plain ICMP packet. Conntrack
 * relates the error to the quoted flow and NAT translates the quote.
 */
static __always_inline void parse_icmp_err4(struct __sk_buff *ctx, struct pkt4 *p,
					    __u32 l4_end)
{
	struct ipv4hdr in;
	__u32 off = p->l4_off + 8, hlen;
	__u8 l4[8];

	if (off + sizeof(in) > l4_end || bpf_skb_load_bytes(ctx, off, &in, sizeof(in)) < 0)
		return;
	hlen = (in.ver_ihl & 0x0f) * 4;
	if ((in.ver_ihl >> 4) != 4 || hlen < sizeof(in) ||
	    (in.frag_off & bpf_htons(IP_OFFSET)) ||
	    off + hlen + 8 > l4_end || bpf_skb_load_bytes(ctx, off + hlen, l4, 8) < 0)
		return;
	p->inner_sport_off = PORT_NONE;
	p->inner_dport_off = PORT_NONE;
	switch (in.protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		p->inner_sport_off = 0;
		p->inner_dport_off = 2;
		__builtin_memcpy(&p->inner_sport, &l4[0], 2);
		__builtin_memcpy(&p->inner_dport, &l4[2], 2);
		break;
	case IPPROTO_ICMP:
		if (l4[0] == 8 /* echo request */) {
			p->inner_sport_off = 4;
			__builtin_memcpy(&p->inner_sport, &l4[4], 2);
		} else if (l4[0] == 0 /* echo reply */) {
			p->inner_dport_off = 4;
			__builtin_memcpy(&p->inner_dport, &l4[4], 2);
		} else {
			return;
		}
		break;
	default:
		return;
	}
	p->icmp_err = 1;
	p->inner_proto = in.protocol;
	p->inner_off = off;
	p->inner_l4_off = off + hlen;
	p->inner_saddr = in.saddr;
	p->inner_daddr = in.daddr;
}

/* Largest offset pkt_load reads directly: Ethernet, 60 bytes of IPv4, spare. */
#define PKT_DIRECT_MAX_OFF	128

/* Copy len (a constant) bytes at offset off of the frame into to. */
static __always_inline int pkt_load(struct __sk_buff *ctx, __u32 off, void *to, const __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (off <= PKT_DIRECT_MAX_OFF && data + off + len <= data_end) {
		__builtin_memcpy(to, data + off, len);
		return 0;
	}
	return bpf_skb_load_bytes(ctx, off, to, len) < 0 ? -1 : 0;
}

/* The datagram a fragment belongs to. */
static __always_inline struct frag_key frag_key4(const struct pkt4 *p)
{
	struct frag_key fk = {
		.saddr	= p->ip.saddr,
		.daddr	= p->ip.daddr,
		.id	= p->ip.id,
		.proto	= p->ip.protocol,
	};

	return fk;
}

/*
 * Validate the IPv4 header and extract what the datapath needs. Rules:
 * - version other than 4 behind an IPv4 EtherType: DROP_INVALID_VERSION;
 * - truncated headers, tot_len beyond the frame or below IHL: DROP_INVALID
 *   (tot_len 0 on a TCP packet beyond 64 KiB is IPv4 BIG TCP, not short);
 * - IHL < 5: DROP_INVALID_IHL; options are skipped by IHL, except that with
 *   ENABLE_DSR a DSR option in first position is recorded;
 * - fragments: the first (MF, offset 0) parses as usual and records its
 *   ports in dp_frags; a later one takes its first's ports (L4_F_FRAG, no
 *   L4 header to read or rewrite), so it gets the same policy, conntrack
 *   and translation decisions; one whose first was not seen is
 *   DROP_FRAG_NOT_FOUND (callers on the netdev/overlay side may pass it to
 *   the stack, which reassembles);
 * - a TCP/UDP/ICMP header cut short by tot_len or the frame: DROP_INVALID;
 * - other L4 protocols parse without ports (no L4_F_PORTS).
 */
static __always_inline int parse_ipv4(struct __sk_buff *ctx, struct pkt4 *p)
{
	__u32 hlen, tot_len, l4_end;
	__u8 l4[20];

	p->now = bpf_ktime_get_ns();
	if (pkt_load(ctx, ETH_HLEN, &p->ip, sizeof(p->ip)) < 0)
		return DROP(DROP_INVALID);
	if ((p->ip.ver_ihl >> 4) != 4)
		return DROP(DROP_INVALID_VERSION);
	hlen = ipv4_hlen(p);
	if (hlen < sizeof(struct ipv4hdr))
		return DROP(DROP_INVALID_IHL);
	tot_len = bpf_ntohs(p->ip.tot_len);
	/*
	 * IPv4 BIG TCP (Linux 6.3): a GSO packet beyond 64 KiB has tot_len 0
	 * and the skb's length is the packet's (the kernel's iph_totlen).
	 */
	if (!tot_len && ctx->len > ETH_HLEN + 0xffff && p->ip.protocol == IPPROTO_TCP)
		tot_len = ctx->len - ETH_HLEN;
	if (tot_len < hlen || ETH_HLEN + tot_len > ctx->len)
		return DROP(DROP_INVALID);
	if (p->ip.frag_off & bpf_htons(IP_OFFSET)) {
		struct frag_key fk = frag_key4(p);
		const struct frag_ports *fp = bpf_map_lookup_elem(&dp_frags, &fk);

		if (!fp)
			return DROP(DROP_FRAG_NOT_FOUND);
		p->l4_off = ETH_HLEN + hlen;
		p->sport = fp->sport;
		p->dport = fp->dport;
		p->sport_off = PORT_NONE;
		p->dport_off = PORT_NONE;
		p->l4_flags = L4_F_PORTS | L4_F_FRAG;
		return 0;
	}

	p->l4_off = ETH_HLEN + hlen;
	p->sport_off = PORT_NONE;
	p->dport_off = PORT_NONE;
	l4_end = ETH_HLEN + tot_len;

#ifdef ENABLE_DSR
	/* DSR option: only looked for as the first option, where we insert it. */
	if (hlen >= sizeof(struct ipv4hdr) + IPV4_DSR_OPT_LEN) {
		__u8 opt[IPV4_DSR_OPT_LEN];

		if (pkt_load(ctx, ETH_HLEN + sizeof(struct ipv4hdr), opt, sizeof(opt)) < 0)
			return DROP(DROP_INVALID);
		if (opt[0] == IPV4_DSR_OPT_TYPE && opt[1] == IPV4_DSR_OPT_LEN) {
			p->has_dsr = 1;
			__builtin_memcpy(&p->dsr_port, &opt[2], sizeof(p->dsr_port));
			__builtin_memcpy(&p->dsr_addr, &opt[4], sizeof(p->dsr_addr));
		}
	}
#endif

	switch (p->ip.protocol) {
	case IPPROTO_TCP:
		if (p->l4_off + 20 > l4_end ||
		    pkt_load(ctx, p->l4_off, l4, 20) < 0)
			return DROP(DROP_INVALID);
		p->sport_off = 0;
		p->dport_off = 2;
		__builtin_memcpy(&p->sport, &l4[0], 2);
		__builtin_memcpy(&p->dport, &l4[2], 2);
		p->csum_off = 16;
		p->tcp_flags = l4[13];
		p->l4_flags = L4_F_PORTS | L4_F_PSEUDO;
		break;
	case IPPROTO_UDP:
		if (p->l4_off + 8 > l4_end ||
		    pkt_load(ctx, p->l4_off, l4, 8) < 0)
			return DROP(DROP_INVALID);
		p->sport_off = 0;
		p->dport_off = 2;
		__builtin_memcpy(&p->sport, &l4[0], 2);
		__builtin_memcpy(&p->dport, &l4[2], 2);
		p->csum_off = 6;
		p->l4_flags = L4_F_PORTS | L4_F_PSEUDO | L4_F_UDP;
		break;
	case IPPROTO_ICMP:
		if (p->l4_off + 8 > l4_end ||
		    pkt_load(ctx, p->l4_off, l4, 8) < 0)
			return DROP(DROP_INVALID);
		p->csum_off = 2;
		/* Echo identifier plays the port (see struct tuple4). */
		if (l4[0] == 8 /* echo request */) {
			p->sport_off = 4;
			__builtin_memcpy(&p->sport, &l4[4], 2);
			p->l4_flags = L4_F_PORTS;
		} else if (l4[0] == 0 /* echo reply */) {
			p->dport_off = 4;
			__builtin_memcpy(&p->dport, &l4[4], 2);
			p->l4_flags = L4_F_PORTS;
		} else if (l4[0] == ICMP_DEST_UNREACH || l4[0] == ICMP_TIME_EXCEEDED ||
			   l4[0] == ICMP_PARAMETERPROB) {
			parse_icmp_err4(ctx, p, l4_end);
		}
		break;
	}
	if (p->ip.frag_off & bpf_htons(IP_MF)) {
		struct frag_key fk = frag_key4(p);
		struct frag_ports fp = {
			.sport	= p->sport,
			.dport	= p->dport,
		};

		if (bpf_map_update_elem(&dp_frags, &fk, &fp, BPF_ANY) < 0)
			return DROP(DROP_CT_CREATE_FAILED);
	}
	return 0;
}

#endif /* DP_PARSE_H */
