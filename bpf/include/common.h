/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared vocabulary of the dpforge datapath: feature-macro checks, reason
 * codes, identities and the small helpers every other header builds on.
 *
 * The datapath is one translation unit. Every function is
 * static __always_inline: old verifiers (5.10 and before) reject func_info
 * that does not match what they expect and bpf-to-bpf calls are not
 * available everywhere we want to load, so no subprograms may be emitted.
 */
#ifndef DP_COMMON_H
#define DP_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ---- Compile-time contract checks ------------------------------------ */

/* Values of TUNNEL_PROTOCOL; they match Cilium's BPF-side ids. */
#define TUNNEL_PROTOCOL_VXLAN	1
#define TUNNEL_PROTOCOL_GENEVE	2

/* Values of DSR_ENCAP_MODE; only the IPv4-option dispatch is implemented. */
#define DSR_ENCAP_NONE		1
#define DSR_ENCAP_IPIP		2
#define DSR_ENCAP_GENEVE	3

#if !defined(ENABLE_IPV4) && !defined(ENABLE_IPV6)
# error "at least one of ENABLE_IPV4 and ENABLE_IPV6 must be defined"
#endif

/*
 * HAVE_ENCAP: the node has an overlay device (cfg_encap_ifindex). Tunnel
 * routing needs it, and so do the features that encapsulate in native
 * routing too: the egress gateway (pod traffic reaches its gateway node
 * through the overlay) and VTEPs.
 */
#if defined(TUNNEL_MODE) && !defined(HAVE_ENCAP)
# error "TUNNEL_MODE requires HAVE_ENCAP (the overlay device)"
#endif
#if defined(ENABLE_EGRESS_GATEWAY) && !defined(HAVE_ENCAP)
# error "ENABLE_EGRESS_GATEWAY requires HAVE_ENCAP: traffic goes to its gateway node through the overlay device"
#endif
#if defined(ENABLE_VTEP) && !defined(HAVE_ENCAP)
# error "ENABLE_VTEP requires HAVE_ENCAP: traffic goes to a VTEP through the overlay device"
#endif

/*
 * TUNNEL_PROTOCOL changes no code: the overlay device decides the
 * encapsulation and the port is the load-time cfg_tunnel_port. The
 * generator therefore keeps it out of variant headers (VXLAN and Geneve
 * nodes share one object) and writes it into node_config.h only.
 */
#ifdef HAVE_ENCAP
# if defined(TUNNEL_PROTOCOL) && TUNNEL_PROTOCOL != TUNNEL_PROTOCOL_VXLAN && TUNNEL_PROTOCOL != TUNNEL_PROTOCOL_GENEVE
#  error "TUNNEL_PROTOCOL must be TUNNEL_PROTOCOL_VXLAN (1) or TUNNEL_PROTOCOL_GENEVE (2)"
# endif
#elif defined(TUNNEL_PROTOCOL)
# error "TUNNEL_PROTOCOL requires HAVE_ENCAP (an overlay device)"
#endif

#ifdef ENABLE_DSR
# ifndef DSR_ENCAP_MODE
#  error "ENABLE_DSR requires DSR_ENCAP_MODE"
# elif DSR_ENCAP_MODE != DSR_ENCAP_NONE
#  error "only DSR_ENCAP_MODE == DSR_ENCAP_NONE (IPv4 option dispatch) is implemented"
# endif
#elif defined(DSR_ENCAP_MODE)
# error "DSR_ENCAP_MODE is only meaningful with ENABLE_DSR"
#endif
#if defined(ENABLE_DSR_HYBRID) && !defined(ENABLE_DSR)
# error "ENABLE_DSR_HYBRID requires ENABLE_DSR"
#endif

#if defined(ENABLE_MASQUERADE_IPV4) && !defined(ENABLE_IPV4)
# error "ENABLE_MASQUERADE_IPV4 requires ENABLE_IPV4"
#endif
#if defined(ENABLE_MASQUERADE_IPV6) && !defined(ENABLE_IPV6)
# error "ENABLE_MASQUERADE_IPV6 requires ENABLE_IPV6"
#endif
#if defined(ENABLE_IP_MASQ_AGENT_IPV4) && !defined(ENABLE_MASQUERADE_IPV4)
# error "ENABLE_IP_MASQ_AGENT_IPV4 requires ENABLE_MASQUERADE_IPV4"
#endif
/* The gateway node SNATs with the masquerading machinery. */
#if defined(ENABLE_EGRESS_GATEWAY) && !defined(ENABLE_MASQUERADE_IPV4)
# error "ENABLE_EGRESS_GATEWAY requires ENABLE_MASQUERADE_IPV4"
#endif

/*
 * Cilium macros this datapath does not implement. Failing is better than
 * an object that silently lacks a feature its variant claims.
 */
#ifdef ENABLE_HIGH_SCALE_IPCACHE
# error "ENABLE_HIGH_SCALE_IPCACHE is not implemented by the dpforge datapath"
#endif

/* Values of LB_SELECTION, Cilium's: how a new flow's backend is chosen. */
#define LB_SELECTION_RANDOM	1
#define LB_SELECTION_MAGLEV	2

