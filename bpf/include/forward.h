/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where a packet goes next: a local pod, a tunnel, a VTEP, the egress
 * gateway, the FIB (BPF host routing) or the stack (legacy routing).
 */
#ifndef DP_FORWARD_H
#define DP_FORWARD_H

#include "common.h"
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "l3.h"
#include "ct.h"
#include "policy.h"
#include "lb.h"
#include "trace.h"

/* bpf_tunnel_key up to tunnel_label: the size every kernel since 4.3 accepts. */
#define TUNNEL_KEY_SIZE	(__builtin_offsetof(struct bpf_tunnel_key, tunnel_label) + sizeof(__u32))

static __always_inline struct endpoint_info *endpoint_lookup4(__be32 addr)
{
	struct endpoint_key key = { .addr = addr };

	return bpf_map_lookup_elem(&dp_endpoints, &key);
}

/* A local pod, as opposed to no endpoint or the host's own entry. */
static __always_inline bool endpoint_is_pod(const struct endpoint_info *ep)
{
	return ep && !(ep->flags & EP_F_HOST);
}

static __always_inline struct remote_endpoint_info *ipcache_lookup4(__be32 addr)
{
	struct lpm4_key key = {
		.prefixlen	= 32,
		.addr		= addr,
	};

	return bpf_map_lookup_elem(&dp_ipcache, &key);
}

/* Security identity of a source address outside the local pods. */
static __always_inline __u32 resolve_src_id4(__be32 saddr)
{
	const struct remote_endpoint_info *re;

	if (saddr == cfg_node_ipv4)
		return HOST_ID;
	re = ipcache_lookup4(saddr);
	return re ? re->sec_id : WORLD_ID;
}

#ifdef HAVE_ENCAP
/* Hand the packet to the overlay device with the tunnel metadata set. */
static __always_inline int encap_redirect4(struct __sk_buff *ctx, __be32 tunnel_ep,
					   __u32 tunnel_id)
{
	struct bpf_tunnel_key key = {};

	/*
	 * The loader was given no overlay device (dpload --tunnel-device):
	 * say so instead of redirecting to ifindex 0, where the kernel drops
	 * the packet without a trace.
	 */
	if (!cfg_encap_ifindex)
		return DROP(DROP_UNROUTABLE);
	key.remote_ipv4 = bpf_ntohl(tunnel_ep);	/* the helper takes host order */
	key.tunnel_id = tunnel_id;
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(ctx, &key, TUNNEL_KEY_SIZE, BPF_F_ZERO_CSUM_TX) < 0)
		return DROP(DROP_WRITE_ERROR);
	return dp_redirect(cfg_encap_ifindex, tunnel_ep, tunnel_id);
}
#endif /* HAVE_ENCAP */

/*
 * Ingress side of a local pod: conntrack + ingress policy, then, for
 * replies of connections the pod made to a service, the service address
 * as source, and on a DSR backend the frontend the option announces.
 * Runs in cil_to_container and, with BPF host routing where the packet
 * skips the lxc device's egress hook, right before bpf_redirect_peer.
 */
static __always_inline int endpoint_ingress4(struct __sk_buff *ctx __maybe_unused, struct pkt4 *p,
					     const struct endpoint_info *ep, __u32 src_id)
{
	int ret __maybe_unused;

	int ct;

	ct = policy_ct4(p, ep->sec_id, src_id, CT_INGRESS,
			ep->flags & EP_F_ENFORCE_INGRESS, DROP_POLICY_DENIED);
	if (IS_DROP(ct))
		return ct;
#ifdef ENABLE_NODEPORT
	/* Only a reply can answer a connection this pod made to a service. */
	if (ct == CT_REPLY) {
		ret = lb4_rev_nat(ctx, p);
		if (IS_DROP(ret))
			return ret;
	}
# ifdef ENABLE_DSR
	ret = dsr_record4(p, src_id);
	if (IS_DROP(ret))
		return ret;
# endif
#endif
	return 0;
}

#ifdef DP_FIB_FORWARD
/*
 * Forwarding without the stack. A resolved neighbour gives us both MACs
 * and a plain redirect; otherwise bpf_redirect_neigh resolves the next
 * hop the FIB named (kernels without it: the stack, see below). A
 * subprogram (__dp_outline, include/common.h): the FIB result and the
 * neighbour's MACs die with its frame, so what follows every forwarding
 * decision is verified once, not once per FIB outcome.
 */
static __dp_outline int fib_redirect4(struct __sk_buff *ctx, struct pkt4 *p)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh __maybe_unused = {};
	int fib_ret, ret;

	fib.family	= 2;	/* AF_INET */
	fib.tos		= p->ip.tos;
	fib.l4_protocol	= p->ip.protocol;
	fib.tot_len	= bpf_ntohs(p->ip.tot_len);
	fib.ipv4_src	= p->ip.saddr;
	fib.ipv4_dst	= p->ip.daddr;
	fib.ifindex	= ctx->ifindex;

	fib_ret = (int)bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (fib_ret) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		break;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
#ifdef DP_HAVE_REDIRECT_NEIGH
		break;
#else
		/* Nothing here resolves neighbours before 5.10: the stack does. */
		return TC_ACT_OK;
