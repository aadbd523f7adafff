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

#ifdef ENABLE_NODEPORT

struct lb4_backend {
	__be32	addr;
	__be16	port;
	__u16	rev_nat_index;
	__u16	svc_flags;
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
 * Find the service of a packet and pick its backend. external: the packet
 * comes from outside the cluster, which may only reach NodePort and
 * external services. Returns 1 with *be filled, 0 for no service, or a
 * drop for a service without usable backends.
 */
static __always_inline int lb4_select(const struct pkt4 *p, bool external,
				      struct lb4_backend *be)
{
	struct svc_key key = {
		.addr	= p->ip.daddr,
		.dport	= p->dport,
		.proto	= p->ip.protocol,
	};
	const struct backend_value *backend;
	const struct svc_value *svc, *slot;
	struct backend_key bkey;

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
	key.slot = (lb4_hash(p) % svc->count) + 1;
	slot = bpf_map_lookup_elem(&dp_services, &key);
	if (!slot)
		return DROP(DROP_NO_SERVICE_BACKEND);
	bkey.id = slot->backend_id;
	backend = bpf_map_lookup_elem(&dp_backends, &bkey);
	if (!backend)
		return DROP(DROP_NO_SERVICE_BACKEND);
	be->addr = backend->addr;
	be->port = backend->port ? backend->port : p->dport;
	return 1;
}

/*
 * DNAT to the backend and remember the service for the replies, keyed by
 * the post-DNAT tuple. Called after lb4_select returned 1.
 */
static __always_inline int lb4_dnat(struct __sk_buff *ctx, struct pkt4 *p,
				    const struct lb4_backend *be, __u32 src_id,
				    __u16 ct_flags, __be32 dsr_addr, __be16 dsr_port)
{
	struct tuple4 t;
	int ret;

	ret = rewrite_addr_port4(ctx, p, true, be->addr, be->port);
	if (IS_DROP(ret))
		return ret;
	tuple4_from_pkt(&t, p, CT_SERVICE);
	if (ct_touch(&t))	/* not the first packet: keep created and flags */
		return 0;
	return ct_create4(&t, src_id, be->rev_nat_index, ct_flags, dsr_addr, dsr_port);
}

/*
 * Replies of a load-balanced connection get the frontend back as their
 * source: the DSR frontend recorded by the backend node, or the service's
 * rev-NAT entry (address 0 standing for this node's address).
 */
static __always_inline int lb4_rev_nat(struct __sk_buff *ctx, struct pkt4 *p)
{
	const struct revnat_value *rn;
	const struct ct_entry *e;
	struct revnat_key rkey = {};
	struct tuple4 t;
	__be32 addr;
	__be16 port;

	if (!l4_tcp_udp(p))
		return 0;
	tuple4_reverse_from_pkt(&t, p, CT_SERVICE);
	e = ct_touch(&t);
	if (!e)
		return 0;
	if (e->flags & CT_F_DSR) {
		addr = e->dsr_addr;
		port = e->dsr_port;
	} else {
		rkey.index = e->rev_nat_index;
		if (!rkey.index)
			return 0;
		rn = bpf_map_lookup_elem(&dp_revnat, &rkey);
		if (!rn)
			return 0;
		addr = rn->addr ? rn->addr : cfg_node_ipv4;
		port = rn->port;
	}
	return rewrite_addr_port4(ctx, p, false, addr, port);
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