#ifdef LB_SELECTION
# ifndef ENABLE_NODEPORT
#  error "LB_SELECTION is only meaningful with ENABLE_NODEPORT"
# elif LB_SELECTION != LB_SELECTION_RANDOM && LB_SELECTION != LB_SELECTION_MAGLEV
#  error "LB_SELECTION must be LB_SELECTION_RANDOM (1) or LB_SELECTION_MAGLEV (2)"
# endif
#else
# define LB_SELECTION LB_SELECTION_RANDOM
#endif
#if defined(ENABLE_SESSION_AFFINITY) && !defined(ENABLE_NODEPORT)
# error "ENABLE_SESSION_AFFINITY requires ENABLE_NODEPORT"
#endif

/*
 * bpf_redirect_neigh (5.10): the build picks -mcpu=v3 only for kernels
 * that have it (features.Kernel.CPU), so the ISA level says it is there.
 */
#if defined(__BPF_CPU_VERSION__) && __BPF_CPU_VERSION__ >= 3
# define DP_HAVE_REDIRECT_NEIGH 1
#endif

/*
 * The datapath forwards by FIB lookup itself: always with BPF host
 * routing; with NodePort in legacy routing too, for the packets that
 * carry the node's own address as source (SNATed requests, translated
 * replies), which the stack would drop as martians.
 */
#if defined(ENABLE_HOST_ROUTING) || defined(ENABLE_NODEPORT)
# define DP_FIB_FORWARD 1
#endif

/* Anything that translates addresses needs the SNAT/conntrack state. */
#if defined(ENABLE_NODEPORT) || defined(ENABLE_MASQUERADE_IPV4)
# define DP_HAVE_NAT4 1
#endif

/* ---- Reasons ------------------------------------------------------------ */

/*
 * A reason says why a packet left a program the way it did. Values below
 * DROP_BASE are forwarding reasons, values at or above are drops. They are
 * the first field of the metrics key and part of every drop event, so the
 * numbers are ABI: append, never renumber (bpf/maps.go mirrors them).
 */
enum dp_reason {
	REASON_FORWARDED		= 0,	/* handled and forwarded (stack or redirect) */
	REASON_PASS_ARP			= 1,	/* ARP, handed to the stack untouched */
	REASON_PASS_IPV6		= 2,	/* IPv6 passed without policy: ND/MLD, overlay devices */
	REASON_PASS_UNKNOWN_L3		= 3,	/* netdev: non-IP traffic of the host */
	REASON_PASS_FRAGMENT		= 4,	/* netdev/overlay: fragment left to the stack */
	REASON_PASS_HOST		= 5,	/* netdev: addressed to this node, untranslated */
	REASON_PASS_TUNNEL		= 6,	/* netdev: encapsulated traffic for the tunnel device */
	REASON_IPV6_NOT_MASQUERADED	= 7,	/* ENABLE_MASQUERADE_IPV6: a pod's IPv6 leaves untranslated */

	DROP_BASE			= 128,
	DROP_INVALID			= 128,	/* truncated or inconsistent lengths */
	DROP_UNKNOWN_L3			= 129,
	DROP_UNKNOWN_L4			= 130,	/* L4 protocol without the state we need */
	DROP_FRAG_NOT_SUPPORTED		= 131,	/* no longer produced (fragments are tracked); kept for the ABI */
	DROP_INVALID_IHL		= 132,	/* IHL < 5, or no room for an option */
	DROP_TTL_EXCEEDED		= 133,
	DROP_POLICY_DENIED		= 134,
	DROP_NO_SERVICE_BACKEND		= 135,
	DROP_HOST_FW			= 136,
	DROP_NAT_NO_MAPPING		= 137,	/* no free SNAT port / mapping not storable */
	DROP_BW_HORIZON			= 138,
	DROP_INVALID_SOURCE		= 139,	/* pod sent from an address that is not its own */
	DROP_NO_TUNNEL_KEY		= 140,
	DROP_WRITE_ERROR		= 141,	/* a packet-rewriting helper failed */
	DROP_CT_CREATE_FAILED		= 142,
	DROP_FIB_UNREACHABLE		= 143,	/* route lookup says blackhole/unreachable */
	DROP_FRAG_NEEDED		= 144,	/* DSR option would exceed cfg_mtu */
	DROP_INVALID_VERSION		= 145,	/* EtherType IPv4 but version != 4 */

	/* From here on, numbered as Cilium numbers the same drop. */
	DROP_UNROUTABLE			= 151,	/* must be tunnelled, but there is no overlay device */
	DROP_INVALID_IDENTITY		= 171,	/* overlay: tunnel key claims the host identity */
	DROP_IS_CLUSTER_IP		= 174,	/* a ClusterIP reached from outside the cluster */
	DROP_FRAG_NOT_FOUND		= 175,	/* a later fragment whose first was not seen */
	DROP_INVALID_VNI		= 183,	/* overlay: VTEP source with a VNI other than WORLD */
	DROP_NO_EGRESS_GATEWAY		= 194,	/* egress-gateway policy without a gateway */
};