#endif
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return DROP(DROP_FIB_UNREACHABLE);
	default:
		/* Local delivery, forwarding disabled, needs fragmentation...: the stack knows. */
		return TC_ACT_OK;
	}
	ret = ipv4_dec_ttl(ctx, p);
	if (IS_DROP(ret))
		return ret;
	if (fib_ret == BPF_FIB_LKUP_RET_SUCCESS) {
		ret = eth_rewrite(ctx, fib.smac, fib.dmac);
		if (IS_DROP(ret))
			return ret;
		return dp_redirect(fib.ifindex, 0, 0);
	}
#ifdef DP_HAVE_REDIRECT_NEIGH
	/* The lookup left the next hop (gateway or destination) in ipv4_dst. */
	nh.nh_family = 2;	/* AF_INET */
	nh.ipv4_nh = fib.ipv4_dst;
	return dp_redirect_neigh(fib.ifindex, &nh);
#else
	return TC_ACT_OK;
#endif
}
#endif /* DP_FIB_FORWARD */

/*
 * Forward a packet after the hook's own processing. ep is the endpoint
 * entry of the (final) destination, or NULL. src_ep is the sending pod on
 * cil_from_container, NULL elsewhere; reply: the packet answers a
 * connection made to that pod (replies never take the egress gateway).
 *
 * Local pods are always delivered by the datapath: with BPF host routing
 * straight into the pod (bpf_redirect_peer, the pod's ingress policy run
 * here); in legacy routing to the egress of the pod's lxc device, where
 * cil_to_container runs the ingress policy with the identity skb->mark
 * carries (Cilium's redirect_ep). What legacy routing leaves to the stack
 * is traffic to the node and to destinations outside the cluster, except
 * packets carrying the node's own address as source (NodePort SNAT and
 * its translated replies): the stack would drop those as martians, so the
 * datapath forwards them by FIB lookup itself.
 */
static __always_inline int forward4(struct __sk_buff *ctx, struct pkt4 *p,
				    const struct endpoint_info *ep,
				    const struct endpoint_info *src_ep __maybe_unused,
				    __u32 src_id, __u8 hook __maybe_unused, bool reply __maybe_unused)
{
	const struct remote_endpoint_info *re __maybe_unused;
	int ret;

	if (endpoint_is_pod(ep)) {
#ifdef ENABLE_HOST_ROUTING
		ret = endpoint_ingress4(ctx, p, ep, src_id);
		if (IS_DROP(ret))
			return ret;
		ret = ipv4_l3(ctx, p, ep->node_mac, ep->mac);
		if (IS_DROP(ret))
			return ret;
		return dp_redirect_peer(ep->ifindex);
#else
		ret = ipv4_l3(ctx, p, ep->node_mac, ep->mac);
		if (IS_DROP(ret))
			return ret;
		identity_mark_set(ctx, src_id);
		return dp_redirect(ep->ifindex, 0, 0);
#endif
	}
	if (ep)		/* the host itself */
		return TC_ACT_OK;

#ifdef TUNNEL_MODE
	re = ipcache_lookup4(p->ip.daddr);
	if (re && re->tunnel_ep && re->tunnel_ep != cfg_node_ipv4 &&
	    !(re->flags & IPC_F_SKIP_TUNNEL))
		return encap_redirect4(ctx, re->tunnel_ep, src_id);
#endif

#ifdef ENABLE_VTEP
	{
		struct vtep_key vkey = { .addr = p->ip.daddr & cfg_vtep_mask };
		const struct vtep_value *vtep = bpf_map_lookup_elem(&dp_vtep, &vkey);

		if (vtep) {
			__u8 smac[ETH_ALEN];

			cfg_node_mac_copy(smac);
			ret = eth_rewrite(ctx, smac, vtep->mac);
			if (IS_DROP(ret))
				return ret;
			/* Cilium sends WORLD toward a VTEP, whatever the sender. */
			return encap_redirect4(ctx, vtep->tunnel_ep, WORLD_ID);
		}
	}
#endif

#ifdef ENABLE_EGRESS_GATEWAY
	/*
	 * Pod traffic leaving the cluster under an egress-gateway policy:
	 * tunnelled to its gateway node through the overlay device, which
	 * the node has in native routing too (HAVE_ENCAP), or dropped when
	 * the policy has no gateway (rather than leaking out with the pod's
	 * address); an excluded CIDR takes the ordinary path.
	 */
	if (hook == HOOK_FROM_CONTAINER && !reply) {
		struct egw_key gkey = {
			.prefixlen	= 64,
			.saddr		= p->ip.saddr,
			.daddr		= p->ip.daddr,
		};
		const struct egw_value *gw = bpf_map_lookup_elem(&dp_egress_gw, &gkey);

		if (gw && gw->gateway_ip == EGW_NO_GATEWAY)
			return DROP(DROP_NO_EGRESS_GATEWAY);
		if (gw && gw->gateway_ip != EGW_EXCLUDED_CIDR && gw->gateway_ip != cfg_node_ipv4)
			return encap_redirect4(ctx, gw->gateway_ip, src_id);
	}
#endif

#ifdef ENABLE_HOST_ROUTING
	return fib_redirect4(ctx, p);
#else
# ifdef DP_FIB_FORWARD
	if (p->ip.saddr == cfg_node_ipv4)
		return fib_redirect4(ctx, p);
# endif
	if (src_ep) {
		/* Legacy routing: we are the pod's router, then the stack routes on. */
		__u8 dmac[ETH_ALEN];

		cfg_node_mac_copy(dmac);
		ret = ipv4_l3(ctx, p, src_ep->node_mac, dmac);
		if (IS_DROP(ret))
			return ret;
	}
	return TC_ACT_OK;
#endif
}

#endif /* DP_FORWARD_H */
