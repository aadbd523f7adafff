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
#include "icmp.h"

#ifdef DP_HAVE_NAT4

/*
 * Free-port search, as Cilium's: the first try keeps the source port when
 * it is in the range (__snat_try_keep_port), the second is random and the
 * rest follow it, so that flows to one busy destination spread over the
 * whole range instead of competing for the few ports one hash names.
 * Unrolled, as bounded loops need kernel 5.3. Cilium makes 32 tries
 * without the large instruction limit; 8 keep the largest legacy program
 * (cil_from_netdev with every feature) under the old 4096-instruction limit.
 */
#define SNAT_PORT_TRIES	8

/*
 * Idle lifetimes of a mapping, as its conntrack entry would have (Cilium's
 * GC removes a NAT entry with its flow): a stale mapping no longer holds
 * its port and is replaced on the next packet.
 */
static __always_inline bool snat4_stale(const struct snat_entry *e, __u8 proto, __u64 now)
{
	__u64 lifetime = proto == IPPROTO_TCP ? CT_LIFETIME_TCP_NS : CT_LIFETIME_NONTCP_NS;

	return idle_longer(now, e->last_seen, lifetime);
}

/* A live mapping, refreshed. */
static __always_inline struct snat_entry *snat4_find(const struct tuple4 *t)
{
	struct snat_entry *e = bpf_map_lookup_elem(&dp_snat, t);
	__u64 now;

	if (!e)
		return NULL;
	now = bpf_ktime_get_ns();
	if (snat4_stale(e, t->proto, now))
		return NULL;
	e->last_seen = now;
	return e;
}

static __always_inline void snat4_rev_tuple(struct tuple4 *rev, const struct pkt4 *p,
					    __be32 nat_addr, __be16 nat_port)
{
	rev->saddr = p->ip.daddr;
	rev->daddr = nat_addr;
	rev->sport = p->dport;
	rev->dport = nat_port;
	rev->proto = p->ip.protocol;
	rev->scope = NAT_INGRESS;
	rev->pad = 0;
}

/*
 * Source-NAT a packet to nat_addr with a port from the SNAT range. A
 * subprogram (__dp_outline, include/common.h): the port search and the
 * two entries it builds die with its frame.
 */
static __dp_outline int snat4(struct __sk_buff *ctx, struct pkt4 *p, __be32 nat_addr)
{
	struct snat_entry val = {};	/* the reply entry, then the forward one */
	const struct snat_entry *e;
	struct tuple4 fwd, rev;
	__u32 min = cfg_snat_port_min, max = cfg_snat_port_max;
	__u32 range, port, i;
	__be16 nat_port = 0;
	bool found = false;

	if (!(p->l4_flags & L4_F_PORTS))
		return DROP(DROP_UNKNOWN_L4);

	tuple4_from_pkt(&fwd, p, NAT_EGRESS);
	e = snat4_find(&fwd);
	if (e) {
		nat_addr = e->to_addr;
		nat_port = e->to_port;
		/* Both halves age independently in the LRU: revive a lost reply entry. */
		snat4_rev_tuple(&rev, p, nat_addr, nat_port);
		if (!snat4_find(&rev)) {
			val.created = bpf_ktime_get_ns();
			val.last_seen = val.created;
			val.to_addr = p->ip.saddr;
			val.to_port = p->sport;
			bpf_map_update_elem(&dp_snat, &rev, &val, BPF_ANY);
		}
		goto rewrite;
	}

	snat4_rev_tuple(&rev, p, nat_addr, 0);
	val.created = bpf_ktime_get_ns();
	val.last_seen = val.created;
	val.to_addr = p->ip.saddr;
	val.to_port = p->sport;

	range = max >= min ? max - min + 1 : 1;
	port = bpf_ntohs(p->sport);
	if (port < min || port > max)
		port = min + bpf_get_prandom_u32() % range;
	/*
	 * A port is free when its reply tuple is absent; BPF_NOEXIST makes the
	 * claim atomic between CPUs. A stale reply tuple on the first
	 * candidate is removed first: that is how an idle mapping gives its
	 * port back to a new flow that asks for it (the LRU reclaims the
	 * rest). The tries themselves stay small, as they are unrolled.
	 */
	rev.dport = bpf_htons((__u16)port);
	e = bpf_map_lookup_elem(&dp_snat, &rev);
	if (e && snat4_stale(e, rev.proto, val.created))
		bpf_map_delete_elem(&dp_snat, &rev);
#pragma unroll
	for (i = 0; i < SNAT_PORT_TRIES; i++) {
		rev.dport = bpf_htons((__u16)port);
		if (bpf_map_update_elem(&dp_snat, &rev, &val, BPF_NOEXIST) == 0) {
			nat_port = rev.dport;
			found = true;
			break;
		}
		/* Then a random start, then its successors. */
		if (i)
			port = port < max ? port + 1 : min;
		else
			port = min + bpf_get_prandom_u32() % range;
	}
	if (!found)
		return DROP(DROP_NAT_NO_MAPPING);

	/* Same times and flags; one entry less in the frame (include/common.h). */
	val.to_addr = nat_addr;
	val.to_port = nat_port;
	if (bpf_map_update_elem(&dp_snat, &fwd, &val, BPF_ANY) < 0) {
		bpf_map_delete_elem(&dp_snat, &rev);
		return DROP(DROP_NAT_NO_MAPPING);
	}

rewrite:
	return rewrite_addr_port4(ctx, p, false, nat_addr, nat_port);
}

/*
 * The node's own connections from cfg_node_ipv4 with a source port inside
 * the SNAT range reserve that port towards their peer (an SNAT_F_HOST
 * reply entry, never translated), so that no mapping handed out later
 * takes it and steals the host's replies. Cilium keeps host connections
 * in its NAT table for the same reason.
 */
