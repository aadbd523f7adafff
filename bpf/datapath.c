// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/*
 * dpforge datapath: a compact Cilium-style tc datapath, specialized per
 * variant by dp_variant.h (compile-time feature macros) and per node by
 * the load-time variables in include/config.h.
 *
 *   cil_from_container  lxc ingress   packets leaving a pod
 *   cil_to_container    lxc egress    packets entering a pod via the stack
 *   cil_from_netdev     native ingress
 *   cil_to_netdev       native egress
 *   cil_from_overlay    vxlan/geneve ingress (decapsulated)
 *   cil_to_overlay      vxlan/geneve egress
 *
 * Every program ends in dp_finish(), which counts the packet under a
 * reason and turns negative results (drops) into TC_ACT_SHOT plus an
 * event. Handlers therefore return a TC action or DROP(reason) and set
 * *reason for the non-default forwarding reasons. Redirects go through the
 * dp_redirect* wrappers of include/trace.h, which record their target for
 * the forwarding trace (cfg_trace).
 */

/* First, so that the feature macros are seen by every header. */
#include "dp_variant.h"

#include "include/common.h"
#include "include/config.h"
#include "include/maps.h"
#include "include/trace.h"
#include "include/parse.h"
#include "include/metrics.h"
#include "include/l3.h"
#include "include/ct.h"
#include "include/policy.h"
#include "include/lb.h"
#include "include/nat.h"
#include "include/edt.h"
#include "include/forward.h"
#include "include/ipv6.h"

char _license[] SEC("license") = "Dual BSD/GPL";

#ifdef ENABLE_IPV4

/* Identity of a destination, as egress policy sees it. */
static __always_inline __u32 dst_id4(const struct endpoint_info *ep, __be32 daddr)
{
	if (endpoint_is_pod(ep))
		return ep->sec_id;
	return resolve_src_id4(daddr);
}

/*
 * Packets leaving a pod: source check, service DNAT, egress policy, DSR
 * and NodePort replies back to their frontend, then forwarding.
 */
static __always_inline int from_container_ipv4(struct __sk_buff *ctx, struct pkt4 *p,
					       __u32 *src_id)
{
	const struct endpoint_info *src_ep, *dst_ep;
	bool svc_hit __maybe_unused = false;
	int ret, ct;

	ret = parse_ipv4(ctx, p);
	if (IS_DROP(ret))
		return ret;
	src_ep = endpoint_lookup4(p->ip.saddr);
	if (!endpoint_is_pod(src_ep))
		return DROP(DROP_INVALID_SOURCE);
	*src_id = src_ep->sec_id;
	/* Conntrack needs ports; ICMP other than echo is tracked with port 0. */
	if (!(p->l4_flags & L4_F_PORTS) && p->ip.protocol != IPPROTO_ICMP)
		return DROP(DROP_UNKNOWN_L4);

	dst_ep = endpoint_lookup4(p->ip.daddr);
#ifdef ENABLE_NODEPORT
	/* A pod's address is never a service frontend: skip the lookup. */
	if (!endpoint_is_pod(dst_ep)) {
		struct lb4_backend be = {};

		ret = lb4_select(p, false, &be);
		if (IS_DROP(ret))
			return ret;
		if (ret > 0) {
			ret = lb4_dnat(ctx, p, &be, *src_id, 0, 0, 0);
			if (IS_DROP(ret))
				return ret;
			svc_hit = true;
			dst_ep = endpoint_lookup4(p->ip.daddr);
		}
	}
#endif

	ct = policy_ct4(p, src_ep->sec_id, dst_id4(dst_ep, p->ip.daddr), CT_EGRESS,
			src_ep->flags & EP_F_ENFORCE_EGRESS, DROP_POLICY_DENIED);
	if (IS_DROP(ct))
		return ct;

#ifdef ENABLE_NODEPORT
	/*
	 * A backend answering a client outside this node's pods (DSR, or a
	 * NodePort with a local backend). Replies to local pods keep the
	 * backend address until the client's ingress, whose conntrack lookup
	 * needs the tuple its own egress recorded.
	 */
	if (!svc_hit && !endpoint_is_pod(dst_ep)) {
		__be32 daddr = p->ip.daddr;

		ret = lb4_rev_nat_from_pod(ctx, p);
		if (IS_DROP(ret))
			return ret;
		/* A hairpin reply now goes back to the pod that asked. */
		if (p->ip.daddr != daddr)
			dst_ep = endpoint_lookup4(p->ip.daddr);
	}
#endif

	return forward4(ctx, p, dst_ep, src_ep, *src_id, HOOK_FROM_CONTAINER, ct == CT_REPLY);
}