/* Programs return either a TC action (>= 0) or a negated drop reason. */
#define DROP(reason)	(-(int)(reason))
#define IS_DROP(ret)	((ret) < 0)

/* Metrics direction, seen from the endpoint (pod or node) the hook guards. */
enum dp_dir {
	DIR_INGRESS = 1,
	DIR_EGRESS  = 2,
};

/* Which of the six programs produced a metric or event. */
enum dp_hook {
	HOOK_FROM_CONTAINER = 1,
	HOOK_TO_CONTAINER   = 2,
	HOOK_FROM_NETDEV    = 3,
	HOOK_TO_NETDEV      = 4,
	HOOK_FROM_OVERLAY   = 5,
	HOOK_TO_OVERLAY     = 6,
};

/* Reserved security identities (Cilium's numbering). */
#define HOST_ID		1
#define WORLD_ID	2
#define REMOTE_NODE_ID	6

/*
 * skb->mark carries the source identity from a program that hands a
 * packet to the stack to cil_to_container (legacy routing only):
 * bits 8-11 hold the magic, 16-31 the low and 0-7 the high identity bits.
 */
#define MARK_MAGIC_MASK		0x0F00
#define MARK_MAGIC_IDENTITY	0x0F00

#define IPV4_DSR_OPT_TYPE	0x9a	/* Cilium's DSR option: copied, class 0, number 26 */
#define IPV4_DSR_OPT_LEN	8

#define PACKET_HOST	0	/* skb->pkt_type: addressed to this host (linux/if_packet.h) */

#define IP_MF		0x2000
#define IP_OFFSET	0x1FFF

#define TCP_FLAG_FIN	0x01
#define TCP_FLAG_SYN	0x02
#define TCP_FLAG_RST	0x04
#define TCP_FLAG_ACK	0x10

#define NSEC_PER_SEC	1000000000ULL

/* Our own bool: no libc or compiler headers, so -nostdinc builds work too. */
#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 202311L
typedef _Bool bool;
# define true	1
# define false	0
#endif

#ifndef __always_inline
# define __always_inline inline __attribute__((always_inline))
#endif

/*
 * __dp_outline: a function the compiler must not inline, so that it
 * becomes a BPF-to-BPF subprogram. It marks the regions after which a
 * program's paths differ in many locals: service selection, FIB
 * forwarding, source NAT, the translations of ICMP errors. From Linux
 * 6.18 the verifier decides which stack slots matter to state pruning by a
 * static liveness analysis of 8-byte slots, in which a 4-byte store does
 * not end a slot's life; states that differ only in dead locals then no
 * longer prune after such a region, and everything downstream is verified
 * once per path through it. A subprogram's frame, with its path-dependent
 * locals, is gone when it returns, so the caller's states converge again
 * (the default matrix on 6.18: 5.0 M instructions verified inlined, 3.3 M
 * outlined). Outlining more (the IPv4 and IPv6 handlers, conntrack and
 * policy lookups, rev-NAT, parsing) made that count grow, not shrink.
 *
 * The verifier adds the frames of a chain of calls, each rounded up (to 16
 * or 32 bytes, depending on the kernel), against the same 512 bytes as one
 * frame: an outlined function is called only from a program's own frame,
 * never from another subprogram, and keeps its own frame small.
 *
 * Objects for kernels before 5.2 (DP_STATIC_CONFIG) stay inlined:
 * BPF-to-BPF calls need 4.16, and 4.19's verifier was never run on them.
 * unused: like an inline function, one that a variant does not call is
 * dropped without a warning.
 */
#ifdef DP_STATIC_CONFIG
# define __dp_outline __always_inline
#else
# define __dp_outline __attribute__((noinline, unused))
#endif

/*
 * Has a timestamp taken with bpf_ktime_get_ns been idle for longer than
 * lifetime at now? The age is signed: another CPU may refresh a shared
 * entry with its own, slightly later, clock reading between our reading
 * of now and of the entry, and an unsigned now - last would then wrap to
 * an age of centuries and expire a live flow.
 */
static __always_inline bool idle_longer(__u64 now, __u64 last, __u64 lifetime)
{
	return (__s64)(now - last) > (__s64)lifetime;
}

#define __maybe_unused	__attribute__((unused))

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/*
 * Our own IPv4 header: linux/ip.h uses bitfields whose order depends on
 * the asm/byteorder.h found, which is the host's (little endian) even when
 * compiling for bpfeb. Plain bytes are correct for both targets.
 */
struct ipv4hdr {
	__u8	ver_ihl;
	__u8	tos;
	__be16	tot_len;
	__be16	id;
	__be16	frag_off;
	__u8	ttl;
	__u8	protocol;
	__sum16	check;
	__be32	saddr;
	__be32	daddr;
};

#define IPV4_HDR_OFF(field)	(ETH_HLEN + __builtin_offsetof(struct ipv4hdr, field))

static __always_inline void copy_mac(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, ETH_ALEN);
}

#endif /* DP_COMMON_H */
