/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Service load balancing (kube-proxy replacement): ClusterIP from pods,
 * NodePort/external services from outside, reverse NAT of replies, and
 * the IPv4-option flavour of DSR.
 */
#ifndef DP_LB_H
#define DP_LB_H

#include "common.h"
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "l3.h"
#include "ct.h"
#include "icmp.h"

#ifdef ENABLE_NODEPORT

struct lb4_backend {
	__be32	addr;
	__be16	port;
	__u16	rev_nat_index;
	__u16	svc_flags;
	__u8	loopback;	/* hairpin: the client is its own backend */
	__u8	pad;
	__u32	backend_id;
};

static __always_inline bool nodeport_port(__be16 dport)
{
	__u16 port = bpf_ntohs(dport);

	return port >= cfg_nodeport_min && port <= cfg_nodeport_max;
}

/* Flow hash for backend selection; stable for the life of a flow. */
static __always_inline __u32 lb4_hash(const struct pkt4 *p)
{
	__u32 h = p->ip.saddr ^ p->ip.daddr ^ p->ip.protocol ^
		  (((__u32)p->sport << 16) | p->dport);

	h ^= h >> 16;
	h *= 0x7feb352d;
	h ^= h >> 15;
	h *= 0x846ca68b;
	h ^= h >> 16;
	return h;
}

/*
 * A new flow's backend id, 0 for none. LB_SELECTION_MAGLEV: the service's
 * Maglev table (dp_maglev), so that every node picks the same backend for
 * a flow without sharing state. Otherwise one of the service's slots by
 * flow hash (Cilium picks randomly; a hash is as good for a new flow and
 * makes scenarios reproducible).
 */
static __always_inline __u32 lb4_pick(const struct pkt4 *p, struct svc_key *key __maybe_unused,
				      const struct svc_value *svc)
{
#if LB_SELECTION == LB_SELECTION_MAGLEV
	struct maglev_key mkey = { .rev_nat_index = svc->rev_nat_index };
	const struct maglev_value *mv;
	__u32 size = cfg_maglev_table_size;

	if (!size)
		return 0;
	mkey.slot = lb4_hash(p) % size;
	mv = bpf_map_lookup_elem(&dp_maglev, &mkey);
	return mv ? mv->backend_id : 0;
#else
	const struct svc_value *slot;

	key->slot = (lb4_hash(p) % svc->count) + 1;
	slot = bpf_map_lookup_elem(&dp_services, key);
	return slot ? slot->backend_id : 0;
#endif
}

#ifdef ENABLE_SESSION_AFFINITY
/*
 * ClientIP session affinity: a client keeps its backend while it used it
 * within the service's timeout, as in Cilium: [last_used, last_used +
 * timeout). A backend that is gone ends the affinity.
 */
static __always_inline __u32 lb4_affinity_get(__be32 client, const struct svc_value *svc)
{
	struct affinity_key key = { .client = client, .rev_nat_index = svc->rev_nat_index };
	const struct affinity_value *v = bpf_map_lookup_elem(&dp_affinity, &key);

	if (!v)
		return 0;
	if (idle_longer(bpf_ktime_get_ns(), v->last_used,
			(__u64)svc->affinity_timeout * NSEC_PER_SEC - 1)) {
		bpf_map_delete_elem(&dp_affinity, &key);
		return 0;
	}
	return v->backend_id;
}

static __always_inline void lb4_affinity_put(__be32 client, const struct svc_value *svc,
					     __u32 backend_id)
{
	struct affinity_key key = { .client = client, .rev_nat_index = svc->rev_nat_index };
	struct affinity_value v = { .backend_id = backend_id };

	v.last_used = bpf_ktime_get_ns();
	bpf_map_update_elem(&dp_affinity, &key, &v, BPF_ANY);
}
#endif

/*
 * Find the service of a packet and its backend. external: the packet
 * comes from outside the cluster, which may only reach NodePort and
 * external services. Returns 1 with *be filled, 0 for no service, or a
 * drop for a service without usable backends.
 *
 * A flow keeps its backend: the first packet's choice is stored in a
 * CT_LB entry keyed by the packet as it arrives (client -> frontend), so
 * that scaling the service does not move live flows. When that backend is
 * gone (or the entry belongs to an older service at the same frontend), a
 * new one is chosen and stored, as Cilium does; the old connection's
 * packets then reach a backend that does not know them and are reset.
 * The entry sees the client's packets only: it closes on RST, while the
 * client's FIN alone leaves it established.
 *
 * A subprogram (__dp_outline, include/common.h): its lookups leave
 * path-dependent locals (entry and backend pointers, key, tuple) that die
 * with its frame instead of splitting the caller's verifier states.
 */
