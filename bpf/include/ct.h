/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking. One LRU hash and no garbage collector: idle entries
 * expire on lookup (ct_find), with a lifetime that follows the TCP state,
 * and are reclaimed by LRU eviction; created/last_seen let a user-space GC
 * do better.
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
	CT_RELATED,		/* an ICMP error about a tracked flow */
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

/*
 * The tuple of the packet an ICMP error quotes (parse_icmp_err4), as it
 * was sent, or reversed: the direction the error itself travels.
 */
static __always_inline void tuple4_from_quote(struct tuple4 *t, const struct pkt4 *p,
					      __u8 scope, bool reverse)
{
	t->saddr = reverse ? p->inner_daddr : p->inner_saddr;
	t->daddr = reverse ? p->inner_saddr : p->inner_daddr;
	t->sport = reverse ? p->inner_dport : p->inner_sport;
	t->dport = reverse ? p->inner_sport : p->inner_dport;
	t->proto = p->inner_proto;
	t->scope = scope;
	t->pad = 0;
}

/*
 * Idle lifetimes, Cilium's defaults (CT_CONNECTION_LIFETIME_TCP/_NONTCP,
 * CT_SYN_TIMEOUT, CT_CLOSE_TIMEOUT; the service entries use the same
 * values as CT_SERVICE_LIFETIME_*): a TCP entry that has seen SYNs only
 * lives 60 s, an established one 6 h, a closing one (RST, or FIN from both
 * sides) 10 s; anything else 60 s.
 */
#define CT_LIFETIME_TCP_NS	(21600ULL * NSEC_PER_SEC)
#define CT_LIFETIME_NONTCP_NS	(60ULL * NSEC_PER_SEC)
#define CT_SYN_TIMEOUT_NS	(60ULL * NSEC_PER_SEC)
#define CT_CLOSE_TIMEOUT_NS	(10ULL * NSEC_PER_SEC)

static __always_inline bool ct_tcp_closing(__u8 state)
{
	return (state & CT_TCP_RST) ||
	       (state & (CT_TCP_FIN_FWD | CT_TCP_FIN_REV)) == (CT_TCP_FIN_FWD | CT_TCP_FIN_REV);
}

static __always_inline __u64 ct_lifetime(const struct ct_entry *e, __u8 proto)
{
	if (proto != IPPROTO_TCP)
		return CT_LIFETIME_NONTCP_NS;
	if (ct_tcp_closing(e->tcp_state))
		return CT_CLOSE_TIMEOUT_NS;
	if (!(e->tcp_state & CT_TCP_NON_SYN))
		return CT_SYN_TIMEOUT_NS;
	return CT_LIFETIME_TCP_NS;
}

/*
 * last_seen is written at most once per CT_REFRESH_NS while the TCP state
 * stays the same: a busy flow does not dirty its entry's cache line on
 * every packet. Idle lifetimes are therefore exact to within that second.
 */
#define CT_REFRESH_NS		NSEC_PER_SEC

/*
 * A live entry: e (what a lookup of either family returned, or NULL) unless
 * it has been idle for longer than its lifetime at now, when it counts as
 * absent, so callers treat the flow as new (policy is evaluated again) and
 * overwrite it; the LRU reclaims the rest. refresh: the packet belongs to
 * the flow, which restarts its idle time. The difference is signed: now
 * may have been read before another CPU refreshed the entry.
 */
static __always_inline struct ct_entry *ct_live(struct ct_entry *e, __u8 proto, bool refresh,
						__u64 now)
{
	__s64 idle;

	if (!e)
		return NULL;
	idle = (__s64)(now - e->last_seen);
	if (idle_longer(now, e->last_seen, ct_lifetime(e, proto)))
		return NULL;
	if (refresh && idle >= (__s64)CT_REFRESH_NS)
		e->last_seen = now;
	return e;
}

/* Find a live IPv4 entry (ct_live) at now. */
static __always_inline struct ct_entry *ct_find_at(const struct tuple4 *t, bool refresh,
						   __u64 now)
{
	return ct_live(bpf_map_lookup_elem(&dp_conntrack, t), t->proto, refresh, now);
}

/* ct_find_at with the clock read here, for callers without a packet. */
static __always_inline struct ct_entry *ct_find(const struct tuple4 *t, bool refresh)
{
	return ct_find_at(t, refresh, bpf_ktime_get_ns());
}

/* Find a live entry and refresh it, without looking at the packet. */
static __always_inline struct ct_entry *ct_touch(const struct tuple4 *t)
{
	return ct_find(t, true);
}

/*
 * Follow the TCP state of live entry e with a segment's flags f, at now.
 * reply: the segment travels against the tuple's direction. A SYN reopens
 * a closing entry. A state change is written with last_seen (the line is
 * dirty anyway). Both families' conntrack use it.
 */
static __always_inline void ct_follow_tcp(struct ct_entry *e, __u32 f, bool reply, __u64 now)
{
	__u32 st, reopen;

	/*
	 * Branch-free, so that the verifier walks one path, not one per
	 * combination of flags: bit 0 <- no SYN, bit 3 <- RST, bit 1 or 2
	 * (by direction) <- FIN; a SYN without ACK clears a closing state.
	 */
	st = e->tcp_state;
	reopen = ((f & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN) & ct_tcp_closing((__u8)st);
	st &= reopen - 1;
	st |= (~f >> 1) & CT_TCP_NON_SYN;
	st |= (f & TCP_FLAG_RST) << 1;
	st |= (f & TCP_FLAG_FIN) << (1 + reply);
	if ((__u8)st != e->tcp_state) {
		e->tcp_state = (__u8)st;
		if ((__s64)(now - e->last_seen) > 0)
			e->last_seen = now;
	}
}

/* Find a live entry for IPv4 packet p and follow its TCP state (ct_follow_tcp). */
static __always_inline struct ct_entry *ct_touch_pkt(const struct tuple4 *t,
						     const struct pkt4 *p, bool reply)
{
	struct ct_entry *e = ct_find_at(t, true, p->now);

	if (e && p->ip.protocol == IPPROTO_TCP)
		ct_follow_tcp(e, p->tcp_flags, reply, p->now);
	return e;
}

/*
 * Policy-scope lookup for a packet crossing an endpoint in direction scope
 * (CT_EGRESS or CT_INGRESS): its own entry means established, the reversed
 * tuple in the opposite scope means it answers a connection the endpoint
 * accepted (or opened) earlier. An ICMP error is related when the packet
 * it quotes belongs to a tracked flow: the quote travelled the other way,
 * so its reverse is looked up like the packet itself would be.
 */
static __always_inline enum ct_status ct_lookup4(const struct pkt4 *p, __u8 scope)
{
	__u8 other = scope == CT_EGRESS ? CT_INGRESS : CT_EGRESS;
	struct tuple4 t;

	if (p->icmp_err) {
		tuple4_from_quote(&t, p, scope, true);
		if (ct_find_at(&t, false, p->now))
			return CT_RELATED;
		tuple4_from_quote(&t, p, other, false);
		if (ct_find_at(&t, false, p->now))
			return CT_RELATED;
		return CT_NEW;
	}
	tuple4_from_pkt(&t, p, scope);
	if (ct_touch_pkt(&t, p, false))
		return CT_ESTABLISHED;
	tuple4_reverse_from_pkt(&t, p, other);
	if (ct_touch_pkt(&t, p, true))
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
