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
 */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include "common.h"

#if defined(TUNNEL_MODE) && TUNNEL_PROTOCOL == TUNNEL_PROTOCOL_GENEVE
# define DP_DEFAULT_TUNNEL_PORT	6081
#else
# define DP_DEFAULT_TUNNEL_PORT	8472
#endif

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
/* UDP port of the overlay; cil_from_netdev passes it untouched in TUNNEL_MODE. */
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

#endif /* DP_CONFIG_H */
