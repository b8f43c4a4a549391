// SPDX-License-Identifier: GPL-2.0
/* The cost of merely attaching to pktpath's tracepoints: the flood bench's baseline (bench/flood.ts). */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/net_dev_queue") int noop_net_dev_queue(void *ctx) { return 0; }
SEC("tp_btf/net_dev_xmit") int noop_net_dev_xmit(void *ctx) { return 0; }
SEC("tp_btf/netif_rx") int noop_netif_rx(void *ctx) { return 0; }
SEC("tp_btf/netif_receive_skb") int noop_netif_receive_skb(void *ctx) { return 0; }
SEC("tp_btf/napi_gro_receive_entry") int noop_napi_gro_receive_entry(void *ctx) { return 0; }
SEC("tp_btf/kfree_skb") int noop_kfree_skb(void *ctx) { return 0; }
SEC("tp_btf/consume_skb") int noop_consume_skb(void *ctx) { return 0; }