static __dp_outline int lb4_select(const struct pkt4 *p, bool external,
				   struct lb4_backend *be)
{
	struct svc_key key = {
		.addr	= p->ip.daddr,
		.dport	= p->dport,
		.proto	= p->ip.protocol,
	};
	const struct backend_value *backend = NULL;
	const struct svc_value *svc;
	struct ct_entry *e;
	struct tuple4 t;
	__u32 id = 0;

	if (!l4_tcp_udp(p))	/* TCP and UDP only, fragments included */
		return 0;
	svc = bpf_map_lookup_elem(&dp_services, &key);
	/* A ClusterIP is for the cluster only (Cilium: DROP_IS_CLUSTER_IP). */
	if (svc && external && !(svc->flags & (SVC_F_EXTERNAL | SVC_F_NODEPORT)))
		return DROP(DROP_IS_CLUSTER_IP);
	if (!svc && p->ip.daddr == cfg_node_ipv4 && nodeport_port(p->dport)) {
		key.addr = 0;
		svc = bpf_map_lookup_elem(&dp_services, &key);
	}
	if (!svc)
		return 0;
	if (!svc->count)
		return DROP(DROP_NO_SERVICE_BACKEND);

	be->rev_nat_index = svc->rev_nat_index;
	be->svc_flags = svc->flags;

	tuple4_from_pkt(&t, p, CT_LB);
	e = ct_touch_pkt(&t, p, false);
	if (e && e->rev_nat_index == svc->rev_nat_index) {
		id = e->backend_id;
		backend = bpf_map_lookup_elem(&dp_backends, &id);
	}
#ifdef ENABLE_SESSION_AFFINITY
	if (!backend && (svc->flags & SVC_F_AFFINITY)) {
		id = lb4_affinity_get(p->ip.saddr, svc);
		if (id)
			backend = bpf_map_lookup_elem(&dp_backends, &id);
	}
#endif
	if (!backend) {
		id = lb4_pick(p, &key, svc);
		backend = bpf_map_lookup_elem(&dp_backends, &id);
		if (!backend)
			return DROP(DROP_NO_SERVICE_BACKEND);
	}
	if (e) {
		e->backend_id = id;
		e->rev_nat_index = svc->rev_nat_index;
	} else {
		struct ct_entry n = {
			.rev_nat_index	= svc->rev_nat_index,
			.backend_id	= id,
		};

		n.created = bpf_ktime_get_ns();
		n.last_seen = n.created;
		if (bpf_map_update_elem(&dp_conntrack, &t, &n, BPF_ANY) < 0)
			return DROP(DROP_CT_CREATE_FAILED);
	}
#ifdef ENABLE_SESSION_AFFINITY
	if (svc->flags & SVC_F_AFFINITY)
		lb4_affinity_put(p->ip.saddr, svc, id);
#endif
	be->backend_id = id;
	be->addr = backend->addr;
	be->port = backend->port ? backend->port : p->dport;
	/* Hairpin: a pod reaching itself must not see its own address as source. */
	be->loopback = !external && p->ip.saddr == backend->addr;
	return 1;
}

/*
 * DNAT to the backend and remember the service for the replies, keyed by
 * the post-DNAT tuple. Called after lb4_select returned 1. A hairpin
 * connection also gets cfg_loopback_ipv4 as its source (Linux drops a
 * packet whose source is its destination as a martian); its entry keeps
 * the client's address for the replies, and an egress entry for the
 * pre-DNAT tuple lets the translated replies in as replies.
 */
