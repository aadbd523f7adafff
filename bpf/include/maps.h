/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map layouts and definitions.
 *
 * Every variant defines every map with the same type, key, value and size
 * (only dp_events' type follows HAVE_RINGBUF). Two reasons: one Go API
 * serves all variants, and a node switching variants can reuse its pinned
 * maps instead of failing with an incompatible pin and dropping state
 * (Cilium's 1.7->1.8 upgrade outage, issue #13015, came from a map change).
 *
 * All structs are naturally aligned with explicit padding, so the C and Go
 * (bpf/maps.go) layouts agree on every target; the Go test compares sizes
 * against the object's BTF. __be* fields are network byte order.
 */
#ifndef DP_MAPS_H
#define DP_MAPS_H

#include "common.h"

/* dp_endpoints: local pod (or host) IPv4 -> endpoint. */
struct endpoint_key {
	__be32	addr;
};

#define EP_F_ENFORCE_INGRESS	0x0001	/* missing policy entry = deny, ingress */
#define EP_F_ENFORCE_EGRESS	0x0002	/* missing policy entry = deny, egress */
#define EP_F_HOST		0x0004	/* the node itself: never delivered to, host firewall flags */

struct endpoint_info {
	__u32	ifindex;		/* host-side veth: bpf_redirect_peer target */
	__u8	mac[ETH_ALEN];		/* the pod's MAC (container eth0) */
	__u8	node_mac[ETH_ALEN];	/* host-side veth MAC, the pod's gateway */
	__u16	ep_id;			/* endpoint id: throttle key */
	__u16	flags;			/* EP_F_* */
	__u32	sec_id;			/* the endpoint's security identity */
};

/* dp_ipcache and dp_nonmasq: LPM trie keys. */
struct lpm4_key {
	__u32	prefixlen;
	__be32	addr;
};

#define IPC_F_SKIP_TUNNEL	0x01	/* reachable natively even in TUNNEL_MODE */

struct remote_endpoint_info {
	__u32	sec_id;
	__be32	tunnel_ep;		/* node to tunnel to; 0 = route natively */
	__u8	flags;			/* IPC_F_* */
	__u8	pad[3];
};

/*
 * dp_conntrack and dp_snat: a directional IPv4 5-tuple. For ICMP echo the
 * identifier is the source "port" of a request and the destination "port"
 * of a reply, so a reply's tuple is exactly the reverse of the request's.
 */
struct tuple4 {
	__be32	saddr;
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	scope;			/* CT_* or NAT_* below */
	__u16	pad;
};

/*
 * Conntrack scopes. EGRESS/INGRESS entries are policy state: created by the
 * endpoint (pod, or the host with ENABLE_HOST_FIREWALL) that allowed a new
 * connection, found again for its packets and, reversed, for the replies.
 * Keeping the two apart stops one side's allow from skipping the other
 * side's policy on the same node. SERVICE entries are load-balancer state
 * keyed by the post-DNAT tuple: rev-NAT index or DSR frontend for replies.
 */
#define CT_EGRESS	0
#define CT_INGRESS	1
#define CT_SERVICE	2
#define CT_LB		3	/* pre-DNAT tuple (client -> frontend): the flow's backend */

#define CT_F_DSR	0x0001	/* backend side of DSR: reply source = dsr_addr:dsr_port */
#define CT_F_SNAT	0x0002	/* LB side: request was also source-NATed */
#define CT_F_LOCAL	0x0004	/* LB side: backend is a local endpoint */
#define CT_F_LOOPBACK	0x0008	/* hairpin: client is its own backend; dsr_addr = its address */

/*
 * TCP state bits (ct_entry.tcp_state), which decide an entry's lifetime
 * (include/ct.h): only SYNs seen, established, closing (RST, or FIN from
 * both sides).
 */
#define CT_TCP_NON_SYN	0x01	/* a segment without SYN was seen */
#define CT_TCP_FIN_FWD	0x02	/* FIN from the tuple's source */
#define CT_TCP_FIN_REV	0x04	/* FIN from the tuple's destination */
#define CT_TCP_RST	0x08

struct ct_entry {
	__u64	created;		/* bpf_ktime_get_ns() */
	__u64	last_seen;
	__u32	src_sec_id;		/* identity of the connection's initiator */
	__u16	rev_nat_index;		/* SERVICE, LB: dp_revnat key, 0 = none */
	__u16	flags;			/* CT_F_* */
	__be32	dsr_addr;		/* SERVICE + CT_F_DSR: service frontend */
	__be16	dsr_port;
	__u16	policy_rev;		/* low bits of dp_policy_rev the flow was last allowed under */
	__u8	tcp_state;		/* CT_TCP_* */
	__u8	pad;
	__u16	pad1;
	__u32	backend_id;		/* LB: dp_backends key of the flow's backend */
};

/* dp_snat scopes: the original direction, and the reply as it arrives. */
#define NAT_EGRESS	8
#define NAT_INGRESS	9

#define SNAT_F_HOST	0x0001	/* the node's own connection, port reserved (not translated) */

struct snat_entry {
	__u64	created;
	__be32	to_addr;		/* EGRESS: new source; INGRESS: original source */
	__be16	to_port;
	__u16	flags;			/* SNAT_F_* */
	__u64	last_seen;		/* idle entries expire (include/nat.h) */
};

/*
 * dp_services. Slot 0 is the service itself; slots 1..count hold its
 * backends, so one hash lookup of the flow picks a backend.
 */
#define SVC_F_NODEPORT	0x0001	/* addr 0: any local node address, port in NodePort range */
#define SVC_F_EXTERNAL	0x0002	/* reachable from outside the cluster (LB/externalIP) */
#define SVC_F_DSR	0x0004	/* DSR allowed (ENABLE_DSR) */
#define SVC_F_AFFINITY	0x0008	/* ClientIP session affinity (ENABLE_SESSION_AFFINITY) */

struct svc_key {
	__be32	addr;			/* frontend; 0 for NodePort */
	__be16	dport;
	__u16	slot;
	__u8	proto;
	__u8	pad[3];
};

struct svc_value {
	union {
		__u32	backend_id;	/* slot > 0 */
		__u32	affinity_timeout; /* slot 0 + SVC_F_AFFINITY: seconds */
	};
	__u16	count;			/* slot 0: number of backends */
	__u16	rev_nat_index;		/* slot 0 */
	__u16	flags;			/* slot 0: SVC_F_* */
	__u16	pad;
};

/* dp_backends */
struct backend_key {
	__u32	id;
};

struct backend_value {
	__be32	addr;
	__be16	port;			/* 0 = keep the frontend port */
	__u8	proto;			/* informational: the service key has the protocol */
	__u8	flags;			/* reserved */
};

/* dp_revnat: what a reply's source becomes. addr 0 = cfg_node_ipv4. */
struct revnat_key {
	__u16	index;
	__u16	pad;
};

struct revnat_value {
	__be32	addr;
	__be16	port;
	__u16	pad;
};

/*
 * dp_policy. subject_id is the identity whose policy this is (a local
 * pod's identity, HOST_ID for the host firewall), remote_id the peer.
 * remote_id, dport and proto may be 0 meaning ANY; see policy.h for the
 * lookup order.
 */
#define POLICY_INGRESS	1
#define POLICY_EGRESS	2

struct policy_key {
	__u32	subject_id;
	__u32	remote_id;
	__be16	dport;
	__u8	proto;
	__u8	dir;			/* POLICY_INGRESS / POLICY_EGRESS */
};

struct policy_entry {
	__u8	deny;			/* 0 = allow */
	__u8	pad[3];
};

/* dp_egress_gw: LPM over (source pod /32, destination CIDR). */
struct egw_key {
	__u32	prefixlen;		/* 32 + destination prefix length */
	__be32	saddr;
	__be32	daddr;
};

/*
 * gateway_ip special values, in 0.0.0.0/8 as Cilium has them: no gateway
 * (the policy selects no node: matching traffic is dropped) and an
 * excluded CIDR (a more specific prefix that keeps the ordinary path).
 */
#define EGW_NO_GATEWAY		0
#define EGW_EXCLUDED_CIDR	bpf_htonl(1)

struct egw_value {
	__be32	egress_ip;		/* SNAT source on the gateway */
	__be32	gateway_ip;		/* node doing the SNAT, or EGW_* */
};

/* dp_vtep: keyed by destination & cfg_vtep_mask. */
struct vtep_key {
	__be32	addr;
};

struct vtep_value {
	__be32	tunnel_ep;
	__u32	vni;			/* reserved: frames to a VTEP carry WORLD_ID, as Cilium sends */
	__u8	mac[ETH_ALEN];
	__u8	pad[2];
};

/* dp_nonmasq: ip-masq-agent's non-masquerade CIDRs (key: lpm4_key). */
struct nonmasq_value {
	__u8	present;
	__u8	pad[3];
};

/* dp_throttle: Earliest Departure Time state per endpoint. */
struct throttle_key {
	__u32	ep_id;
};

struct throttle_value {
	__u64	rate_bps;		/* bits per second; 0 = unlimited */
	__u64	t_last;			/* departure time of the last packet, ns */
	__u64	horizon_ns;		/* drop beyond now + horizon; 0 = 2 s */
};

/*
 * Load-balancing state (include/lb.h). dp_maglev is the Maglev lookup
 * table of every service, filled by the control plane: slot
 * hash % cfg_maglev_table_size of service rev_nat_index holds a backend
 * id. dp_affinity remembers a client's backend per service (ClientIP
 * session affinity).
 */
struct maglev_key {
	__u16	rev_nat_index;
	__u16	pad;
	__u32	slot;
};

struct maglev_value {
	__u32	backend_id;
};

struct affinity_key {
	__be32	client;
	__u16	rev_nat_index;
	__u16	pad;
};

struct affinity_value {
	__u64	last_used;		/* bpf_ktime_get_ns() */
	__u32	backend_id;
	__u32	pad;
};

/*
 * dp_frags: the ports of an IPv4 datagram, recorded from its first
 * fragment (the only one with an L4 header) for the later ones (Cilium's
 * IPv4 fragment tracking, on by default there too).
 */
struct frag_key {
	__be32	saddr;
	__be32	daddr;
	__be16	id;
	__u8	proto;
	__u8	pad;
};

struct frag_ports {
	__be16	sport;
	__be16	dport;
};

/*
 * dp_metrics: what one slot counts. The map is an array, so the slot is
 * an index packed from this key (metrics_index in include/metrics.h);
 * readers unpack it (bpf.MetricsKeyAt, whose package also describes this
 * struct, which no map's BTF carries).
 */
struct metrics_key {
	__u8	reason;			/* enum dp_reason */
	__u8	dir;			/* enum dp_dir */
	__u8	hook;			/* enum dp_hook */
	__u8	pad;
};

struct metrics_value {
	__u64	packets;
	__u64	bytes;
};

/* Record written to dp_events for every drop. */
/* dp_event_rate[0]: the drop-event token bucket (include/metrics.h). */
struct event_rate {
	__u64	last_topup;		/* bpf_ktime_get_ns() of the last refill; 0 = full bucket */
	__u64	tokens;
};

struct drop_event {
	__u64	ts;
	__u32	ifindex;
	__u32	len;
	__u32	src_sec_id;
	__u32	cluster_id;
	__be32	saddr;			/* 0 when the packet was not parsed that far */
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	reason;
	__u8	hook;
	__u8	dir;
};

/*
 * dp_trace: the last verdict of a program run, written only when cfg_trace
 * is set (include/trace.h). BPF_PROG_TEST_RUN returns the TC action alone;
 * this makes the redirect target, its kind and the tunnel key visible.
 */
#define TRACE_TO_STACK		1	/* TC_ACT_OK: handed to the stack */
#define TRACE_REDIRECT		2	/* bpf_redirect (egress of ifindex) */
#define TRACE_REDIRECT_PEER	3	/* bpf_redirect_peer (into a pod's netns) */
#define TRACE_REDIRECT_NEIGH	4	/* bpf_redirect_neigh (next hop resolved by the kernel) */
#define TRACE_DROP		5	/* TC_ACT_SHOT */

struct trace_info {
	__u32	ifindex;		/* redirect target; 0 for the stack and drops */
	__u8	kind;			/* TRACE_* */
	__u8	reason;			/* enum dp_reason the run was counted under */
	__u8	hook;			/* enum dp_hook */
	__u8	pkt_type;		/* skb->pkt_type at the end of the run (PACKET_HOST = 0) */
	__be32	tunnel_remote;		/* tunnel key set for the redirect, else 0 */
	__u32	tunnel_id;
	__u32	sec_id;			/* source identity the program used */
};

_Static_assert(sizeof(struct endpoint_info) == 24, "endpoint_info layout");
_Static_assert(sizeof(struct tuple4) == 16, "tuple4 layout");
_Static_assert(sizeof(struct ct_entry) == 40, "ct_entry layout");
_Static_assert(sizeof(struct snat_entry) == 24, "snat_entry layout");
_Static_assert(sizeof(struct drop_event) == 40, "drop_event layout");
_Static_assert(sizeof(struct trace_info) == 20, "trace_info layout");
_Static_assert(sizeof(struct metrics_key) == 4, "metrics_key layout");

/* Sizes: identical in every variant, see the top of this file. */
#define ENDPOINTS_MAP_SIZE	4096
#define IPCACHE_MAP_SIZE	65536
#define CT_MAP_SIZE		65536
#define SERVICES_MAP_SIZE	16384
#define BACKENDS_MAP_SIZE	16384
#define REVNAT_MAP_SIZE		16384
#define SNAT_MAP_SIZE		65536
#define POLICY_MAP_SIZE		16384
#define EGW_MAP_SIZE		1024
#define VTEP_MAP_SIZE		8
#define NONMASQ_MAP_SIZE	1024
#define THROTTLE_MAP_SIZE	4096
#define METRICS_MAP_SIZE	4096	/* 8 bits of reason, 1 of direction, 3 of hook */
#define FRAGS_MAP_SIZE		8192
#define EVENTS_RINGBUF_SIZE	(256 * 1024)
#define TRACE_MAP_SIZE		1
/*
 * Defaults only: a node's loader may set other sizes (manifest node
 * map_sizes, from bpf-ct-global-*-max, bpf-nat-global-max and the Maglev
 * table size) through MapSpec.MaxEntries before creating the maps.
 */
#define MAGLEV_MAP_SIZE		(16381 * 16)
#define AFFINITY_MAP_SIZE	65536

/* Non-static so that every map is emitted even when unused by a variant. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, ENDPOINTS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm4_key);
	__type(value, struct remote_endpoint_info);
	__uint(max_entries, IPCACHE_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tuple4);
	__type(value, struct ct_entry);
	__uint(max_entries, CT_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_conntrack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct svc_key);
	__type(value, struct svc_value);
	__uint(max_entries, SERVICES_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct backend_key);
	__type(value, struct backend_value);
	__uint(max_entries, BACKENDS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct revnat_key);
	__type(value, struct revnat_value);
	__uint(max_entries, REVNAT_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_revnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tuple4);
	__type(value, struct snat_entry);
	__uint(max_entries, SNAT_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_snat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct policy_key);
	__type(value, struct policy_entry);
	__uint(max_entries, POLICY_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct frag_key);
	__type(value, struct frag_ports);
	__uint(max_entries, FRAGS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_frags SEC(".maps");

/*
 * dp_policy_rev[0]: the policy revision. Whoever changes dp_policy or an
 * endpoint's EP_F_ENFORCE_* flags increments it afterwards; established
 * flows then have their policy checked again on their next packet.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_policy_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct egw_key);
	__type(value, struct egw_value);
	__uint(max_entries, EGW_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_egress_gw SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct vtep_key);
	__type(value, struct vtep_value);
	__uint(max_entries, VTEP_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_vtep SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm4_key);
	__type(value, struct nonmasq_value);
	__uint(max_entries, NONMASQ_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_nonmasq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct throttle_key);
	__type(value, struct throttle_value);
	__uint(max_entries, THROTTLE_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_throttle SEC(".maps");

/*
 * Per-CPU: each CPU adds to its own copy without atomics or shared cache
 * lines (Cilium's metrics map is per-CPU too); readers sum the CPUs. An
 * array rather than a hash: every slot exists, so counting is one lookup
 * with no hashing and no insert on first use, and the verifier inlines
 * that lookup (Linux 6.10 and later; before, it is a helper call doing
 * the same bounds check and offset).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);		/* metrics_index(struct metrics_key) */
	__type(value, struct metrics_value);
	__uint(max_entries, METRICS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_metrics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct maglev_key);
	__type(value, struct maglev_value);
	__uint(max_entries, MAGLEV_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct affinity_key);
	__type(value, struct affinity_value);
	__uint(max_entries, AFFINITY_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_affinity SEC(".maps");

/*
 * One bucket for the node, shared by the CPUs: a race between two of them
 * can let an extra event through, never lose a drop (the metrics count it).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct event_rate);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_event_rate SEC(".maps");

/* A plain array: one slot, read without per-CPU folding. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct trace_info);
	__uint(max_entries, TRACE_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_trace SEC(".maps");

#ifdef HAVE_RINGBUF
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RINGBUF_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_events SEC(".maps");
#else
/* max_entries 0: cilium/ebpf sizes it to the possible CPUs at load. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_events SEC(".maps");
#endif

/*
 * ---- IPv6 (include/ipv6.h) -------------------------------------------
 * Address-keyed state of the IPv6 path. Endpoint values, ipcache values
 * and conntrack entries are the IPv4 structs; dp_policy has no address
 * and serves both families.
 */

/* dp_endpoints6: local pod (or host, EP_F_HOST) IPv6 -> endpoint. */
struct endpoint6_key {
	__u8	addr[16];
};

/* dp_ipcache6: LPM trie key. */
struct lpm6_key {
	__u32	prefixlen;
	__u8	addr[16];
};

/* dp_conntrack6: struct tuple4 with 16-byte addresses, same scopes. */
struct tuple6 {
	__u8	saddr[16];
	__u8	daddr[16];
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	scope;			/* CT_EGRESS / CT_INGRESS */
	__u16	pad;
};

/* dp_frags6: an IPv6 datagram by its fragment header's identification. */
struct frag6_key {
	__u8	saddr[16];
	__u8	daddr[16];
	__be32	id;
	__u8	proto;
	__u8	pad[3];
};

_Static_assert(sizeof(struct tuple6) == 40, "tuple6 layout");
_Static_assert(sizeof(struct frag6_key) == 40, "frag6_key layout");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct endpoint6_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, ENDPOINTS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_endpoints6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm6_key);
	__type(value, struct remote_endpoint_info);
	__uint(max_entries, IPCACHE_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_ipcache6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct tuple6);
	__type(value, struct ct_entry);
	__uint(max_entries, CT_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_conntrack6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct frag6_key);
	__type(value, struct frag_ports);
	__uint(max_entries, FRAGS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_frags6 SEC(".maps");

#endif /* DP_MAPS_H */
