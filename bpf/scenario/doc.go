// Package scenario proves a tc datapath object's behaviour packet by packet:
// it reads scenarios from YAML, sets up a loaded object as they say, runs
// their packets with BPF_PROG_TEST_RUN and checks what comes out.
//
// The engine knows nothing of dpforge's own maps: every key, value and
// load-time variable is encoded through the object's BTF, so it works for
// any tc object compiled with -g.
//
// # Vocabulary
//
//   - Scenario: one YAML file. It names a program, the load-time values and
//     map entries to set up, a packet to run, and what must come out
//     (Expect). Steps are further runs against the same loaded object, such
//     as a reply after a request; they share its maps.
//   - Run: one packet through one program: the scenario's own packet, then
//     each step's. [Run] checks, loads and runs a whole scenario and returns a
//     [Result] with one [RunResult] per run.
//   - Condition: which variants a scenario applies to, by their compile-time
//     defines ([Scenario.Applies]).
//   - Pattern: an expected map key or value. Only the fields it lists are
//     compared; a key pattern may match several entries.
//   - Failure: an expectation that did not hold. A failing scenario is a
//     Result with Status Fail, not an error; errors are for scenarios that
//     cannot run ([*Error], with diagnostics), objects the kernel does not
//     load ([*LoadError], with the full verifier log) and kernel failures.
//
// # Format
//
//	name: pod-to-pod-same-node            # letters, digits, '.', '_', '-'
//	description: one line
//	program: cil_from_container           # the program's name in the object
//	applies:                              # optional; all listed must hold
//	  all: [ENABLE_HOST_ROUTING]          # each defined
//	  none: [TUNNEL_MODE]                 # none defined
//	  any: [TUNNEL_PROTOCOL=2, ENABLE_IPV6] # at least one (NAME=VALUE: defined to VALUE)
//	values:                               # load-time variables (volatile const)
//	  cfg_node_ipv4: 192.168.1.10
//	  cfg_node_mac: "02:00:00:00:00:aa"
//	maps:                                 # entries written after loading
//	  dp_endpoints:
//	    - key: {addr: 10.0.1.5}
//	      value: {ifindex: 11, mac: "02:00:00:00:01:05", ep_id: 105}
//	  dp_routes:
//	    - key: 10.0.0.0/8                 # an LPM key {prefixlen, addr} as a prefix
//	      value: {ifindex: 2}
//	packet:                               # a bpf/packet.Packet
//	  eth: {src: "02:00:00:00:01:05", dst: "02:00:00:00:00:aa"}
//	  ipv4: {src: 10.0.1.5, dst: 10.0.2.7}
//	  tcp: {sport: 40000, dport: 80, flags: [syn]}
//	ctx: {ingress_ifindex: 4, mark: 0}    # optional __sk_buff fields, see Ctx
//	expect:
//	  verdict: TC_ACT_REDIRECT            # a TC_ACT_* name or a number
//	  packet:                             # compared with packet.Diff: zero = don't care
//	    ipv4: {ttl: 63, checksum-valid: true}
//	  ctx: {mark: 0x200}                  # fields the kernel copies back
//	  maps:
//	    dp_conntrack:                     # a list: each must match an entry
//	      - key: {daddr: 10.0.2.7, dport: 80}
//	        value: {rev_nat_index: 1}     # listed fields only; no value: must exist
//	    dp_metrics:                       # or a mapping of entries, absent, count
//	      entries:
//	        - {key: {reason: 0, dir: 1}, value: {packets: 1}}
//	      absent:
//	        - {reason: 130}               # key patterns no entry may match
//	      count: 1                        # entries (array maps: non-zero entries)
//	steps:
//	  - name: reply                       # default "step N"
//	    program: cil_to_container         # default: the scenario's
//	    maps: {}                          # entries written before this step
//	    packet: {...}
//	    ctx: {...}
//	    expect: {...}
//
// The top-level packet may be left out when there are steps; maps are then
// written before the first step. Every key is checked: an unknown key is an
// error at every level, with its line and the keys allowed there.
//
// # Encoding
//
// Map keys and values and variables are encoded by their BTF type
// (MapSpec.Key and Value, VariableSpec.Type), in the object's byte order,
// following typedefs and qualifiers:
//
//   - Struct: a mapping of field names; missing fields are zero. Anonymous
//     struct and union members are flattened into their parent. An unknown
//     field is an error listing the fields. Bitfields are supported.
//   - Union: a mapping of member names, written in order; a scalar or list
//     goes to the first member that accepts it (a v4/v6 address union takes
//     "f00d::1" in its __u8[16]).
//   - Integer: a decimal, 0x, 0o or 0b number, negative for signed types,
//     true/false, range-checked for the width (or bitfield width). Enum:
//     an enumerator name or a number.
//   - Byte order: a typedef named __be16, __be32 or __be64 on the chain
//     (the name is what matters) writes the value in network byte order;
//     __le16/32/64 in little-endian. A __be16 port is written as a number.
//   - Addresses: any 4-byte integer (a __be32 in particular) and a __u8[4]
//     take an IPv4 address, stored as on the wire; a __u8[16] an IPv6
//     address; a __u8[6] a MAC "02:00:00:00:00:01".
//   - Arrays: a list of up to N elements (the rest zero). Byte arrays also
//     take hex digits of their exact length, and char arrays text.
//   - LPM trie keys: a struct whose first field is prefixlen takes a prefix
//     "10.0.0.0/8" for the whole key; the address goes to the next field.
//   - Any value: "hex:..." gives its raw bytes, of its exact size. Maps and
//     variables without BTF type information accept only this form.
//
// Decoding is the reverse, for failure messages and listings: __be32 and
// byte arrays of 4, 6 and 16 bytes as addresses and MACs, __be16 as host
// numbers, enums by name, LPM keys as prefixes, all-zero padding fields
// ("pad", "__pad1", ...) left out, unions by their largest member (a byte
// array among equals). Expected values are compared as bytes under the
// mask of the fields listed, so "10.0.1.5", 0x0a000105 and hex:0a000105
// match the same __be32.
//
// Per-CPU maps: an entry written by a scenario goes to every CPU, so the
// program sees it wherever it runs. Read back, integer fields are summed over
// CPUs (not bool, char or explicit __be/__le fields, which come from the
// first CPU), so a counter seeded with N reads back as N times the CPUs.
//
// # Running
//
// Run copies the CollectionSpec, clears map pinning (nothing under
// /sys/fs/bpf is read or written), keeps only the programs the scenario runs
// (and any a program array refers to), sets the values with
// VariableSpec.Set and loads the collection. Map sizes are untouched. Each
// packet runs once with a 192-byte __sk_buff as context, whose copy-back is
// compared with expect.ctx; the output buffer has room for 512 bytes of
// growth.
//
// A [Runner] runs many scenarios against one object with the results of
// Run, but loads each program once per distinct set of the values it reads
// (all loads sharing one set of maps), or, for objects with writable data
// sections or program arrays, once per distinct set of values with every
// program the scenarios run with them; before each further scenario it
// puts every map back into its state right after the load.
//
// # Context
//
// BPF_PROG_TEST_RUN accepts only some __sk_buff fields for tc programs
// (net/bpf/test_run.c): mark, priority, ingress_ifindex, ifindex, cb[0..4],
// tstamp, wire_len, gso_segs, gso_size and, since Linux 5.16, hwtstamp;
// [Ctx] holds exactly those. ifindex must be 0, 1 (loopback, the default) or
// an interface of the caller's network namespace: the packet is received on
// that device. wire_len, when set, must be at least the packet's length.
//
// # Diagnostics
//
// Problems with a scenario are reported as "file:line:col: message [rule]",
// all at once, sorted. Rules: syntax, unknown-key, missing-key, duplicate,
// bad-value, bad-address, out-of-range, unknown-program, unknown-map,
// unknown-field, unknown-variable, unsupported (a map type, data section or
// BTF type the engine cannot handle) and rejected (an entry the kernel
// refused to store). [Parse] checks a scenario on its own; [Check] against
// an object, without loading it (no privileges needed); [Run] does both.
//
// # Limitations
//
// Scenarios read and write hash, array and LPM trie maps and their per-CPU
// and LRU kinds; program arrays, ring buffers, perf event arrays and maps of
// maps are neither set up nor checked. Only tc programs (SchedCLS,
// SchedACT) run. Maps start empty for every scenario: state does not carry
// over between scenarios, only between the steps of one. Packets cannot be
// non-linear, so GSO and fragment lists are out of reach, and a redirect is
// only a verdict: the kernel does not deliver the packet. Helpers that need
// a real device or socket (FIB lookups on interfaces of the test host,
// bpf_redirect_neigh) see the caller's network namespace. YAML merge keys
// ("<<") are not supported in map keys and values.
package scenario
