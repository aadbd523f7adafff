/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors of translated flows. An error quotes the packet it answers
 * (parse_icmp_err4); when that packet was translated on its way out, the
 * quote must be translated back, or the sender's stack cannot match the
 * error to its socket and path-MTU discovery (frag-needed) fails silently.
 */
#ifndef DP_ICMP_H
#define DP_ICMP_H

#include "common.h"
#include "parse.h"

#define ICMP_CSUM_OFF		2
#define IPV4_CHECK_OFF		__builtin_offsetof(struct ipv4hdr, check)

/*
 * Rewrite the quoted packet's source (dst == false) or destination address
 * and port. The quote's IPv4 checksum and the ICMP checksum, which covers
 * the whole quote, are updated incrementally. The quoted L4 checksum is
 * left alone: the quote is cut after 8 bytes, so no receiver can check it.
 */
static __always_inline int icmp_err_rewrite4(struct __sk_buff *ctx, struct pkt4 *p,
					     bool dst, __be32 addr, __be16 port)
{
	__be32 old_addr = dst ? p->inner_daddr : p->inner_saddr;
	__be16 old_port = dst ? p->inner_dport : p->inner_sport;
	__u8 port_off = dst ? p->inner_dport_off : p->inner_sport_off;
	__u32 addr_off = p->inner_off + (dst ? __builtin_offsetof(struct ipv4hdr, daddr) :
					      __builtin_offsetof(struct ipv4hdr, saddr));
	__u32 csum_off = p->l4_off + ICMP_CSUM_OFF;
	__sum16 old_check, new_check;

	if (old_addr != addr) {
		if (bpf_skb_load_bytes(ctx, p->inner_off + IPV4_CHECK_OFF, &old_check,
				       sizeof(old_check)) < 0 ||
		    bpf_l3_csum_replace(ctx, p->inner_off + IPV4_CHECK_OFF, old_addr, addr,
					sizeof(addr)) < 0 ||
		    bpf_skb_load_bytes(ctx, p->inner_off + IPV4_CHECK_OFF, &new_check,
				       sizeof(new_check)) < 0 ||
		    bpf_skb_store_bytes(ctx, addr_off, &addr, sizeof(addr), 0) < 0 ||
		    bpf_l4_csum_replace(ctx, csum_off, old_addr, addr, sizeof(addr)) < 0 ||
		    bpf_l4_csum_replace(ctx, csum_off, old_check, new_check,
					sizeof(new_check)) < 0)
			return DROP(DROP_WRITE_ERROR);
		if (dst)
			p->inner_daddr = addr;
		else
			p->inner_saddr = addr;
	}
	if (port_off != PORT_NONE && old_port != port) {
		if (bpf_skb_store_bytes(ctx, p->inner_l4_off + port_off, &port,
					sizeof(port), 0) < 0 ||
		    bpf_l4_csum_replace(ctx, csum_off, old_port, port, sizeof(port)) < 0)
			return DROP(DROP_WRITE_ERROR);
		if (dst)
			p->inner_dport = port;
		else
			p->inner_sport = port;
	}
	return 0;
}

#endif /* DP_ICMP_H */