/* Packets the stack delivers to a pod (legacy routing, host traffic). */
static __always_inline int to_container_ipv4(struct __sk_buff *ctx, struct pkt4 *p,
					     __u32 *src_id)
{
	const struct endpoint_info *ep, *src_ep;
	int ret;

	ret = parse_ipv4(ctx, p);
	if (IS_DROP(ret))
		return ret;
	if (!(p->l4_flags & L4_F_PORTS) && p->ip.protocol != IPPROTO_ICMP)
		return DROP(DROP_UNKNOWN_L4);
	ep = endpoint_lookup4(p->ip.daddr);
	if (!endpoint_is_pod(ep))
		return TC_ACT_OK;	/* not a pod address (broadcast, ...) */

	*src_id = identity_mark_take(ctx);
	if (!*src_id) {
		src_ep = endpoint_lookup4(p->ip.saddr);
		*src_id = endpoint_is_pod(src_ep) ? src_ep->sec_id :
						    resolve_src_id4(p->ip.saddr);
	}
	ret = endpoint_ingress4(ctx, p, ep, *src_id);
	if (IS_DROP(ret))
		return ret;
	return TC_ACT_OK;
}

#ifdef ENABLE_NODEPORT
/*
 * NodePort/external service hit on the native device. Local backends get
 * plain DNAT. Remote ones get DSR (DNAT, client address kept, frontend in
 * an IPv4 option on the first packet) or SNAT to this node so that the
 * replies come back here for translation.
 */
static __always_inline int nodeport_lb4(struct __sk_buff *ctx, struct pkt4 *p,
					const struct lb4_backend *be, __u32 src_id)
{
	__be32 faddr __maybe_unused = p->ip.daddr;
	__be16 fport __maybe_unused = p->dport;
	bool local = endpoint_is_pod(endpoint_lookup4(be->addr));
	bool dsr __maybe_unused = false;
	__u16 flags = local ? CT_F_LOCAL : CT_F_SNAT;
	int ret;

# ifdef ENABLE_DSR
	if (!local && lb4_use_dsr(p, be)) {
		dsr = true;
		flags = 0;
		/*
		 * The option would push this packet over the MTU: tell the
		 * client, so path-MTU discovery shrinks its packets, rather
		 * than dropping it silently (Cilium: ENABLE_DSR_ICMP_ERRORS).
		 */
		if ((p->ip.protocol == IPPROTO_UDP || tcp_is_syn(p)) &&
		    bpf_ntohs(p->ip.tot_len) + IPV4_DSR_OPT_LEN > cfg_mtu) {
			ret = icmp4_frag_needed_reply(ctx, p, faddr,
						      (__u16)(cfg_mtu - IPV4_DSR_OPT_LEN));
			if (IS_DROP(ret))
				return ret;
			return dp_redirect(ctx->ifindex, 0, 0);
		}
	}
# endif
	ret = lb4_dnat(ctx, p, be, src_id, flags, 0, 0);
	if (IS_DROP(ret) || local)
		return ret;
# ifdef ENABLE_DSR
	if (dsr) {
		/* TCP: the SYN opens the backend's state; UDP has no SYN, so always. */
		if (p->ip.protocol == IPPROTO_UDP || tcp_is_syn(p))
			return dsr_insert_opt4(ctx, p, faddr, fport);
		return 0;
	}
# endif
	return snat4(ctx, p, cfg_node_ipv4);
}
#endif

#ifdef DP_HAVE_NAT4
/* Replies to SNATed flows, then (NodePort SNAT mode) the frontend as source. */
static __always_inline int rev_nat_ingress4(struct __sk_buff *ctx, struct pkt4 *p,
					    bool *translated)
{
	int ret = rev_snat4(ctx, p);

	if (ret <= 0)
		return ret;
	*translated = true;
# ifdef ENABLE_NODEPORT
	ret = lb4_rev_nat(ctx, p);
	if (IS_DROP(ret))
		return ret;
# endif
	return 0;
}
#endif