static __always_inline void snat4_reserve_host(const struct pkt4 *p)
{
	/*
	 * Zeroed, then filled: a designated initializer may become a constant
	 * in .rodata, which kernels before 5.2 (DP_STATIC_CONFIG) cannot load.
	 */
	struct snat_entry val = {};
	__u16 port = bpf_ntohs(p->sport);
	struct tuple4 rev;

	if (p->ip.saddr != cfg_node_ipv4 || !(p->l4_flags & L4_F_PORTS) ||
	    p->sport_off == PORT_NONE ||
	    port < cfg_snat_port_min || port > cfg_snat_port_max)
		return;
	snat4_rev_tuple(&rev, p, p->ip.saddr, p->sport);
	if (snat4_find(&rev))	/* reserved already, or a mapping of ours */
		return;
	val.flags = SNAT_F_HOST;
	val.created = bpf_ktime_get_ns();
	val.last_seen = val.created;
	val.to_addr = p->ip.saddr;
	val.to_port = p->sport;
	bpf_map_update_elem(&dp_snat, &rev, &val, BPF_NOEXIST);
}

/*
 * An ICMP error a pod sends about a packet it received through a mapping
 * (the quote reads world -> pod): the quote and the error's source get the
 * mapping's address back. An error about anything else (a connection the
 * pod accepted) leaves untranslated, as its reply would. A subprogram
 * (__dp_outline), as are the other ICMP-error translations: rare paths whose
 * locals should not outlive them.
 */
static __dp_outline int snat4_icmp_err(struct __sk_buff *ctx, struct pkt4 *p)
{
	const struct snat_entry *e;
	struct tuple4 t;
	int ret;

	tuple4_from_quote(&t, p, NAT_EGRESS, true);
	e = snat4_find(&t);
	if (!e || p->ip.saddr != p->inner_daddr)
		return 0;
	ret = icmp_err_rewrite4(ctx, p, true, e->to_addr, e->to_port);
	if (IS_DROP(ret))
		return ret;
	return rewrite_addr4(ctx, p, false, e->to_addr);
}

/*
 * An ICMP error about a packet that left through a mapping (the quote
 * reads nat_addr:nat_port -> peer): the error goes to the original source
 * and the quote gets it back. Returns 1 if translated.
 */
static __dp_outline int rev_snat4_icmp(struct __sk_buff *ctx, struct pkt4 *p)
{
	const struct snat_entry *e;
	struct tuple4 t;
	int ret;

	tuple4_from_quote(&t, p, NAT_INGRESS, true);
	e = snat4_find(&t);
	if (!e || (e->flags & SNAT_F_HOST))
		return 0;
	ret = icmp_err_rewrite4(ctx, p, false, e->to_addr, e->to_port);
	if (IS_DROP(ret))
		return ret;
	ret = rewrite_addr4(ctx, p, true, e->to_addr);
	return IS_DROP(ret) ? ret : 1;
}

/*
 * Reply to a source-NATed flow (or an ICMP error about one): restore the
 * original destination. Returns 1 if translated. The node's own reserved
 * connections are not translations.
 */
static __always_inline int rev_snat4(struct __sk_buff *ctx, struct pkt4 *p)
{
	const struct snat_entry *e;
	struct tuple4 t;
	int ret;

	if (p->icmp_err)
		return rev_snat4_icmp(ctx, p);
	if (!(p->l4_flags & L4_F_PORTS))
		return 0;
	tuple4_from_pkt(&t, p, NAT_INGRESS);
	e = snat4_find(&t);
	if (!e || (e->flags & SNAT_F_HOST))
		return 0;
	ret = rewrite_addr_port4(ctx, p, true, e->to_addr, e->to_port);
	return IS_DROP(ret) ? ret : 1;
}

/* Is this packet's source one of our SNAT mappings (not the host's own flow)? */
static __always_inline bool snat4_owned(const struct pkt4 *p)
{
	const struct snat_entry *e;
	struct tuple4 t;

	if (!(p->l4_flags & L4_F_PORTS))
		return false;
	tuple4_reverse_from_pkt(&t, p, NAT_INGRESS);
	e = bpf_map_lookup_elem(&dp_snat, &t);
	return e && !(e->flags & SNAT_F_HOST);
}

/*
 * A pod's packet answering a connection it accepted (the reversed tuple is
 * in its CT_INGRESS state): replies keep the pod's address, so the peer
 * sees the address it connected to.
 */
static __always_inline bool snat4_is_reply(const struct pkt4 *p)
{
	struct tuple4 t;

	if (!(p->l4_flags & L4_F_PORTS))
		return false;
	tuple4_reverse_from_pkt(&t, p, CT_INGRESS);
	return ct_find(&t, false) != NULL;
}

#else
static __always_inline bool snat4_owned(const struct pkt4 *p __maybe_unused)
{
	return false;
}
#endif /* DP_HAVE_NAT4 */

#ifdef ENABLE_MASQUERADE_IPV4
/*
 * Destinations reached without masquerading: other nodes of the cluster
 * (their ipcache identity), the native-routing CIDR, ip-masq-agent.
 */
static __always_inline bool snat4_excluded(__be32 daddr)
{
	struct lpm4_key ikey = {
		.prefixlen	= 32,
		.addr		= daddr,
	};
	const struct remote_endpoint_info *re;
	__u32 len = cfg_snat_excl_ipv4_len;

	re = bpf_map_lookup_elem(&dp_ipcache, &ikey);
	if (re && (re->sec_id == REMOTE_NODE_ID || re->sec_id == HOST_ID))
		return true;

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
