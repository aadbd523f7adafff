// SPDX-License-Identifier: GPL-2.0
#pragma once

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

enum {
	DP_STAT_INGRESS,
	DP_STAT_EGRESS,
	DP_STAT_MAX,
};

struct dp_stats {
	__u64 packets;
	__u64 bytes;
};

struct dp_policy_key {
	__u32 ifindex;
#ifdef DP_WIDE_NODE
	__u64 node;	/* same names, other Go types: see TestTypesMismatch */
#else
	__u32 node;
#endif
};

static __always_inline void dp_count(void *map, __u32 slot, __u32 len)
{
	struct dp_stats *s = bpf_map_lookup_elem(map, &slot);
	if (!s)
		return;
	s->packets++;
	s->bytes += len;
}