/*
 * Native device ingress: tunnel traffic passes, replies of SNATed flows
 * are translated back, NodePort/external services are load-balanced, the
 * host firewall guards the node, pods are delivered to.
 */
static __always_inline int from_netdev_ipv4(struct __sk_buff *ctx, struct pkt4 *p,
					    __u32 *src_id, __u8 *reason)
{
	const struct endpoint_info *ep;
	bool translated = false;
	int ret;

	ret = parse_ipv4(ctx, p);
	if (IS_DROP(ret)) {
#ifndef ENABLE_HOST_FIREWALL
		/* A fragment without its first: the stack may still reassemble it. */
		if (ret == DROP(DROP_FRAG_NOT_FOUND)) {
			*reason = REASON_PASS_FRAGMENT;
			return TC_ACT_OK;
		}
#endif
		return ret;
	}

#ifdef HAVE_ENCAP
	/*
	 * Encapsulated traffic for the overlay device: tunnel routing's, or
	 * the egress gateway's in native routing (this node as the gateway).
	 */
	if (p->ip.protocol == IPPROTO_UDP && p->ip.daddr == cfg_node_ipv4 &&
	    p->dport == bpf_htons(cfg_tunnel_port)) {
		*reason = REASON_PASS_TUNNEL;
		return TC_ACT_OK;
	}
#endif

	*src_id = resolve_src_id4(p->ip.saddr);

#ifdef DP_HAVE_NAT4
	ret = rev_nat_ingress4(ctx, p, &translated);
	if (IS_DROP(ret))
		return ret;
#endif
#ifdef ENABLE_NODEPORT
	if (!translated) {
		struct lb4_backend be = {};

		ret = lb4_select(p, true, &be);
		if (IS_DROP(ret))
			return ret;
		if (ret > 0) {
# ifdef ENABLE_HOST_FIREWALL
			struct tuple4 host_ct;

			/* Pre-DNAT: client -> frontend, as the replies will look in reverse. */
			tuple4_from_pkt(&host_ct, p, CT_INGRESS);
# endif
			ret = nodeport_lb4(ctx, p, &be, *src_id);
			/* A drop, or an ICMP error on its way back to the client. */
			if (IS_DROP(ret) || ret == TC_ACT_REDIRECT)
				return ret;
			translated = true;
# ifdef ENABLE_HOST_FIREWALL
			/*
			 * Service traffic is policed at its backend, not by the
			 * host firewall. Replies that leave with this node's
			 * address (local backends) must pass its egress check.
			 */
			if (host_ct.daddr == cfg_node_ipv4 && !ct_touch(&host_ct)) {
				ret = ct_create4(&host_ct, *src_id, 0, 0, 0, 0);
				if (IS_DROP(ret))
					return ret;
			}
# endif
		}
	}
#endif

	if (!translated && p->ip.daddr == cfg_node_ipv4) {
#ifdef ENABLE_HOST_FIREWALL
		const struct endpoint_info *host = endpoint_lookup4(cfg_node_ipv4);

		ret = policy_ct4(p, HOST_ID, *src_id, CT_INGRESS,
				 host && (host->flags & EP_F_ENFORCE_INGRESS), DROP_HOST_FW);
		if (IS_DROP(ret))
			return ret;
#endif
		*reason = REASON_PASS_HOST;
		return TC_ACT_OK;
	}

	ep = endpoint_lookup4(p->ip.daddr);
#ifndef ENABLE_HOST_ROUTING
	/* Legacy routing leaves untranslated transit traffic to the stack. */
	if (!translated && !endpoint_is_pod(ep))
		return TC_ACT_OK;
#endif
	return forward4(ctx, p, ep, NULL, *src_id, HOOK_FROM_NETDEV, false);
}

/*
 * Native device egress: host firewall for the node's own traffic, EDT for
 * throttled pods, then SNAT: egress-gateway flows to their egress IP, other
 * pod traffic leaving the cluster to the node address.
 */
