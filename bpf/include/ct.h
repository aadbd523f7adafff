/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking. One LRU hash and no garbage collector: idle entries
 * expire on lookup (ct_touch) and are reclaimed by LRU eviction;
 * created/last_seen let a user-space GC do better.
 */
#ifndef DP_CT_H
#define DP_CT_H

#include "common.h"
#include "maps.h"
#include "parse.h"

enum ct_status {
	CT_NEW,
	CT_ESTABLISHED,		/* the tuple's own direction was seen before */
	CT_REPLY,		/* the reverse tuple is known: this is a reply */
};

static __always_inline void tuple4_from_pkt(struct tuple4 *t, const struct pkt4 *p,
					    __u8 scope)
{
	t->saddr = p->ip.saddr;
	t->daddr = p->ip.daddr;
	t->sport = p->sport;
	t->dport = p->dport;
	t->proto = p->ip.protocol;
	t->scope = scope;
	t->pad = 0;
}

/* The reply direction's tuple of a packet. */
static __always_inline void tuple4_reverse_from_pkt(struct tuple4 *t, const struct pkt4 *p,
						    __u8 scope)
{
	t->saddr = p->ip.daddr;
	t->daddr = p->ip.saddr;
	t->sport = p->dport;
	t->dport = p->sport;
	t->proto = p->ip.protocol;
	t->scope = scope;
	t->pad = 0;
}

/* Idle lifetimes (Cilium's CT_CONNECTION_LIFETIME_TCP / _NONTCP defaults). */
#define CT_LIFETIME_TCP_NS	(21600ULL * NSEC_PER_SEC)
#define CT_LIFETIME_NONTCP_NS	(60ULL * NSEC_PER_SEC)

/*
 * Find a live entry and refresh it (ct_live: the entry a lookup of either
 * family returned, or NULL). An entry idle for longer than its
 * lifetime counts as absent, so callers treat the flow as new (policy is
 * evaluated again) and overwrite it; the LRU reclaims the rest.
 */
static __always_inline struct ct_entry *ct_live(struct ct_entry *e, __u8 proto)
{
	__u64 now, lifetime;

	if (!e)
		return NULL;
	now = bpf_ktime_get_ns();
	lifetime = proto == IPPROTO_TCP ? CT_LIFETIME_TCP_NS : CT_LIFETIME_NONTCP_NS;
	if (now - e->last_seen > lifetime)
		return NULL;
	e->last_seen = now;
	return e;
}

static __always_inline struct ct_entry *ct_touch(const struct tuple4 *t)
{
	return ct_live(bpf_map_lookup_elem(&dp_conntrack, t), t->proto);
}

/*
 * Policy-scope lookup for a packet crossing an endpoint in direction scope
 * (CT_EGRESS or CT_INGRESS): its own entry means established, the reversed
 * tuple in the opposite scope means it answers a connection the endpoint
 * accepted (or opened) earlier.
 */
static __always_inline enum ct_status ct_lookup4(const struct pkt4 *p, __u8 scope)
{
	struct tuple4 t;

	tuple4_from_pkt(&t, p, scope);
	if (ct_touch(&t))
		return CT_ESTABLISHED;
	tuple4_reverse_from_pkt(&t, p, scope == CT_EGRESS ? CT_INGRESS : CT_EGRESS);
	if (ct_touch(&t))
		return CT_REPLY;
	return CT_NEW;
}

static __always_inline int ct_create4(const struct tuple4 *t, __u32 src_id,
				      __u16 rev_nat_index, __u16 flags,
				      __be32 dsr_addr, __be16 dsr_port)
{
	struct ct_entry e = {
		.src_sec_id	= src_id,
		.rev_nat_index	= rev_nat_index,
		.flags		= flags,
		.dsr_addr	= dsr_addr,
		.dsr_port	= dsr_port,
	};

	e.created = bpf_ktime_get_ns();
	e.last_seen = e.created;
	if (bpf_map_update_elem(&dp_conntrack, t, &e, BPF_ANY) < 0)
		return DROP(DROP_CT_CREATE_FAILED);
	return 0;
}

#endif /* DP_CT_H */
