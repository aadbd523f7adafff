/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Source NAT: BPF masquerading, NodePort SNAT mode and the egress gateway.
 * A mapping is two dp_snat entries: NAT_EGRESS keyed by the original tuple
 * (-> new source) and NAT_INGRESS keyed by the reply as it arrives
 * (-> original source). Creating the reply entry with BPF_NOEXIST is what
 * makes a port ours, so two flows can never share a reply tuple.
 */
#ifndef DP_NAT_H
#define DP_NAT_H

#include "common.h"
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "l3.h"
#include "ct.h"

#ifdef DP_HAVE_NAT4

#define SNAT_PORT_TRIES	4	/* unrolled: no loops on old kernels */

static __always_inline __u32 snat4_hash(const struct pkt4 *p)
{
	__u32 h = p->ip.saddr * 0x9e3779b1 ^ p->ip.daddr ^
		  (((__u32)p->sport << 16) | p->dport) ^ p->ip.protocol;

	h ^= h >> 15;
	h *= 0x2c1b3c6d;
	h ^= h >> 12;
	return h;
}

/* Source-NAT a packet to nat_addr with a port from the SNAT range. */
static __always_inline int snat4(struct __sk_buff *ctx, struct pkt4 *p, __be32 nat_addr)
{
	struct snat_entry rev_val = {}, fwd_val = {};
	const struct snat_entry *e;
	struct tuple4 fwd, rev;
	__u32 min = cfg_snat_port_min, max = cfg_snat_port_max;
	__u32 range, h, i;
	__be16 nat_port = 0;
	bool found = false;
	int ret;

	if (!(p->l4_flags & L4_F_PORTS))
		return DROP(DROP_UNKNOWN_L4);

	tuple4_from_pkt(&fwd, p, NAT_EGRESS);
	e = bpf_map_lookup_elem(&dp_snat, &fwd);
	if (e) {
		nat_addr = e->to_addr;
		nat_port = e->to_port;
		/* Both halves age independently in the LRU: revive a lost reply entry. */
		rev.saddr = p->ip.daddr;
		rev.daddr = nat_addr;
		rev.sport = p->dport;
		rev.dport = nat_port;
		rev.proto = p->ip.protocol;
		rev.scope = NAT_INGRESS;
		rev.pad = 0;
		if (!bpf_map_lookup_elem(&dp_snat, &rev)) {
			rev_val.created = bpf_ktime_get_ns();
			rev_val.to_addr = p->ip.saddr;
			rev_val.to_port = p->sport;
			bpf_map_update_elem(&dp_snat, &rev, &rev_val, BPF_ANY);
		}
		goto rewrite;
	}

	rev.saddr = p->ip.daddr;
	rev.daddr = nat_addr;
	rev.sport = p->dport;
	rev.proto = p->ip.protocol;
	rev.scope = NAT_INGRESS;
	rev.pad = 0;
	rev_val.created = bpf_ktime_get_ns();
	rev_val.to_addr = p->ip.saddr;
	rev_val.to_port = p->sport;

	range = max >= min ? max - min + 1 : 1;
	h = snat4_hash(p);
#pragma unroll
	for (i = 0; i < SNAT_PORT_TRIES; i++) {
		__be16 cand = bpf_htons((__u16)(min + (h + i * 0x9e37) % range));

		rev.dport = cand;
		if (bpf_map_update_elem(&dp_snat, &rev, &rev_val, BPF_NOEXIST) == 0) {
			nat_port = cand;
			found = true;
			break;
		}
	}
	if (!found)
		return DROP(DROP_NAT_NO_MAPPING);

	fwd_val.created = rev_val.created;
	fwd_val.to_addr = nat_addr;
	fwd_val.to_port = nat_port;
	if (bpf_map_update_elem(&dp_snat, &fwd, &fwd_val, BPF_ANY) < 0) {
		bpf_map_delete_elem(&dp_snat, &rev);
		return DROP(DROP_NAT_NO_MAPPING);
	}

rewrite:
	ret = rewrite_addr_port4(ctx, p, false, nat_addr, nat_port);
	return ret;
}

/* Reply to a source-NATed flow: restore the original destination. Returns 1 if translated. */
static __always_inline int rev_snat4(struct __sk_buff *ctx, struct pkt4 *p)
{
	const struct snat_entry *e;
	struct tuple4 t;
	int ret;

	if (!(p->l4_flags & L4_F_PORTS))
		return 0;
	tuple4_from_pkt(&t, p, NAT_INGRESS);
	e = bpf_map_lookup_elem(&dp_snat, &t);
	if (!e)
		return 0;
	ret = rewrite_addr_port4(ctx, p, true, e->to_addr, e->to_port);
	return IS_DROP(ret) ? ret : 1;
}

/* Is this packet's source one of our SNAT mappings (not the host's own flow)? */
static __always_inline bool snat4_owned(const struct pkt4 *p)
{
	struct tuple4 t;

	if (!(p->l4_flags & L4_F_PORTS))
		return false;
	tuple4_reverse_from_pkt(&t, p, NAT_INGRESS);
	return bpf_map_lookup_elem(&dp_snat, &t) != NULL;
}

#else
static __always_inline bool snat4_owned(const struct pkt4 *p __maybe_unused)
{
	return false;
}
#endif /* DP_HAVE_NAT4 */

#ifdef ENABLE_MASQUERADE_IPV4
/* Destinations reached without masquerading: native-routing CIDR, ip-masq-agent. */
static __always_inline bool snat4_excluded(__be32 daddr)
{
	__u32 len = cfg_snat_excl_ipv4_len;

	if (len) {
		__be32 mask = bpf_htonl((__u32)(0xffffffffULL << (32 - (len > 32 ? 32 : len))));

		if ((daddr & mask) == (cfg_snat_excl_ipv4 & mask))
			return true;
	}
# ifdef ENABLE_IP_MASQ_AGENT_IPV4
	{
		struct lpm4_key key = {
			.prefixlen	= 32,
			.addr		= daddr,
		};

		if (bpf_map_lookup_elem(&dp_nonmasq, &key))
			return true;
	}
# endif
	return false;
}
#endif /* ENABLE_MASQUERADE_IPV4 */

#endif /* DP_NAT_H */