static __always_inline int to_netdev_ipv4(struct __sk_buff *ctx, struct pkt4 *p,
					  __u32 *src_id, __u8 *reason __maybe_unused)
{
	const struct endpoint_info *src_ep __maybe_unused;
	int ret;

	ret = parse_ipv4(ctx, p);
	if (IS_DROP(ret)) {
#ifndef ENABLE_HOST_FIREWALL
		if (ret == DROP(DROP_FRAG_NOT_FOUND)) {
			*reason = REASON_PASS_FRAGMENT;
			return TC_ACT_OK;
		}
#endif
		return ret;
	}

	src_ep = endpoint_lookup4(p->ip.saddr);
	*src_id = src_ep ? src_ep->sec_id : 0;

#ifdef ENABLE_HOST_FIREWALL
	/* The node's own traffic, but not flows it source-NATed for others. */
	if (p->ip.saddr == cfg_node_ipv4 && !snat4_owned(p)) {
		*src_id = HOST_ID;
		ret = policy_ct4(p, HOST_ID, resolve_src_id4(p->ip.daddr), CT_EGRESS,
				 src_ep && (src_ep->flags & EP_F_ENFORCE_EGRESS), DROP_HOST_FW);
		if (IS_DROP(ret))
			return ret;
	}
#endif

#ifdef ENABLE_BANDWIDTH_MANAGER
	if (endpoint_is_pod(src_ep)) {
		ret = edt_sched_departure(ctx, src_ep->ep_id);
		if (IS_DROP(ret))
			return ret;
	}
#endif

#ifdef ENABLE_EGRESS_GATEWAY
	{
		struct egw_key gkey = {
			.prefixlen	= 64,
			.saddr		= p->ip.saddr,
			.daddr		= p->ip.daddr,
		};
		const struct egw_value *gw = bpf_map_lookup_elem(&dp_egress_gw, &gkey);

		/*
		 * This node is the gateway: its own pods' traffic and remote
		 * pods' traffic tunnelled here leave with the egress IP. Replies
		 * of connections into a local pod leave as they came.
		 */
		if (gw && gw->gateway_ip == cfg_node_ipv4 &&
		    ct_lookup4(p, CT_EGRESS) != CT_REPLY) {
			ret = snat4(ctx, p, gw->egress_ip ? gw->egress_ip : cfg_node_ipv4);
			return IS_DROP(ret) ? ret : TC_ACT_OK;
		}
	}
#endif

#ifdef DP_HAVE_NAT4
	snat4_reserve_host(p);
#endif
#ifdef ENABLE_MASQUERADE_IPV4
	if (endpoint_is_pod(src_ep) &&
	    (!cfg_native_ifindex || ctx->ifindex == cfg_native_ifindex) &&
	    !snat4_excluded(p->ip.daddr) && !snat4_is_reply(p)) {
		if (p->icmp_err)
			ret = snat4_icmp_err(ctx, p);
		else if (p->ip.protocol == IPPROTO_ICMP && !(p->l4_flags & L4_F_PORTS))
			ret = 0;	/* other ICMP: nothing to translate */
		else
			ret = snat4(ctx, p, cfg_node_ipv4);
		if (IS_DROP(ret))
			return ret;
	}
#endif
	return TC_ACT_OK;
}

