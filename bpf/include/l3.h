/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header rewrites with incremental checksum updates. */
#ifndef DP_L3_H
#define DP_L3_H

#include "common.h"
#include "parse.h"

#define IPV4_CSUM_OFF	IPV4_HDR_OFF(check)

static __always_inline __u64 l4_csum_flags(const struct pkt4 *p, __u64 size)
{
	/* UDP checksum 0 means "not computed": keep it 0, and never produce 0. */
	return size | ((p->l4_flags & L4_F_UDP) ? BPF_F_MARK_MANGLED_0 : 0);
}

/* Replace the source (dst == false) or destination address. */
static __always_inline int rewrite_addr4(struct __sk_buff *ctx, struct pkt4 *p,
					 bool dst, __be32 addr)
{
	__be32 old = dst ? p->ip.daddr : p->ip.saddr;
	__u32 off = dst ? IPV4_HDR_OFF(daddr) : IPV4_HDR_OFF(saddr);

	if (old == addr)
		return 0;
	/* TCP and UDP checksums cover the addresses through the pseudo header. */
	if ((p->l4_flags & L4_F_PSEUDO) &&
	    bpf_l4_csum_replace(ctx, p->l4_off + p->csum_off, old, addr,
				l4_csum_flags(p, BPF_F_PSEUDO_HDR | sizeof(addr))) < 0)
		return DROP(DROP_WRITE_ERROR);
	if (bpf_l3_csum_replace(ctx, IPV4_CSUM_OFF, old, addr, sizeof(addr)) < 0)
		return DROP(DROP_WRITE_ERROR);
	if (bpf_skb_store_bytes(ctx, off, &addr, sizeof(addr), 0) < 0)
		return DROP(DROP_WRITE_ERROR);
	if (dst)
		p->ip.daddr = addr;
	else
		p->ip.saddr = addr;
	return 0;
}

/* Replace the source or destination port (ICMP: the echo identifier). */
static __always_inline int rewrite_port4(struct __sk_buff *ctx, struct pkt4 *p,
					 bool dst, __be16 port)
{
	__be16 old = dst ? p->dport : p->sport;
	__u8 off = dst ? p->dport_off : p->sport_off;

	if (off == PORT_NONE || old == port)
		return 0;
	if (bpf_l4_csum_replace(ctx, p->l4_off + p->csum_off, old, port,
				l4_csum_flags(p, sizeof(port))) < 0)
		return DROP(DROP_WRITE_ERROR);
	if (bpf_skb_store_bytes(ctx, p->l4_off + off, &port, sizeof(port), 0) < 0)
		return DROP(DROP_WRITE_ERROR);
	if (dst)
		p->dport = port;
	else
		p->sport = port;
	return 0;
}

static __always_inline int rewrite_addr_port4(struct __sk_buff *ctx, struct pkt4 *p,
					      bool dst, __be32 addr, __be16 port)
{
	int ret = rewrite_addr4(ctx, p, dst, addr);

	if (IS_DROP(ret))
		return ret;
	return rewrite_port4(ctx, p, dst, port);
}

/* RFC 1624 incremental update of a 16-bit one's complement checksum. */
static __always_inline __sum16 csum16_replace(__sum16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

/*
 * Forwarding decrements the TTL; a packet that would reach 0 is dropped.
 * Written in place when the header is in the linear area (the IPv4
 * checksum is never offloaded, so updating it here is all there is to
 * do), through the helpers otherwise.
 */
static __always_inline int ipv4_dec_ttl(struct __sk_buff *ctx, struct pkt4 *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv4hdr *ip = data + ETH_HLEN;
	__u8 ttl = p->ip.ttl;
	/* l3_csum_replace works on 16-bit words: TTL shares one with protocol. */
	__be16 old = bpf_htons((__u16)((ttl << 8) | p->ip.protocol));
	__be16 new;

	if (ttl <= 1)
		return DROP(DROP_TTL_EXCEEDED);
	ttl--;
	new = bpf_htons((__u16)((ttl << 8) | p->ip.protocol));
	if ((void *)(ip + 1) <= data_end) {
		ip->ttl = ttl;
		ip->check = csum16_replace(ip->check, old, new);
	} else if (bpf_l3_csum_replace(ctx, IPV4_CSUM_OFF, old, new, sizeof(new)) < 0 ||
		   bpf_skb_store_bytes(ctx, IPV4_HDR_OFF(ttl), &ttl, sizeof(ttl), 0) < 0) {
		return DROP(DROP_WRITE_ERROR);
	}
	p->ip.ttl = ttl;
	return 0;
}

static __always_inline int eth_rewrite(struct __sk_buff *ctx, const __u8 *smac,
				       const __u8 *dmac)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 macs[2 * ETH_ALEN];

	if (data + 2 * ETH_ALEN <= data_end) {
		copy_mac(data, dmac);
		copy_mac(data + ETH_ALEN, smac);
		return 0;
	}
	copy_mac(&macs[0], dmac);
	copy_mac(&macs[ETH_ALEN], smac);
	if (bpf_skb_store_bytes(ctx, 0, macs, sizeof(macs), 0) < 0)
		return DROP(DROP_WRITE_ERROR);
	return 0;
}

