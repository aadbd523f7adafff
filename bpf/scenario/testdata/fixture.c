// SPDX-License-Identifier: GPL-2.0
//
// fixture.c is a small tc datapath for the scenario engine's own tests. It is
// not part of dpforge's datapath: it exercises what the engine must handle in
// any tc object (an LPM trie keyed by struct, __be16/__be32 fields, MAC
// arrays, a per-CPU counter, load-time variables, skb context fields).
//
// fixture_fwd routes IPv4 by destination through the routes LPM trie:
// rewrites the MACs, decrements the TTL (fixing the IPv4 checksum with
// bpf_l3_csum_replace), records the 5-tuple in flows and redirects to the
// route's ifindex. Packets for cfg_node_ipv4 go to the stack; packets without
// a route or with TTL <= 1 are dropped and counted in drops. fixture_reply
// passes a packet whose reversed 5-tuple is in flows and marks it.

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct lpm_key {
	__u32 prefixlen;
	__be32 addr;
};

struct route {
	__u32 ifindex;
	__u8 mac[6];
	__u16 flags;
	__be32 gw;
};

#define ROUTE_F_NO_TTL 0x1 /* forward without decrementing the TTL */

struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow {
	__u64 packets;
	__u32 ifindex;
	__u32 ingress_ifindex;
	__u8 ttl;
	__u8 pad[7];
};

enum drop_reason {
	DROP_NO_ROUTE = 0,
	DROP_TTL_EXCEEDED = 1,
	DROP_MAX = 4,
};

struct stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_key);
	__type(value, struct route);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME); /* the engine must unpin */
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow);
	__uint(max_entries, 256);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, DROP_MAX);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct stats);
	__uint(max_entries, 1);
} stats SEC(".maps");

/* Per-node values, set at load time. */
volatile const __be32 cfg_node_ipv4 = 0;
volatile const __u8 cfg_node_mac[6] = {};
volatile const __u32 cfg_reply_mark = 0;

#define IP_OFF ETH_HLEN
#define IP_CSUM_OFF (IP_OFF + offsetof(struct iphdr, check))
#define IP_TTL_OFF (IP_OFF + offsetof(struct iphdr, ttl))

static __always_inline int drop(enum drop_reason reason)
{
	__u32 key = reason;
	__u64 *count = bpf_map_lookup_elem(&drops, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	return TC_ACT_SHOT;
}

/* parse fills key from an IPv4 packet; it returns the IPv4 header or NULL. */
static __always_inline struct iphdr *parse(struct __sk_buff *skb, struct flow_key *key)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;

	key->saddr = ip->saddr;
	key->daddr = ip->daddr;
	key->proto = ip->protocol;
	if (ip->ihl == 5 && (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP)) {
		/* TCP and UDP start with the same two ports. */
		struct udphdr *l4 = (void *)(ip + 1);

		if ((void *)(l4 + 1) <= data_end) {
			key->sport = l4->source;
			key->dport = l4->dest;
		}
	}
	return ip;
}

SEC("tc")
int fixture_fwd(struct __sk_buff *skb)
{
	struct flow_key key = {};
	struct lpm_key lpm = { .prefixlen = 32 };
	struct route *rt;
	struct stats *st;
	struct flow *f;
	struct iphdr *ip;
	__u32 zero = 0;
	__u8 ttl;

	st = bpf_map_lookup_elem(&stats, &zero);
	if (st) {
		st->packets++;
		st->bytes += skb->len;
	}

	ip = parse(skb, &key);
	if (!ip)
		return TC_ACT_OK;
	if (key.daddr == cfg_node_ipv4)
		return TC_ACT_OK;

	lpm.addr = key.daddr;
	rt = bpf_map_lookup_elem(&routes, &lpm);
	if (!rt)
		return drop(DROP_NO_ROUTE);

	ttl = ip->ttl;
	if (!(rt->flags & ROUTE_F_NO_TTL)) {
		__u8 new_ttl;

		if (ttl <= 1)
			return drop(DROP_TTL_EXCEEDED);
		new_ttl = ttl - 1;
		/* TTL is the high byte of the 16-bit word it shares with protocol. */
		if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, bpf_htons(ttl << 8), bpf_htons(new_ttl << 8), 2))
			return TC_ACT_SHOT;
		if (bpf_skb_store_bytes(skb, IP_TTL_OFF, &new_ttl, 1, 0))
			return TC_ACT_SHOT;
		ttl = new_ttl;
	}

	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), rt->mac, ETH_ALEN, 0))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), (void *)cfg_node_mac, ETH_ALEN, 0))
		return TC_ACT_SHOT;

	f = bpf_map_lookup_elem(&flows, &key);
	if (f) {
		f->packets++;
		f->ttl = ttl;
	} else {
		struct flow nf = {
			.packets = 1,
			.ifindex = rt->ifindex,
			.ingress_ifindex = skb->ingress_ifindex,
			.ttl = ttl,
		};

		bpf_map_update_elem(&flows, &key, &nf, BPF_ANY);
	}
	return bpf_redirect(rt->ifindex, 0);
}

SEC("tc")
int fixture_reply(struct __sk_buff *skb)
{
	struct flow_key key = {}, rev = {};

	if (!parse(skb, &key))
		return TC_ACT_OK;

	rev.saddr = key.daddr;
	rev.daddr = key.saddr;
	rev.sport = key.dport;
	rev.dport = key.sport;
	rev.proto = key.proto;
	if (!bpf_map_lookup_elem(&flows, &rev))
		return TC_ACT_SHOT;

	skb->mark = cfg_reply_mark;
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
