// SPDX-License-Identifier: GPL-2.0
//
// unverifiable.c reads the packet without a bounds check, so the verifier
// rejects it: the scenario engine must report the verifier log in full.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int unchecked(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;

	return *(__u8 *)(data + 100);
}

char __license[] SEC("license") = "GPL";