static __always_inline int lb4_dnat(struct __sk_buff *ctx, struct pkt4 *p,
				    const struct lb4_backend *be, __u32 src_id,
				    __u16 ct_flags, __be32 dsr_addr, __be16 dsr_port)
{
	__be32 client = p->ip.saddr;
	struct tuple4 t;
	int ret;

	if (be->loopback) {
		tuple4_from_pkt(&t, p, CT_EGRESS);
		if (!ct_touch_pkt(&t, p, false)) {
			ret = ct_create4(&t, src_id, 0, 0, 0, 0);
			if (IS_DROP(ret))
				return ret;
		}
		ret = rewrite_addr4(ctx, p, false, cfg_loopback_ipv4);
		if (IS_DROP(ret))
			return ret;
		ct_flags |= CT_F_LOOPBACK;
		dsr_addr = client;
	}
	ret = rewrite_addr_port4(ctx, p, true, be->addr, be->port);
	if (IS_DROP(ret))
		return ret;
	tuple4_from_pkt(&t, p, CT_SERVICE);
	if (ct_touch_pkt(&t, p, false))	/* not the first packet: keep created and flags */
		return 0;
	return ct_create4(&t, src_id, be->rev_nat_index, ct_flags, dsr_addr, dsr_port);
}

/* The frontend a reply's source becomes, from the service entry of its flow. */
static __always_inline bool lb4_frontend(const struct ct_entry *e, __be32 *addr, __be16 *port)
{
	const struct revnat_value *rn;
	struct revnat_key rkey = {};

	if (e->flags & CT_F_DSR) {
		*addr = e->dsr_addr;
		*port = e->dsr_port;
		return true;
	}
	rkey.index = e->rev_nat_index;
	if (!rkey.index)
		return false;
	rn = bpf_map_lookup_elem(&dp_revnat, &rkey);
	if (!rn)
		return false;
	*addr = rn->addr ? rn->addr : cfg_node_ipv4;
	*port = rn->port;
	return true;
}

/*
 * An ICMP error about a load-balanced packet quotes it as it went to the
 * backend: the quote's destination becomes the frontend again, and so
 * does the error's own source when the backend itself reported it. A
 * subprogram (__dp_outline): a rare path whose locals should not outlive it.
 */
static __dp_outline int lb4_rev_nat_icmp(struct __sk_buff *ctx, struct pkt4 *p)
{
	const struct ct_entry *e;
	__be32 backend = p->inner_daddr;
	struct tuple4 t;
	__be32 addr;
	__be16 port;
	int ret;

	tuple4_from_quote(&t, p, CT_SERVICE, false);
	e = ct_find(&t, false);
	if (!e || !lb4_frontend(e, &addr, &port))
		return 0;
	if (e->flags & CT_F_LOOPBACK) {
		ret = icmp_err_rewrite4(ctx, p, false, e->dsr_addr, p->inner_sport);
		if (IS_DROP(ret))
			return ret;
	}
	ret = icmp_err_rewrite4(ctx, p, true, addr, port);
	if (IS_DROP(ret))
		return ret;
	if (p->ip.saddr == backend)
		return rewrite_addr4(ctx, p, false, addr);
	return 0;
}

/*
 * Replies of a load-balanced connection get the frontend back as their
 * source: the DSR frontend recorded by the backend node, or the service's
 * rev-NAT entry (address 0 standing for this node's address). A hairpin
 * reply also goes back to the client's own address: only packets leaving
 * a pod can be one (hairpin), the other callers skip that branch.
 */
static __always_inline int __lb4_rev_nat(struct __sk_buff *ctx, struct pkt4 *p, const bool hairpin)
{
	const struct ct_entry *e;
	struct tuple4 t;
	__be32 addr;
	__be16 port;
	int ret;

	if (p->icmp_err)
		return lb4_rev_nat_icmp(ctx, p);
	if (!l4_tcp_udp(p))
		return 0;
	tuple4_reverse_from_pkt(&t, p, CT_SERVICE);
	e = ct_touch_pkt(&t, p, true);
	if (!e || !lb4_frontend(e, &addr, &port))
		return 0;
	if (hairpin && (e->flags & CT_F_LOOPBACK)) {
		ret = rewrite_addr4(ctx, p, true, e->dsr_addr);
		if (IS_DROP(ret))
			return ret;
	}
	return rewrite_addr_port4(ctx, p, false, addr, port);
}

static __always_inline int lb4_rev_nat(struct __sk_buff *ctx, struct pkt4 *p)
{
	return __lb4_rev_nat(ctx, p, false);
}

/* Replies leaving a pod, which may answer a hairpin connection. */
static __always_inline int lb4_rev_nat_from_pod(struct __sk_buff *ctx, struct pkt4 *p)
{
	return __lb4_rev_nat(ctx, p, true);
}

