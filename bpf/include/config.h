/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Load-time configuration.
 *
 * These are per-node values, not per-variant ones: one compiled object
 * serves every node with the same feature set, and the loader writes the
 * node's values with cilium/ebpf's VariableSpec.Set before loading. They
 * live in .rodata, which the kernel freezes (5.2+), so the verifier treats
 * them as constants and prunes the branches they disable.
 *
 * They are non-static on purpose: external linkage keeps every one of them
 * in the object even when the variant's code never reads it, so all
 * variants expose the same Variables to Go.
 *
 * Byte order: __be* values are network order, everything else host order.
 *
 * With DP_STATIC_CONFIG (nodes on kernels before 5.2, which have no global
 * data) the same names are macros instead: see the second half.
 */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include "common.h"

#if defined(HAVE_ENCAP) && TUNNEL_PROTOCOL == TUNNEL_PROTOCOL_GENEVE
# define DP_DEFAULT_TUNNEL_PORT	6081
#else
# define DP_DEFAULT_TUNNEL_PORT	8472
#endif

#ifndef DP_STATIC_CONFIG
/* Node's IPv4 address: NodePort frontend, masquerade source, host firewall subject. */
volatile const __be32 cfg_node_ipv4 = 0;
/* Node's MAC on the native device; source MAC of frames sent to a VTEP. */
volatile const __u8 cfg_node_mac[ETH_ALEN] = {};
/* Native device; 0 = masquerade on every device cil_to_netdev is attached to. */
volatile const __u32 cfg_native_ifindex = 0;
/* The vxlan/geneve device; target of bpf_redirect after setting a tunnel key. */
volatile const __u32 cfg_encap_ifindex = 0;
/* Largest IPv4 packet (tot_len) the DSR option may grow a packet to. */
volatile const __u32 cfg_mtu = 1500;
/* UDP port of the overlay; cil_from_netdev passes it untouched with HAVE_ENCAP. */
volatile const __u16 cfg_tunnel_port = DP_DEFAULT_TUNNEL_PORT;
/* NodePort range, inclusive, host order. */
volatile const __u16 cfg_nodeport_min = 30000;
volatile const __u16 cfg_nodeport_max = 32767;
/* Native-routing CIDR: destinations inside it are never masqueraded; len 0 = none. */
volatile const __be32 cfg_snat_excl_ipv4 = 0;
volatile const __u32 cfg_snat_excl_ipv4_len = 0;
/* Cluster id, reported in drop events. */
volatile const __u32 cfg_cluster_id = 0;
/* Mask applied to a destination before the VTEP map lookup. */
volatile const __be32 cfg_vtep_mask = bpf_htonl(0xffffff00);
/*
 * Source ports handed out by SNAT, inclusive, host order: Cilium's
 * NODEPORT_PORT_MIN_NAT (NodePort max + 1) to NODEPORT_PORT_MAX_NAT. The
 * range overlaps Linux's ephemeral ports; the node's own connections from
 * cfg_node_ipv4 reserve their ports in dp_snat (include/nat.h) so that no
 * mapping takes them.
 */
volatile const __u16 cfg_snat_port_min = 32768;
volatile const __u16 cfg_snat_port_max = 65535;
/*
 * Source of a hairpin connection, a pod reaching itself through a service
 * (Cilium's service loopback address, IPV4_LOOPBACK, 169.254.42.1).
 */
volatile const __be32 cfg_loopback_ipv4 = bpf_htonl(0xa9fe2a01);
/* Maglev lookup table size per service (one of Cilium's primes), LB_SELECTION_MAGLEV. */
volatile const __u32 cfg_maglev_table_size = 16381;
/*
 * Drop events (dp_events): a token bucket of cfg_events_burst events,
 * refilled with cfg_events_rate tokens every second (Cilium's
 * bpf-events-default-rate-limit / -burst-limit). Metrics count every drop
 * whatever the limit. cfg_events_rate 0 = no limit.
 */
volatile const __u32 cfg_events_rate = 1000;
volatile const __u32 cfg_events_burst = 1000;
/*
 * Forwarding trace (include/trace.h): non-zero makes every run record its
 * verdict in dp_trace. 0 in production, where the verifier sees the
 * constant and never walks the recording code.
 */
volatile const __u32 cfg_trace = 0;

/*
 * Byte-wise volatile reads: copying cfg_node_mac with memcpy would cast the
 * volatile away and let the compiler fold in the all-zero initializer.
 */
static __always_inline void cfg_node_mac_copy(__u8 *dst)
{
	const volatile __u8 *src = cfg_node_mac;
	int i;

#pragma unroll
	for (i = 0; i < ETH_ALEN; i++)
		dst[i] = src[i];
}

