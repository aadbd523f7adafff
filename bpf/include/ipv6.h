/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6: identity-based policy with conntrack, and the host firewall. No
 * load balancing, NAT or datapath forwarding: a packet the policy allows
 * is handed to the stack, which routes it (to a local pod through its lxc
 * device, where cil_to_container applies the pod's ingress policy).
 *
 *   cil_from_container  pod egress policy (source must be the pod's address)
 *   cil_to_container    pod ingress policy
 *   cil_from_netdev     host firewall, ingress (node addresses: EP_F_HOST
 *                       entries of dp_endpoints6)
 *   cil_to_netdev       host firewall, egress
 *
 * ICMPv6 neighbour discovery and multicast listener messages always pass
 * (REASON_PASS_IPV6): without them the network does not work. The overlay
 * programs pass IPv6 untouched (other_l3); the datapath never tunnels it.
 * Policy keys carry no address: dp_policy serves both families.
 */
#ifndef DP_IPV6_H
#define DP_IPV6_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "ct.h"
#include "policy.h"
#include "l3.h"

#ifdef ENABLE_IPV6

#define NEXTHDR_HOP		0
#define NEXTHDR_ROUTING		43
#define NEXTHDR_FRAGMENT	44
#define NEXTHDR_AUTH		51
#define NEXTHDR_DEST		60
#define DP_IPPROTO_ICMPV6	58

#define IP6_FRAG_OFFSET		0xfff8
#define IP6_FRAG_MORE		0x0001

/* Extension headers skipped before the upper-layer header; more: DROP_INVALID. */
#define IPV6_MAX_EXTHDRS	4

/* Our own header, as struct ipv4hdr (no bitfields). */
struct ip6hdr {
	__be32	vtc_flow;		/* version 4 bits, traffic class 8, flow label 20 */
	__be16	payload_len;
	__u8	nexthdr;
	__u8	hop_limit;
	__u8	saddr[16];
	__u8	daddr[16];
};

struct pkt6 {
	struct ip6hdr	ip;
	__u32		l4_off;
	__be16		sport;		/* as in struct pkt4, ICMPv6 echo id included */
	__be16		dport;
	__u8		proto;		/* upper-layer protocol, after the extension headers */
	__u8		l4_flags;	/* L4_F_PORTS, L4_F_FRAG */
	__u8		icmp_type;
	__u8		icmp_err;	/* an ICMPv6 error whose quoted TCP/UDP tuple is in quote */
	__u8		tcp_flags;
	struct tuple6	quote;		/* the quoted packet's tuple, as it was sent (scope unset) */
	__u64		now;		/* bpf_ktime_get_ns(), read once per packet */
};

static __always_inline bool ipv6_exthdr(__u8 nh)
{
	return nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST ||
	       nh == NEXTHDR_FRAGMENT || nh == NEXTHDR_AUTH;
}

static __always_inline struct frag6_key frag6_key(const struct pkt6 *p, __be32 id, __u8 proto)
{
	struct frag6_key fk = { .id = id, .proto = proto };

	__builtin_memcpy(fk.saddr, p->ip.saddr, 16);
	__builtin_memcpy(fk.daddr, p->ip.daddr, 16);
	return fk;
}

/*
 * An ICMPv6 error (destination unreachable, packet too big, time exceeded,
 * parameter problem) quotes the packet that caused it from offset off: a
 * TCP or UDP one right behind its IPv6 header gives the tuple conntrack
 * relates the error to. Anything else (cut short, extension headers,
 * other protocols) leaves the error unrelated, policed as a new flow.
 */
static __always_inline void parse_icmp6_quote(struct __sk_buff *ctx, struct pkt6 *p,
					      __u32 off, __u32 end)
{
	struct ip6hdr q;
	__be16 ports[2];

	if (off + sizeof(q) + sizeof(ports) > end ||
	    bpf_skb_load_bytes(ctx, off, &q, sizeof(q)) < 0 ||
	    bpf_skb_load_bytes(ctx, off + sizeof(q), ports, sizeof(ports)) < 0)
		return;
	if (q.nexthdr != IPPROTO_TCP && q.nexthdr != IPPROTO_UDP)
		return;
	__builtin_memcpy(p->quote.saddr, q.saddr, 16);
	__builtin_memcpy(p->quote.daddr, q.daddr, 16);
	p->quote.sport = ports[0];
	p->quote.dport = ports[1];
	p->quote.proto = q.nexthdr;
	p->icmp_err = 1;
}

/*
 * Validate the IPv6 header and extract what policy needs. Rules:
 * - version other than 6: DROP_INVALID_VERSION; payload beyond the frame:
 *   DROP_INVALID (payload length 0 on a frame beyond 64 KiB is BIG TCP);
 * - hop-by-hop, routing, destination options, authentication and fragment
 *   headers are skipped, up to IPV6_MAX_EXTHDRS of them (more, or one cut
 *   short: DROP_INVALID);
 * - fragments are tracked as IPv4's (dp_frags6, keyed by addresses,
 *   identification and the fragment header's next header): the first
 *   records its ports, a later one takes them (L4_F_FRAG) or, when its
 *   first was not seen, is DROP_FRAG_NOT_FOUND;
 * - TCP, UDP and ICMPv6 echo get ports (L4_F_PORTS; the echo identifier
 *   is the request's source and the reply's destination port); other
 *   ICMPv6 has port 0, other protocols no ports; ICMPv6 errors also get
 *   the tuple they quote (parse_icmp6_quote).
 */
static __always_inline int parse_ipv6(struct __sk_buff *ctx, struct pkt6 *p)
{
	__u32 off = ETH_HLEN + sizeof(struct ip6hdr), end;
	bool record = false;
	__be32 frag_id = 0;
	__u8 nh, frag_nh = 0, l4[16];
	int i;

	if (pkt_load(ctx, ETH_HLEN, &p->ip, sizeof(p->ip)) < 0)
		return DROP(DROP_INVALID);
	if ((bpf_ntohl(p->ip.vtc_flow) >> 28) != 6)
		return DROP(DROP_INVALID_VERSION);
	p->now = bpf_ktime_get_ns();
	end = off + bpf_ntohs(p->ip.payload_len);
	if (!p->ip.payload_len && ctx->len > off + 0xffff)
		end = ctx->len;
	if (end > ctx->len)
		return DROP(DROP_INVALID);
	nh = p->ip.nexthdr;

#pragma unroll
	for (i = 0; i < IPV6_MAX_EXTHDRS; i++) {
		__be16 fo;

		if (!ipv6_exthdr(nh))
			break;
		if (off + 8 > end || bpf_skb_load_bytes(ctx, off, l4, 8) < 0)
			return DROP(DROP_INVALID);
		if (nh == NEXTHDR_FRAGMENT) {
			__builtin_memcpy(&fo, &l4[2], 2);
			__builtin_memcpy(&frag_id, &l4[4], 4);
			frag_nh = l4[0];
			if (fo & bpf_htons(IP6_FRAG_OFFSET)) {
				struct frag6_key fk = frag6_key(p, frag_id, frag_nh);
				const struct frag_ports *fp = bpf_map_lookup_elem(&dp_frags6, &fk);

				if (!fp)
					return DROP(DROP_FRAG_NOT_FOUND);
				p->l4_off = off + 8;
				p->proto = frag_nh;
				p->sport = fp->sport;
				p->dport = fp->dport;
				p->l4_flags = L4_F_PORTS | L4_F_FRAG;
				return 0;
			}
			record = fo & bpf_htons(IP6_FRAG_MORE);
			off += 8;
		} else {
			/* AH counts 4-byte words minus 2, the others 8-byte words minus 1. */
			off += nh == NEXTHDR_AUTH ? (l4[1] + 2) * 4 : (l4[1] + 1) * 8;
		}
		nh = l4[0];
	}
	if (ipv6_exthdr(nh))
		return DROP(DROP_INVALID);

	p->l4_off = off;
	p->proto = nh;
	switch (nh) {
	case IPPROTO_TCP:
		if (off + 14 > end || pkt_load(ctx, off, l4, 14) < 0)
			return DROP(DROP_INVALID);
		p->l4_flags = L4_F_PORTS;
		p->tcp_flags = l4[13];
		break;
	case IPPROTO_UDP:
		if (off + 8 > end || pkt_load(ctx, off, l4, 8) < 0)
			return DROP(DROP_INVALID);
		p->l4_flags = L4_F_PORTS;
		break;
	case DP_IPPROTO_ICMPV6:
		if (off + 8 > end || pkt_load(ctx, off, l4, 8) < 0)
			return DROP(DROP_INVALID);
		p->icmp_type = l4[0];
		if (l4[0] == 128 /* echo request */) {
			__builtin_memcpy(&p->sport, &l4[4], 2);
			p->l4_flags = L4_F_PORTS;
		} else if (l4[0] == 129 /* echo reply */) {
			__builtin_memcpy(&p->dport, &l4[4], 2);
			p->l4_flags = L4_F_PORTS;
		} else if (l4[0] >= 1 && l4[0] <= 4) {
			parse_icmp6_quote(ctx, p, off + 8, end);
		}
		break;
	}
	if (nh == IPPROTO_TCP || nh == IPPROTO_UDP) {
		__builtin_memcpy(&p->sport, &l4[0], 2);
		__builtin_memcpy(&p->dport, &l4[2], 2);
	}
	if (record) {
		struct frag6_key fk = frag6_key(p, frag_id, frag_nh);
		struct frag_ports fp = {
			.sport	= p->sport,
			.dport	= p->dport,
		};

		if (bpf_map_update_elem(&dp_frags6, &fk, &fp, BPF_ANY) < 0)
			return DROP(DROP_CT_CREATE_FAILED);
	}
	return 0;
}

/* Neighbour discovery (133-137) and multicast listener messages (130-132, 143). */
static __always_inline bool icmp6_link_control(const struct pkt6 *p)
{
	return p->proto == DP_IPPROTO_ICMPV6 && !(p->l4_flags & L4_F_FRAG) &&
	       ((p->icmp_type >= 130 && p->icmp_type <= 137) || p->icmp_type == 143);
}

static __always_inline struct endpoint_info *endpoint_lookup6(const __u8 *addr)
{
	struct endpoint6_key key;

	__builtin_memcpy(key.addr, addr, 16);
	return bpf_map_lookup_elem(&dp_endpoints6, &key);
}

/* Identity of any address: local endpoints, the host, the ipcache, WORLD. */
static __always_inline __u32 resolve_id6(const __u8 *addr)
{
	const struct endpoint_info *ep = endpoint_lookup6(addr);
	const struct remote_endpoint_info *re;
	struct lpm6_key key = { .prefixlen = 128 };

	if (ep)
		return (ep->flags & EP_F_HOST) ? HOST_ID : ep->sec_id;
	__builtin_memcpy(key.addr, addr, 16);
	re = bpf_map_lookup_elem(&dp_ipcache6, &key);
	return re ? re->sec_id : WORLD_ID;
}

/* The packet's tuple in scope, or (reverse) its reply's. */
static __always_inline void tuple6_from_pkt(struct tuple6 *t, const struct pkt6 *p,
					    __u8 scope, bool reverse)
{
	__builtin_memcpy(t->saddr, reverse ? p->ip.daddr : p->ip.saddr, 16);
	__builtin_memcpy(t->daddr, reverse ? p->ip.saddr : p->ip.daddr, 16);
	t->sport = reverse ? p->dport : p->sport;
	t->dport = reverse ? p->sport : p->dport;
	t->proto = p->proto;
	t->scope = scope;
	t->pad = 0;
}

/* Find a live IPv6 entry (ct_live) at now; refresh: see ct_live. */
static __always_inline struct ct_entry *ct6_find(const struct tuple6 *t, bool refresh, __u64 now)
{
	return ct_live(bpf_map_lookup_elem(&dp_conntrack6, t), t->proto, refresh, now);
}

/*
 * Find a live entry for packet p and follow its TCP state as IPv4 does
 * (ct_follow_tcp): a lone SYN keeps the SYN lifetime, FIN from both sides
 * or RST closes. reply: p travels against the tuple's direction.
 */
static __always_inline struct ct_entry *ct6_touch_pkt(const struct tuple6 *t,
						      const struct pkt6 *p, bool reply)
{
	struct ct_entry *e = ct6_find(t, true, p->now);

	if (e && p->proto == IPPROTO_TCP)
		ct_follow_tcp(e, p->tcp_flags, reply, p->now);
	return e;
}

/*
 * An ICMPv6 error about a tracked flow, crossing the endpoint in scope: the
 * quoted packet went the other way, so it is found as sent in the other
 * scope (a flow the endpoint opened) or reversed in this one (a flow it
 * accepted). As for IPv4, the error does not refresh the flow.
 */
static __always_inline bool ct6_related(const struct pkt6 *p, __u8 scope)
{
	struct tuple6 t = p->quote;

	t.scope = scope == CT_EGRESS ? CT_INGRESS : CT_EGRESS;
	if (ct6_find(&t, false, p->now))
		return true;
	__builtin_memcpy(t.saddr, p->quote.daddr, 16);
	__builtin_memcpy(t.daddr, p->quote.saddr, 16);
	t.sport = p->quote.dport;
	t.dport = p->quote.sport;
	t.scope = scope;
	return ct6_find(&t, false, p->now);
}

/*
 * policy_ct4 for IPv6: same statuses, scopes, revisions, TCP states and
 * lifetimes. An ICMPv6 error related to a tracked flow passes as its
 * replies do (CT_REPLY); path-MTU discovery depends on "packet too big"
 * arriving.
 */
static __always_inline int policy_ct6(const struct pkt6 *p, __u32 subject, __u32 remote,
				      __u8 scope, bool enforce, __u8 deny_reason)
{
	struct ct_entry *e;
	struct tuple6 t;
	__u16 rev;

	if (p->icmp_err && ct6_related(p, scope))
		return CT_REPLY;
	tuple6_from_pkt(&t, p, scope, false);
	e = ct6_touch_pkt(&t, p, false);
	if (e) {
		rev = policy_rev();
		if (e->policy_rev == rev)
			return CT_ESTABLISHED;
		if (!policy_allows(subject, remote, p->dport, p->proto, scope, enforce))
			return DROP(deny_reason);
		e->policy_rev = rev;
		return CT_ESTABLISHED;
	}
	tuple6_from_pkt(&t, p, scope == CT_EGRESS ? CT_INGRESS : CT_EGRESS, true);
	if (ct6_touch_pkt(&t, p, true))
		return CT_REPLY;
	if (!policy_allows(subject, remote, p->dport, p->proto, scope, enforce))
		return DROP(deny_reason);
	tuple6_from_pkt(&t, p, scope, false);
	{
		/*
		 * Declared where it is used: at the top, its zeroing made it
		 * live beside ct6_related's tuple, 40 bytes more in the
		 * program's frame, which subprograms' frames add to.
		 */
		struct ct_entry ne = {};

		ne.src_sec_id = scope == CT_EGRESS ? subject : remote;
		ne.created = p->now;
		ne.last_seen = ne.created;
		if (bpf_map_update_elem(&dp_conntrack6, &t, &ne, BPF_ANY) < 0)
			return DROP(DROP_CT_CREATE_FAILED);
	}
	return CT_NEW;
}

/* Conntrack needs ports; ICMPv6 other than echo is tracked with port 0. */
static __always_inline bool l4_trackable6(const struct pkt6 *p)
{
	return (p->l4_flags & L4_F_PORTS) || p->proto == DP_IPPROTO_ICMPV6;
}

/* Pod egress: the pod's own source address, then its egress policy. */
static __always_inline int from_container_ipv6(struct __sk_buff *ctx, struct pkt6 *p,
					       __u32 *src_id, __u8 *reason)
{
	const struct endpoint_info *src_ep;
	int ret;

	ret = parse_ipv6(ctx, p);
	if (IS_DROP(ret))
		return ret;
	if (icmp6_link_control(p)) {
		*reason = REASON_PASS_IPV6;
		return TC_ACT_OK;
	}
	src_ep = endpoint_lookup6(p->ip.saddr);
	if (!endpoint_is_pod(src_ep))
		return DROP(DROP_INVALID_SOURCE);
	*src_id = src_ep->sec_id;
	if (!l4_trackable6(p))
		return DROP(DROP_UNKNOWN_L4);
	ret = policy_ct6(p, src_ep->sec_id, resolve_id6(p->ip.daddr), CT_EGRESS,
			 src_ep->flags & EP_F_ENFORCE_EGRESS, DROP_POLICY_DENIED);
	return IS_DROP(ret) ? ret : TC_ACT_OK;
}

/* Pod ingress: the source's identity (skb->mark, else by address), ingress policy. */
static __always_inline int to_container_ipv6(struct __sk_buff *ctx, struct pkt6 *p,
					     __u32 *src_id, __u8 *reason)
{
	const struct endpoint_info *ep;
	int ret;

	ret = parse_ipv6(ctx, p);
	if (IS_DROP(ret))
		return ret;
	if (icmp6_link_control(p)) {
		*reason = REASON_PASS_IPV6;
		return TC_ACT_OK;
	}
	if (!l4_trackable6(p))
		return DROP(DROP_UNKNOWN_L4);
	ep = endpoint_lookup6(p->ip.daddr);
	if (!endpoint_is_pod(ep))
		return TC_ACT_OK;	/* not a pod address (multicast, link-local) */
	*src_id = identity_mark_take(ctx) ?: resolve_id6(p->ip.saddr);
	ret = policy_ct6(p, ep->sec_id, *src_id, CT_INGRESS,
			 ep->flags & EP_F_ENFORCE_INGRESS, DROP_POLICY_DENIED);
	return IS_DROP(ret) ? ret : TC_ACT_OK;
}

/*
 * Native device, both directions: traffic to (ingress) or from (egress)
 * one of the node's addresses passes the host firewall; the rest goes on
 * to the stack, whose forwarding leads pod traffic through the pods' own
 * programs. egress: cil_to_netdev.
 */
static __always_inline int netdev_ipv6(struct __sk_buff *ctx, struct pkt6 *p,
				       __u32 *src_id, __u8 *reason, bool egress)
{
	const struct endpoint_info *ep;
	int ret;

	ret = parse_ipv6(ctx, p);
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
	if (icmp6_link_control(p)) {
		*reason = REASON_PASS_IPV6;
		return TC_ACT_OK;
	}
	ep = endpoint_lookup6(egress ? p->ip.saddr : p->ip.daddr);
	*src_id = egress ? (ep ? ep->sec_id : 0) : resolve_id6(p->ip.saddr);
	if (!ep || !(ep->flags & EP_F_HOST)) {
#ifdef ENABLE_MASQUERADE_IPV6
		/* Accepted for configuration parity; IPv6 is not translated. */
		if (egress && ep)
			*reason = REASON_IPV6_NOT_MASQUERADED;
#endif
		return TC_ACT_OK;
	}
	if (!egress)
		*reason = REASON_PASS_HOST;
#ifdef ENABLE_HOST_FIREWALL
	if (egress) {
		*src_id = HOST_ID;
		ret = policy_ct6(p, HOST_ID, resolve_id6(p->ip.daddr), CT_EGRESS,
				 ep->flags & EP_F_ENFORCE_EGRESS, DROP_HOST_FW);
	} else {
		ret = policy_ct6(p, HOST_ID, *src_id, CT_INGRESS,
				 ep->flags & EP_F_ENFORCE_INGRESS, DROP_HOST_FW);
	}
	if (IS_DROP(ret))
		return ret;
#endif
	return TC_ACT_OK;
}

/*
 * The IPv6 path of a program (hook: a constant, so only its branch is
 * kept). ev: what dp_finish's drop event reports of the packet, its ports
 * and protocol (the event has IPv4 address fields only).
 */
static __always_inline int handle_ipv6(struct __sk_buff *ctx, __u8 hook, struct pkt4 *ev,
				       __u32 *src_id, __u8 *reason)
{
	struct pkt6 p = {};
	int ret;

	switch (hook) {
	case HOOK_FROM_CONTAINER:
		ret = from_container_ipv6(ctx, &p, src_id, reason);
		break;
	case HOOK_TO_CONTAINER:
		ret = to_container_ipv6(ctx, &p, src_id, reason);
		break;
	case HOOK_FROM_NETDEV:
	case HOOK_TO_NETDEV:
		ret = netdev_ipv6(ctx, &p, src_id, reason, hook == HOOK_TO_NETDEV);
		break;
	default:
		*reason = REASON_PASS_IPV6;
		return TC_ACT_OK;
	}
	ev->sport = p.sport;
	ev->dport = p.dport;
	ev->ip.protocol = p.proto;
	return ret;
}

#endif /* ENABLE_IPV6 */
#endif /* DP_IPV6_H */
