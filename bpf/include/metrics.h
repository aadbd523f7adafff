/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-reason counters and drop notifications. */
#ifndef DP_METRICS_H
#define DP_METRICS_H

#include "common.h"
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "trace.h"

static __always_inline void metrics_add(__u8 reason, __u8 dir, __u8 hook, __u32 len)
{
	struct metrics_key key = {
		.reason	= reason,
		.dir	= dir,
		.hook	= hook,
	};
	struct metrics_value *val, init = {
		.packets = 1,
		.bytes	 = len,
	};

	val = bpf_map_lookup_elem(&dp_metrics, &key);
	if (likely(val)) {
		__sync_fetch_and_add(&val->packets, 1);
		__sync_fetch_and_add(&val->bytes, len);
		return;
	}
	/* First packet for this key. If another CPU won the race, add to its entry. */
	if (bpf_map_update_elem(&dp_metrics, &key, &init, BPF_NOEXIST) == 0)
		return;
	val = bpf_map_lookup_elem(&dp_metrics, &key);
	if (val) {
		__sync_fetch_and_add(&val->packets, 1);
		__sync_fetch_and_add(&val->bytes, len);
	}
}

/*
 * The single exit of every program: trace the verdict (cfg_trace), count
 * the packet under its reason and, for drops (negative ret), emit an event
 * and shoot it. Each program calls this once, so the counter and event
 * code is inlined once.
 */
static __always_inline int dp_finish(struct __sk_buff *ctx, const struct pkt4 *p,
				     __u32 src_id, int ret, __u8 reason,
				     __u8 dir, __u8 hook)
{
	struct drop_event ev = {};

	if (IS_DROP(ret))
		reason = (__u8)(-ret);
	trace_verdict(ret, reason, hook, src_id);
	metrics_add(reason, dir, hook, ctx->len);
	if (!IS_DROP(ret))
		return ret;

	ev.ts		= bpf_ktime_get_ns();
	ev.ifindex	= ctx->ifindex;
	ev.len		= ctx->len;
	ev.src_sec_id	= src_id;
	ev.cluster_id	= cfg_cluster_id;
	ev.saddr	= p->ip.saddr;
	ev.daddr	= p->ip.daddr;
	ev.sport	= p->sport;
	ev.dport	= p->dport;
	ev.proto	= p->ip.protocol;
	ev.reason	= reason;
	ev.hook		= hook;
	ev.dir		= dir;
#ifdef HAVE_RINGBUF
	bpf_ringbuf_output(&dp_events, &ev, sizeof(ev), 0);
#else
	bpf_perf_event_output(ctx, &dp_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
#endif
	return TC_ACT_SHOT;
}

#endif /* DP_METRICS_H */