#else /* DP_STATIC_CONFIG */
/*
 * Kernels before 5.2 have no global data: an object for them has no .rodata,
 * .data or .bss. The values the matrix knows are compile-time macros, which
 * the variant header defines (so such nodes get one object per distinct
 * value set); the defaults below are the ones of the volatile consts above.
 * The node's own addresses, which only the loader knows, are in the
 * one-entry array dp_node_cfg, which it fills before attaching. The trace
 * is compiled out.
 */
#ifndef MTU
# define MTU 1500
#endif
#ifndef CLUSTER_ID
# define CLUSTER_ID 0
#endif
#ifndef TUNNEL_PORT
# define TUNNEL_PORT DP_DEFAULT_TUNNEL_PORT
#endif
#ifndef NODEPORT_PORT_MIN
# define NODEPORT_PORT_MIN 30000
#endif
#ifndef NODEPORT_PORT_MAX
# define NODEPORT_PORT_MAX 32767
#endif
#ifndef IPV4_SNAT_EXCLUSION_DST_CIDR
# define IPV4_SNAT_EXCLUSION_DST_CIDR 0
#endif
#ifndef IPV4_SNAT_EXCLUSION_DST_CIDR_LEN
# define IPV4_SNAT_EXCLUSION_DST_CIDR_LEN 0
#endif
#ifndef VTEP_MASK
# define VTEP_MASK 0xffffff00
#endif
#ifndef NODEPORT_PORT_MIN_NAT
# define NODEPORT_PORT_MIN_NAT 32768
#endif
#ifndef NODEPORT_PORT_MAX_NAT
# define NODEPORT_PORT_MAX_NAT 65535
#endif
#ifndef IPV4_LOOPBACK
# define IPV4_LOOPBACK 0xa9fe2a01
#endif
#ifndef LB_MAGLEV_LUT_SIZE
# define LB_MAGLEV_LUT_SIZE 16381
#endif
#ifndef EVENTS_RATE
# define EVENTS_RATE 1000
#endif
#ifndef EVENTS_BURST
# define EVENTS_BURST 1000
#endif

#define cfg_mtu			((__u32)MTU)
#define cfg_cluster_id		((__u32)CLUSTER_ID)
#define cfg_tunnel_port		((__u16)TUNNEL_PORT)
#define cfg_nodeport_min	((__u16)NODEPORT_PORT_MIN)
#define cfg_nodeport_max	((__u16)NODEPORT_PORT_MAX)
/* The macros hold addresses as written (0x0a000000 is 10.0.0.0). */
#define cfg_snat_excl_ipv4	((__be32)bpf_htonl(IPV4_SNAT_EXCLUSION_DST_CIDR))
#define cfg_snat_excl_ipv4_len	((__u32)IPV4_SNAT_EXCLUSION_DST_CIDR_LEN)
#define cfg_vtep_mask		((__be32)bpf_htonl(VTEP_MASK))
#define cfg_snat_port_min	((__u16)NODEPORT_PORT_MIN_NAT)
#define cfg_snat_port_max	((__u16)NODEPORT_PORT_MAX_NAT)
#define cfg_loopback_ipv4	((__be32)bpf_htonl(IPV4_LOOPBACK))
#define cfg_maglev_table_size	((__u32)LB_MAGLEV_LUT_SIZE)
#define cfg_events_rate		((__u32)EVENTS_RATE)
#define cfg_events_burst	((__u32)EVENTS_BURST)
#define cfg_trace		0

/* dp_node_cfg's value; __be32 in network order, the rest host order. */
struct node_cfg {
	__be32	node_ipv4;
	__u32	native_ifindex;
	__u32	encap_ifindex;
	__u8	node_mac[ETH_ALEN];
	__u8	pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct node_cfg);
} dp_node_cfg SEC(".maps");

/* The node's values, or all zero before the loader wrote them. */
static __always_inline const struct node_cfg *node_cfg(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&dp_node_cfg, &key);
}

static __always_inline __be32 node_cfg_ipv4(void)
{
	const struct node_cfg *c = node_cfg();

	return c ? c->node_ipv4 : 0;
}

static __always_inline __u32 node_cfg_native_ifindex(void)
{
	const struct node_cfg *c = node_cfg();

	return c ? c->native_ifindex : 0;
}

static __always_inline __u32 node_cfg_encap_ifindex(void)
{
	const struct node_cfg *c = node_cfg();

	return c ? c->encap_ifindex : 0;
}

#define cfg_node_ipv4		node_cfg_ipv4()
#define cfg_native_ifindex	node_cfg_native_ifindex()
#define cfg_encap_ifindex	node_cfg_encap_ifindex()

static __always_inline void cfg_node_mac_copy(__u8 *dst)
{
	const struct node_cfg *c = node_cfg();
	int i;

#pragma unroll
	for (i = 0; i < ETH_ALEN; i++)
		dst[i] = c ? c->node_mac[i] : 0;
}
#endif /* DP_STATIC_CONFIG */

#endif /* DP_CONFIG_H */