/* Decapsulated traffic: the tunnel key carries the sender's identity. */
static __always_inline int from_overlay_ipv4(struct __sk_buff *ctx, struct pkt4 *p,
					     __u32 *src_id, __u8 *reason)
{
	struct bpf_tunnel_key key = {};
	bool translated = false;
	int ret;

	ret = parse_ipv4(ctx, p);
	if (IS_DROP(ret))
		return ret;

	if (bpf_skb_get_tunnel_key(ctx, &key, TUNNEL_KEY_SIZE, 0) < 0)
		return DROP(DROP_NO_TUNNEL_KEY);
	*src_id = key.tunnel_id;
	/* No other node speaks for this one; Cilium drops the claim too. */
	if (*src_id == HOST_ID)
		return DROP(DROP_INVALID_IDENTITY);
#ifdef ENABLE_VTEP
	{
		/* A VTEP has no identities of its own to send: only WORLD. */
		struct vtep_key vkey = { .addr = p->ip.saddr & cfg_vtep_mask };
		const struct vtep_value *vtep = bpf_map_lookup_elem(&dp_vtep, &vkey);

		if (vtep && vtep->tunnel_ep && *src_id != WORLD_ID)
			return DROP(DROP_INVALID_VNI);
	}
#endif
	/*
	 * The inner destination MAC is whatever the sender wrote (a pod's
	 * lxc MAC on its node), so the overlay device marked the packet
	 * PACKET_OTHERHOST, and ip_rcv drops such packets: those handed to
	 * the stack here, and before Linux 6.15 also those bpf_redirect_peer
	 * hands to a pod. Everything this program passes on is for this node.
	 */
	if (bpf_skb_change_type(ctx, PACKET_HOST) < 0)
		return DROP(DROP_WRITE_ERROR);

#ifdef DP_HAVE_NAT4
	/* Replies of SNATed flows can come back through the tunnel too. */
	ret = rev_nat_ingress4(ctx, p, &translated);
	if (IS_DROP(ret))
		return ret;
#endif
	if (!translated && p->ip.daddr == cfg_node_ipv4) {
		*reason = REASON_PASS_HOST;
		return TC_ACT_OK;
	}
	return forward4(ctx, p, endpoint_lookup4(p->ip.daddr), NULL, *src_id,
			HOOK_FROM_OVERLAY, false);
}

/*
 * Traffic entering the tunnel: validated and counted, and a throttled
 * pod's packets paced here, where the inner source still names the pod
 * (as Cilium's cil_to_overlay does): on the native device the packet
 * carries the node's address.
 */
static __always_inline int to_overlay_ipv4(struct __sk_buff *ctx, struct pkt4 *p,
					   __u32 *src_id __maybe_unused, __u8 *reason)
{
	int ret = parse_ipv4(ctx, p);

	if (ret == DROP(DROP_FRAG_NOT_FOUND)) {
		*reason = REASON_PASS_FRAGMENT;
		return TC_ACT_OK;
	}
	if (IS_DROP(ret))
		return ret;
#ifdef ENABLE_BANDWIDTH_MANAGER
	{
		const struct endpoint_info *src_ep = endpoint_lookup4(p->ip.saddr);

		if (endpoint_is_pod(src_ep)) {
			*src_id = src_ep->sec_id;
			ret = edt_sched_departure(ctx, src_ep->ep_id);
			if (IS_DROP(ret))
				return ret;
		}
	}
#endif
	return TC_ACT_OK;
}

#endif /* ENABLE_IPV4 */

/*
 * Traffic neither the IPv4 nor the IPv6 path (include/ipv6.h) takes. Pod
 * and overlay devices carry cluster traffic only: what this variant does
 * not handle is dropped, except IPv6 on the overlay devices, which the
 * datapath never tunnels. The native device also carries the host's own
 * traffic, which passes unless the host firewall is on (it cannot police
 * what it does not parse).
 */
static __always_inline int other_l3(struct __sk_buff *ctx, bool host_dev __maybe_unused,
				    __u8 *reason)
{
	switch (ctx->protocol) {
	case bpf_htons(ETH_P_ARP):
		*reason = REASON_PASS_ARP;
		return TC_ACT_OK;
#ifdef ENABLE_IPV6
	case bpf_htons(ETH_P_IPV6):
		*reason = REASON_PASS_IPV6;
		return TC_ACT_OK;
#endif
	default:
#ifndef ENABLE_HOST_FIREWALL
		if (host_dev) {
			*reason = REASON_PASS_UNKNOWN_L3;
			return TC_ACT_OK;
		}
#endif
		return DROP(DROP_UNKNOWN_L3);
	}
}

