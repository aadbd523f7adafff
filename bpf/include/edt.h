/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bandwidth manager: Earliest Departure Time. Each throttled endpoint's
 * packets get departure times spaced by their size at the endpoint's
 * rate; the fq qdisc on the native device holds them until then. Runs on
 * cil_to_netdev, where the fq qdisc sits and nothing clears skb->tstamp
 * any more, before masquerading, while the source is still the pod; and
 * for tunnelled traffic on cil_to_overlay, the last place that sees the
 * pod's address (the timestamp survives the encapsulation).
 */
#ifndef DP_EDT_H
#define DP_EDT_H

#include "common.h"
#include "maps.h"
#include "parse.h"

#ifdef ENABLE_BANDWIDTH_MANAGER

#define EDT_DEFAULT_HORIZON_NS	(2 * NSEC_PER_SEC)

static __always_inline int edt_sched_departure(struct __sk_buff *ctx, __u32 ep_id)
{
	struct throttle_key key = { .ep_id = ep_id };
	struct throttle_value *tv;
	__u64 now, t, t_next, delay, horizon;

	tv = bpf_map_lookup_elem(&dp_throttle, &key);
	if (!tv || !tv->rate_bps)
		return 0;

	now = bpf_ktime_get_ns();
	delay = (__u64)ctx->len * 8 * NSEC_PER_SEC / tv->rate_bps;
	t = ctx->tstamp;
	if (t < now)
		t = now;
	t_next = tv->t_last + delay;
	if (t_next <= t) {
		/* Under the rate: leave now and restart the schedule from here. */
		tv->t_last = t;
		return 0;
	}
	horizon = tv->horizon_ns ? tv->horizon_ns : EDT_DEFAULT_HORIZON_NS;
	if (t_next - now >= horizon)
		return DROP(DROP_BW_HORIZON);
	tv->t_last = t_next;
	ctx->tstamp = t_next;
	return 0;
}

#endif /* ENABLE_BANDWIDTH_MANAGER */
#endif /* DP_EDT_H */
