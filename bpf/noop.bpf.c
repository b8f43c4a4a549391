// SPDX-License-Identifier: GPL-2.0
/* The cost of merely attaching where pktpath attaches (tracepoints and netfilter hooks): the flood bench's baseline (bench/flood.ts). */
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
SEC("tp_btf/neigh_event_send_done") int noop_neigh_event_send_done(void *ctx) { return 0; }
/* At the netfilter hooks where pktpath's observers go (bench/flood.ts places them alike): accept. */
SEC("netfilter") int noop_nf_enter(void *ctx) { return 1; }
SEC("netfilter") int noop_nf_after(void *ctx) { return 1; }