/* Routing step of the legacy path: TTL and L2 header of the next hop. */
static __always_inline int ipv4_l3(struct __sk_buff *ctx, struct pkt4 *p,
				   const __u8 *smac, const __u8 *dmac)
{
	int ret = ipv4_dec_ttl(ctx, p);

	if (IS_DROP(ret))
		return ret;
	return eth_rewrite(ctx, smac, dmac);
}

/* Fold a 32-bit one's complement sum (bpf_csum_diff) into a checksum. */
static __always_inline __sum16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

/* ICMP "destination unreachable, fragmentation needed": IP + ICMP + quote. */
struct icmp4_frag_needed {
	struct ipv4hdr	ip;
	__u8		type;
	__u8		code;
	__sum16		csum;
	__be16		unused;
	__be16		mtu;		/* next-hop MTU (RFC 1191) */
	__u8		quote[sizeof(struct ipv4hdr) + 8];
};

/*
 * Turn the packet into an ICMP "fragmentation needed" from src back to its
 * sender, quoting its IPv4 header and first 8 bytes of payload (RFC 792),
 * with next-hop MTU mtu, for the caller to send back out. Packets with IP
 * options (whose quote would be longer) are left alone: DROP_FRAG_NEEDED.
 */
static __always_inline int icmp4_frag_needed_reply(struct __sk_buff *ctx, struct pkt4 *p,
						   __be32 src, __u16 mtu)
{
	struct icmp4_frag_needed r = {};
	__u8 macs[2 * ETH_ALEN];
	__s64 sum;

	if (ipv4_hlen(p) != sizeof(struct ipv4hdr))
		return DROP(DROP_FRAG_NEEDED);
	if (pkt_load(ctx, 0, macs, sizeof(macs)) < 0 ||
	    pkt_load(ctx, ETH_HLEN, r.quote, sizeof(r.quote)) < 0)
		return DROP(DROP_INVALID);

	r.type = 3;	/* destination unreachable */
	r.code = 4;	/* fragmentation needed and DF set */
	r.mtu = bpf_htons(mtu);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.type,
			    sizeof(r) - sizeof(r.ip), 0);
	if (sum < 0)
		return DROP(DROP_WRITE_ERROR);
	r.csum = csum_fold32((__u32)sum);

	r.ip.ver_ihl = 0x45;
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_ICMP;
	r.ip.saddr = src;
	r.ip.daddr = p->ip.saddr;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0);
	if (sum < 0)
		return DROP(DROP_WRITE_ERROR);
	r.ip.check = csum_fold32((__u32)sum);

	if (bpf_skb_change_tail(ctx, ETH_HLEN + sizeof(r), 0) < 0 ||
	    bpf_skb_store_bytes(ctx, 0, &macs[ETH_ALEN], ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(ctx, ETH_ALEN, macs, ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(ctx, ETH_HLEN, &r, sizeof(r), 0) < 0)
		return DROP(DROP_WRITE_ERROR);
	p->ip = r.ip;
	p->sport = 0;
	p->dport = 0;
	return 0;
}

static __always_inline void identity_mark_set(struct __sk_buff *ctx, __u32 id)
{
	ctx->mark = ((id & 0xffff) << 16) | MARK_MAGIC_IDENTITY | ((id >> 16) & 0xff);
}

/* Returns the identity carried in skb->mark (and clears it), or 0. */
static __always_inline __u32 identity_mark_take(struct __sk_buff *ctx)
{
	__u32 mark = ctx->mark;

	if ((mark & MARK_MAGIC_MASK) != MARK_MAGIC_IDENTITY)
		return 0;
	ctx->mark = 0;
	return (mark >> 16) | ((mark & 0xff) << 16);
}

#endif /* DP_L3_H */