#ifdef ENABLE_DSR
/*
 * LB node: carry the frontend to the backend node in an IPv4 option
 * (type 0x9a, length 8: port, address) inserted right after the base
 * header, which is where BPF_ADJ_ROOM_NET opens room. The L4 checksum is
 * unaffected: the pseudo header's length is tot_len - IHL, unchanged.
 */
static __always_inline int dsr_insert_opt4(struct __sk_buff *ctx, struct pkt4 *p,
					   __be32 svc_addr, __be16 svc_port)
{
	__u32 hlen = ipv4_hlen(p), tot_len = bpf_ntohs(p->ip.tot_len);
	__u32 opt[IPV4_DSR_OPT_LEN / 4];
	__u8 *o = (__u8 *)opt;
	__be16 old_w0, new_w0;
	__be16 old_len, new_len;
	__u8 ver_ihl;
	__s64 sum;

	if (hlen + IPV4_DSR_OPT_LEN > 60)
		return DROP(DROP_INVALID_IHL);
	if (tot_len + IPV4_DSR_OPT_LEN > cfg_mtu)
		return DROP(DROP_FRAG_NEEDED);

	o[0] = IPV4_DSR_OPT_TYPE;
	o[1] = IPV4_DSR_OPT_LEN;
	__builtin_memcpy(&o[2], &svc_port, sizeof(svc_port));
	__builtin_memcpy(&o[4], &svc_addr, sizeof(svc_addr));

	ver_ihl = (__u8)(p->ip.ver_ihl + IPV4_DSR_OPT_LEN / 4);
	old_w0 = bpf_htons((__u16)((p->ip.ver_ihl << 8) | p->ip.tos));
	new_w0 = bpf_htons((__u16)((ver_ihl << 8) | p->ip.tos));
	old_len = p->ip.tot_len;
	new_len = bpf_htons((__u16)(tot_len + IPV4_DSR_OPT_LEN));

	if (bpf_skb_adjust_room(ctx, IPV4_DSR_OPT_LEN, BPF_ADJ_ROOM_NET, 0) < 0)
		return DROP(DROP_WRITE_ERROR);
	if (bpf_skb_store_bytes(ctx, ETH_HLEN + sizeof(struct ipv4hdr), opt,
				sizeof(opt), 0) < 0 ||
	    bpf_skb_store_bytes(ctx, IPV4_HDR_OFF(ver_ihl), &ver_ihl,
				sizeof(ver_ihl), 0) < 0 ||
	    bpf_skb_store_bytes(ctx, IPV4_HDR_OFF(tot_len), &new_len,
				sizeof(new_len), 0) < 0)
		return DROP(DROP_WRITE_ERROR);

	sum = bpf_csum_diff(NULL, 0, opt, sizeof(opt), 0);
	if (sum < 0 ||
	    bpf_l3_csum_replace(ctx, IPV4_CSUM_OFF, old_w0, new_w0, 2) < 0 ||
	    bpf_l3_csum_replace(ctx, IPV4_CSUM_OFF, old_len, new_len, 2) < 0 ||
	    bpf_l3_csum_replace(ctx, IPV4_CSUM_OFF, 0, sum, 0) < 0)
		return DROP(DROP_WRITE_ERROR);

	p->ip.ver_ihl = ver_ihl;
	p->ip.tot_len = new_len;
	p->l4_off += IPV4_DSR_OPT_LEN;
	return 0;
}

/*
 * Backend node: a packet carrying the DSR option opens (or refreshes) the
 * service state its replies are rewritten from in cil_from_container.
 */
static __always_inline int dsr_record4(const struct pkt4 *p, __u32 src_id)
{
	struct tuple4 t;

	if (!p->has_dsr || !(p->l4_flags & L4_F_PSEUDO))
		return 0;
	tuple4_from_pkt(&t, p, CT_SERVICE);
	return ct_create4(&t, src_id, 0, CT_F_DSR, p->dsr_addr, p->dsr_port);
}

/* DSR for this flow? Hybrid mode keeps UDP on SNAT. */
static __always_inline bool lb4_use_dsr(const struct pkt4 *p __maybe_unused,
				       const struct lb4_backend *be)
{
	if (!(be->svc_flags & SVC_F_DSR))
		return false;
# ifdef ENABLE_DSR_HYBRID
	return p->ip.protocol == IPPROTO_TCP;
# else
	return true;
# endif
}
#endif /* ENABLE_DSR */

#endif /* ENABLE_NODEPORT */
#endif /* DP_LB_H */
