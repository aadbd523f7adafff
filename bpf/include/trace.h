/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarding trace: what a run decided, for tests and debugging.
 *
 * BPF_PROG_TEST_RUN reports a TC action and nothing else: not the device
 * a redirect goes to, not whether it was a plain, peer or neighbour
 * redirect, not the tunnel key. With cfg_trace set, every run leaves that
 * in dp_trace's single slot: the redirect helpers below record their
 * target and kind, and dp_finish adds the verdict, reason, hook and source
 * identity (clearing the redirect fields when the packet was not
 * redirected). Packets on other CPUs overwrite each other: this is a tool
 * for one flow at a time, not telemetry.
 *
 * Every bpf_redirect* call of the datapath goes through these wrappers (a
 * test checks the source), so a redirect can never leave a stale target.
 *
 * Cost with cfg_trace == 0: cfg_trace lives in frozen .rodata, so the
 * verifier knows it is 0, never explores the recording code and drops it
 * from the program it keeps (TestTraceDeadWhenOff checks that no kept
 * instruction refers to dp_trace). What remains per site is loading
 * cfg_trace and whatever the compiler's register allocation around the
 * dead branch costs: a few instructions.
 */
#ifndef DP_TRACE_H
#define DP_TRACE_H

#include "common.h"
#include "config.h"
#include "maps.h"

/*
 * Guard of all trace code. Only tests define it (to 0), to build the
 * trace-free baseline that the cost of cfg_trace == 0 is measured against.
 */
#ifndef DP_TRACE_ON
# define DP_TRACE_ON	cfg_trace
#endif

static __always_inline struct trace_info *trace_slot(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&dp_trace, &key);
}

static __always_inline void trace_redirect(__u8 kind, __u32 ifindex,
					   __be32 tunnel_remote, __u32 tunnel_id)
{
	struct trace_info *t;

	if (!DP_TRACE_ON)
		return;
	t = trace_slot();
	if (!t)
		return;
	t->ifindex = ifindex;
	t->kind = kind;
	t->tunnel_remote = tunnel_remote;
	t->tunnel_id = tunnel_id;
}

/* Called by dp_finish with the run's final action and reason. */
static __always_inline void trace_verdict(const struct __sk_buff *ctx, int ret, __u8 reason,
					  __u8 hook, __u32 src_id)
{
	struct trace_info *t;

	if (!DP_TRACE_ON)
		return;
	t = trace_slot();
	if (!t)
		return;
	if (ret != TC_ACT_REDIRECT) {
		t->ifindex = 0;
		t->kind = ret == TC_ACT_OK ? TRACE_TO_STACK : TRACE_DROP;
		t->tunnel_remote = 0;
		t->tunnel_id = 0;
	}
	t->reason = reason;
	t->hook = hook;
	t->pkt_type = (__u8)ctx->pkt_type;
	t->sec_id = src_id;
}

/* bpf_redirect to the egress of ifindex; tunnel_remote/id: the key just set, or 0. */
static __always_inline int dp_redirect(__u32 ifindex, __be32 tunnel_remote, __u32 tunnel_id)
{
	trace_redirect(TRACE_REDIRECT, ifindex, tunnel_remote, tunnel_id);
	return (int)bpf_redirect(ifindex, 0);
}

#ifdef ENABLE_HOST_ROUTING
/* Into the network namespace of ifindex's veth peer. */
static __always_inline int dp_redirect_peer(__u32 ifindex)
{
	trace_redirect(TRACE_REDIRECT_PEER, ifindex, 0, 0);
	return (int)bpf_redirect_peer(ifindex, 0);
}
#endif

#ifdef DP_HAVE_REDIRECT_NEIGH
/* Out of ifindex to a next hop whose MAC the kernel resolves. */
static __always_inline int dp_redirect_neigh(__u32 ifindex, struct bpf_redir_neigh *nh)
{
	trace_redirect(TRACE_REDIRECT_NEIGH, ifindex, 0, 0);
	return (int)bpf_redirect_neigh(ifindex, nh, sizeof(*nh), 0);
}
#endif

#endif /* DP_TRACE_H */
