// SPDX-License-Identifier: GPL-2.0
//
// A miniature datapath used as the fixture of package compile's tests: two tc
// programs, two maps and one load-time constant. Its compile-time knobs come
// from dp_variant.h, which the build writes next to (not into) this tree.

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "dp_variant.h"
#include "common.h"

#ifndef DP_POLICY_ENTRIES
#error "dp_variant.h must define DP_POLICY_ENTRIES"
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_STAT_MAX);
	__type(key, __u32);
	__type(value, struct dp_stats);
} dp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_POLICY_ENTRIES);
	__type(key, struct dp_policy_key);
	__type(value, __u32);
	// Pinned in production; the verify step must clear this so tests never
	// touch /sys/fs/bpf.
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_policy SEC(".maps");

// Set per node at load time (CollectionSpec.Variables), not per variant.
volatile const __u32 dp_node_id = 0;

SEC("tc")
int dp_ingress(struct __sk_buff *skb)
{
	dp_count(&dp_stats, DP_STAT_INGRESS, skb->len);
#ifdef DP_VERIFIER_BUG
	// Compiles, but dereferences a hash map value without the NULL check:
	// the verifier rejects it ("invalid mem access 'map_value_or_null'").
	struct dp_policy_key bug = { .ifindex = skb->ifindex };
	__u32 *v = bpf_map_lookup_elem(&dp_policy, &bug);
	if (*v)
		return TC_ACT_SHOT;
#endif
#if DP_ENABLE_POLICY
	struct dp_policy_key key = {
		.ifindex = skb->ifindex,
		.node = dp_node_id,
	};
	__u32 *verdict = bpf_map_lookup_elem(&dp_policy, &key);
	if (verdict && *verdict)
		return TC_ACT_SHOT;
#endif
	return TC_ACT_OK;
}

#ifndef DP_NO_EGRESS
SEC("tc")
int dp_egress(struct __sk_buff *skb)
{
	dp_count(&dp_stats, DP_STAT_EGRESS, skb->len);
	if (dp_node_id == 0)
		return TC_ACT_OK;
	return TC_ACT_OK;
}
#endif

char __license[] SEC("license") = "GPL";
