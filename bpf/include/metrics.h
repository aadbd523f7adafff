/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-reason counters and drop notifications. */
#ifndef DP_METRICS_H
#define DP_METRICS_H

#include "common.h"
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "trace.h"

/*
 * The dp_metrics slot of a key: reason in bits 4-11, direction in bit 3
 * (DIR_INGRESS 0, DIR_EGRESS 1), hook in bits 0-2. The Go side unpacks it
 * with bpf.MetricsKeyAt; a key outside that range (which no program
 * produces: dir and hook are constants of each one) gets METRICS_MAP_SIZE,
 * which the lookup refuses.
 */
static __always_inline __u32 metrics_index(const struct metrics_key *k)
{
	if (k->dir < DIR_INGRESS || k->dir > DIR_EGRESS || k->hook > 7)
		return METRICS_MAP_SIZE;
	return (__u32)k->reason << 4 | (__u32)(k->dir - DIR_INGRESS) << 3 | k->hook;
}

_Static_assert(METRICS_MAP_SIZE == 256 << 4, "dp_metrics holds every reason, direction and hook");

static __always_inline void metrics_add(__u8 reason, __u8 dir, __u8 hook, __u32 len)
{
	struct metrics_key key = {
		.reason	= reason,
		.dir	= dir,
		.hook	= hook,
	};
	__u32 idx = metrics_index(&key);
	struct metrics_value *val;

	/*
	 * Per-CPU values: this CPU's copy is ours alone while the program
	 * runs (migration is disabled), so plain adds suffice. The bound
	 * check is the lookup's own; the verifier needs none here, the
	 * index being a key, not an offset.
	 */
	val = bpf_map_lookup_elem(&dp_metrics, &idx);
	if (likely(val)) {
		val->packets++;
		val->bytes += len;
	}
}

/*
 * Token bucket for drop events: a flood of drops must not flood user
 * space. Refills cfg_events_rate tokens per elapsed second, up to
 * cfg_events_burst.
 */
static __always_inline bool events_allowed(void)
{
	struct event_rate *b;
	__u32 key = 0;
	__u64 now, elapsed;

	if (!cfg_events_rate)
		return true;
	b = bpf_map_lookup_elem(&dp_event_rate, &key);
	if (!b)
		return true;
	now = bpf_ktime_get_ns();
	elapsed = now - b->last_topup;
	if (!b->last_topup) {
		b->tokens = cfg_events_burst;
		b->last_topup = now;
	} else if ((__s64)elapsed >= (__s64)NSEC_PER_SEC) {
		b->tokens += (elapsed / NSEC_PER_SEC) * cfg_events_rate;
		if (b->tokens > cfg_events_burst)
			b->tokens = cfg_events_burst;
		b->last_topup = now;
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
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
	struct drop_event ev;

	if (IS_DROP(ret))
		reason = (__u8)(-ret);
	trace_verdict(ctx, ret, reason, hook, src_id);
	metrics_add(reason, dir, hook, ctx->len);
	if (!IS_DROP(ret))
		return ret;
	if (!events_allowed())
		return TC_ACT_SHOT;

	/* Zeroed here, on drops only: forwarded packets do not pay for it. */
	__builtin_memset(&ev, 0, sizeof(ev));
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