SEC("tc")
int cil_from_container(struct __sk_buff *ctx)
{
	__u8 reason = REASON_FORWARDED;
	struct pkt4 p = {};
	__u32 src_id = 0;
	int ret;

#ifdef ENABLE_IPV4
	if (ctx->protocol == bpf_htons(ETH_P_IP))
		ret = from_container_ipv4(ctx, &p, &src_id);
	else
#endif
#ifdef ENABLE_IPV6
	if (ctx->protocol == bpf_htons(ETH_P_IPV6))
		ret = handle_ipv6(ctx, HOOK_FROM_CONTAINER, &p, &src_id, &reason);
	else
#endif
		ret = other_l3(ctx, false, &reason);
	return dp_finish(ctx, &p, src_id, ret, reason, DIR_EGRESS, HOOK_FROM_CONTAINER);
}

SEC("tc")
int cil_to_container(struct __sk_buff *ctx)
{
	__u8 reason = REASON_FORWARDED;
	struct pkt4 p = {};
	__u32 src_id = 0;
	int ret;

#ifdef ENABLE_IPV4
	if (ctx->protocol == bpf_htons(ETH_P_IP))
		ret = to_container_ipv4(ctx, &p, &src_id);
	else
#endif
#ifdef ENABLE_IPV6
	if (ctx->protocol == bpf_htons(ETH_P_IPV6))
		ret = handle_ipv6(ctx, HOOK_TO_CONTAINER, &p, &src_id, &reason);
	else
#endif
		ret = other_l3(ctx, false, &reason);
	return dp_finish(ctx, &p, src_id, ret, reason, DIR_INGRESS, HOOK_TO_CONTAINER);
}

SEC("tc")
int cil_from_netdev(struct __sk_buff *ctx)
{
	__u8 reason = REASON_FORWARDED;
	struct pkt4 p = {};
	__u32 src_id = 0;
	int ret;

#ifdef ENABLE_IPV4
	if (ctx->protocol == bpf_htons(ETH_P_IP))
		ret = from_netdev_ipv4(ctx, &p, &src_id, &reason);
	else
#endif
#ifdef ENABLE_IPV6
	if (ctx->protocol == bpf_htons(ETH_P_IPV6))
		ret = handle_ipv6(ctx, HOOK_FROM_NETDEV, &p, &src_id, &reason);
	else
#endif
		ret = other_l3(ctx, true, &reason);
	return dp_finish(ctx, &p, src_id, ret, reason, DIR_INGRESS, HOOK_FROM_NETDEV);
}

SEC("tc")
int cil_to_netdev(struct __sk_buff *ctx)
{
	__u8 reason = REASON_FORWARDED;
	struct pkt4 p = {};
	__u32 src_id = 0;
	int ret;

#ifdef ENABLE_IPV4
	if (ctx->protocol == bpf_htons(ETH_P_IP))
		ret = to_netdev_ipv4(ctx, &p, &src_id, &reason);
	else
#endif
#ifdef ENABLE_IPV6
	if (ctx->protocol == bpf_htons(ETH_P_IPV6))
		ret = handle_ipv6(ctx, HOOK_TO_NETDEV, &p, &src_id, &reason);
	else
#endif
		ret = other_l3(ctx, true, &reason);
	return dp_finish(ctx, &p, src_id, ret, reason, DIR_EGRESS, HOOK_TO_NETDEV);
}

SEC("tc")
int cil_from_overlay(struct __sk_buff *ctx)
{
	__u8 reason = REASON_FORWARDED;
	struct pkt4 p = {};
	__u32 src_id = 0;
	int ret;

#ifdef ENABLE_IPV4
	if (ctx->protocol == bpf_htons(ETH_P_IP))
		ret = from_overlay_ipv4(ctx, &p, &src_id, &reason);
	else
#endif
		ret = other_l3(ctx, false, &reason);
	return dp_finish(ctx, &p, src_id, ret, reason, DIR_INGRESS, HOOK_FROM_OVERLAY);
}

SEC("tc")
int cil_to_overlay(struct __sk_buff *ctx)
{
	__u8 reason = REASON_FORWARDED;
	struct pkt4 p = {};
	__u32 src_id = 0;
	int ret;

#ifdef ENABLE_IPV4
	if (ctx->protocol == bpf_htons(ETH_P_IP))
		ret = to_overlay_ipv4(ctx, &p, &src_id, &reason);
	else
#endif
		ret = other_l3(ctx, false, &reason);
	return dp_finish(ctx, &p, src_id, ret, reason, DIR_EGRESS, HOOK_TO_OVERLAY);
}
