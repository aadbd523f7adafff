/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Identity-based L3/L4 policy, enforced on every packet except replies:
 * a policy change applies to live connections too, as in Cilium.
 */
#ifndef DP_POLICY_H
#define DP_POLICY_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "ct.h"

enum policy_verdict {
	POLICY_MISS,
	POLICY_ALLOW,
	POLICY_DENY,
};

static __always_inline enum policy_verdict policy_probe(const struct policy_key *key)
{
	const struct policy_entry *e = bpf_map_lookup_elem(&dp_policy, key);

	if (!e)
		return POLICY_MISS;
	return e->deny ? POLICY_DENY : POLICY_ALLOW;
}

/*
 * The first entry found decides, most specific first (Cilium's order, see
 * __policy_can_access): id/proto/port, ANY/proto/port, id/proto/ANY,
 * ANY/proto/ANY, id/ANY/ANY, ANY/ANY/ANY. 0 encodes ANY in every field.
 */
static __always_inline enum policy_verdict
policy_lookup4(__u32 subject, __u32 remote, __be16 dport, __u8 proto, __u8 dir)
{
	struct policy_key key = {
		.subject_id	= subject,
		.remote_id	= remote,
		.dport		= dport,
		.proto		= proto,
		.dir		= dir,
	};
	enum policy_verdict v;

	v = policy_probe(&key);			/* id/proto/port */
	if (v != POLICY_MISS)
		return v;
	key.remote_id = 0;			/* ANY/proto/port */
	v = policy_probe(&key);
	if (v != POLICY_MISS)
		return v;
	key.remote_id = remote;			/* id/proto/ANY */
	key.dport = 0;
	v = policy_probe(&key);
	if (v != POLICY_MISS)
		return v;
	key.remote_id = 0;			/* ANY/proto/ANY */
	v = policy_probe(&key);
	if (v != POLICY_MISS)
		return v;
	key.remote_id = remote;			/* id/ANY/ANY */
	key.proto = 0;
	v = policy_probe(&key);
	if (v != POLICY_MISS)
		return v;
	key.remote_id = 0;			/* ANY/ANY/ANY */
	return policy_probe(&key);
}

/* The verdict for a packet that is not a reply (either family). */
static __always_inline bool policy_allows(__u32 subject, __u32 remote, __be16 dport,
					  __u8 proto, __u8 scope, bool enforce)
{
	enum policy_verdict v;

	v = policy_lookup4(subject, remote, dport, proto,
			   scope == CT_EGRESS ? POLICY_EGRESS : POLICY_INGRESS);
	return v == POLICY_ALLOW || (v == POLICY_MISS && !enforce);
}

static __always_inline bool policy_allows4(const struct pkt4 *p, __u32 subject, __u32 remote,
					   __u8 scope, bool enforce)
{
	return policy_allows(subject, remote, p->dport, p->ip.protocol, scope, enforce);
}

static __always_inline __u16 policy_rev(void)
{
	__u32 key = 0;
	const __u32 *rev = bpf_map_lookup_elem(&dp_policy_rev, &key);

	return rev ? (__u16)*rev : 0;
}

/*
 * Conntrack plus policy for a packet entering (CT_INGRESS) or leaving
 * (CT_EGRESS) the endpoint with identity subject. Replies of known
 * connections pass. Every other packet needs an allow entry, or no entry
 * at all while the endpoint does not enforce (enforce == false); new
 * connections are then tracked. An established connection keeps the
 * revision it was last allowed under in its entry, so the lookup is
 * repeated only after dp_policy_rev moved. Returns the CT status or a
 * drop.
 */
static __always_inline int policy_ct4(const struct pkt4 *p, __u32 subject, __u32 remote,
				      __u8 scope, bool enforce, __u8 deny_reason)
{
	struct ct_entry *e;
	struct tuple4 t;
	__u16 rev;

	/* An ICMP error about a tracked flow passes as that flow does. */
	if (p->icmp_err && ct_lookup4(p, scope) == CT_RELATED)
		return CT_RELATED;
	tuple4_from_pkt(&t, p, scope);
	e = ct_touch_pkt(&t, p, false);
	if (e) {
		rev = policy_rev();
		if (e->policy_rev == rev)
			return CT_ESTABLISHED;
		if (!policy_allows4(p, subject, remote, scope, enforce))
			return DROP(deny_reason);
		e->policy_rev = rev;
		return CT_ESTABLISHED;
	}
	tuple4_reverse_from_pkt(&t, p, scope == CT_EGRESS ? CT_INGRESS : CT_EGRESS);
	if (ct_touch_pkt(&t, p, true))	/* TCP state follows both directions */
		return CT_REPLY;
	if (!policy_allows4(p, subject, remote, scope, enforce))
		return DROP(deny_reason);
	/* The entry starts at revision 0: a later revision re-checks once. */
	tuple4_from_pkt(&t, p, scope);
	return ct_create4(&t, scope == CT_EGRESS ? subject : remote, 0, 0, 0, 0) ?: CT_NEW;
}

#endif /* DP_POLICY_H */
