// SPDX-License-Identifier: GPL-2.0
/*
 * hyperplane-emu fabric fast path (issue 20): a tc ingress (direct-action)
 * program on every fabric-side veth. Python decides every flow; once a flow is
 * established it installs both directions into he_flows and this program
 * rewrites (MACs, TTL, optional stateless NAT) and redirects matching packets
 * into the receiver's namespace with bpf_redirect_peer. Anything it cannot or
 * must not handle returns TC_ACT_OK: the AF_PACKET slow path gets it.
 *
 * Build: python -m hyperplane_emu.fabric.ebpf.build
 * The struct layouts are mirrored in layout.py (tests/unit/test_ebpf_layout.py).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_FLOWS_DEFAULT 65536 /* Python sets the real size before load */

/* Key: the packet as it arrives on a fabric-side veth. 20 bytes. */
struct he_flow_key {
	__u32 ifindex;      /* ingress ifindex (fabric side) */
	__u8 proto;         /* HE_PROTO_TCP / HE_PROTO_UDP */
	__u8 pad[3];        /* zero */
	__u8 tuple[12];     /* saddr, daddr, sport, dport as on the wire */
};

/* Value: the rewrite, the egress, and counters the program keeps. 64 bytes. */
struct he_flow_val {
	__u8 rmac[6];       /* the router MAC the sender addresses */
	__u8 l2[12];        /* new dst MAC, new src MAC */
	__u8 nat;           /* 1: rewrite the tuple to nat_tuple */
	__u8 pad0;
	__u8 nat_tuple[12]; /* new saddr, daddr, sport, dport (wire order) */
	__u32 out_ifindex;  /* fabric-side veth of the receiver */
	__u32 tcp_flags_seen; /* OR of TCP flag bytes seen (incl. passed FIN/RST) */
	__u64 packets;      /* wire packets (GSO segments counted) */
	__u64 bytes;        /* IP bytes of those packets */
	__u64 last_ns;      /* bpf_ktime_get_ns() of the last forwarded packet */
};

_Static_assert(sizeof(struct he_flow_key) == 20, "he_flow_key layout");
_Static_assert(sizeof(struct he_flow_val) == 64, "he_flow_val layout");

enum he_stat {
	HE_STAT_FORWARDED = 0,
	HE_STAT_MISS = 1,
	HE_STAT_PASS_FLAGS = 2,
	HE_STAT_PASS_OTHER = 3,
	HE_STAT_DISABLED = 4,
	HE_STAT_MAX = 5,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* Allocated per entry, not up front: sized for 1M flows, a fabric with a few
	 * thousand uses a few hundred KB of kernel memory, not ~140 MB. A full map
	 * still refuses an update with E2BIG. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_FLOWS_DEFAULT);
	__type(key, struct he_flow_key);
	__type(value, struct he_flow_val);
} he_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} he_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} he_stats SEC(".maps");

#define IP_OFF ETH_HLEN
#define IP_CSUM_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, check))
#define IP_TTL_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, ttl))
#define IP_SADDR_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, saddr))
#define L4_OFF (ETH_HLEN + sizeof(struct iphdr))
#define TCP_CSUM_OFF (L4_OFF + __builtin_offsetof(struct tcphdr, check))
#define UDP_CSUM_OFF (L4_OFF + __builtin_offsetof(struct udphdr, check))
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define PACKET_HOST 0
#define HE_PROTO_TCP 6 /* linux/in.h is not among our headers */
#define HE_PROTO_UDP 17

static __always_inline int count(__u32 which, int verdict)
{
	__u64 *c = bpf_map_lookup_elem(&he_stats, &which);

	if (c)
		*c += 1; /* per-CPU: no atomics needed */
	return verdict;
}

/* One's-complement sum of the 20-byte IPv4 header; 0xffff when valid. */
static __always_inline __u16 ip_sum_ok(const __u16 *w)
{
	__u32 s = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		s += w[i];
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	int diff = 0;

#pragma unroll
	for (int i = 0; i < ETH_ALEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

SEC("tc")
int he_fastpath(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *enabled = bpf_map_lookup_elem(&he_config, &zero);

	if (!enabled || !*enabled)
		return count(HE_STAT_DISABLED, TC_ACT_OK);
	if (skb->vlan_present || skb->protocol != bpf_htons(ETH_P_IP))
		return count(HE_STAT_PASS_OTHER, TC_ACT_OK);

	/* Ethernet + IPv4 (IHL=5) + the fixed TCP header must be linear. */
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	if (data + L4_OFF + sizeof(struct tcphdr) > data_end) {
		if (bpf_skb_pull_data(skb, L4_OFF + sizeof(struct tcphdr)) < 0 &&
		    bpf_skb_pull_data(skb, L4_OFF + sizeof(struct udphdr)) < 0)
			return count(HE_STAT_PASS_OTHER, TC_ACT_OK);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	struct ethhdr *eth = data;
	struct iphdr *iph = data + ETH_HLEN;
	if ((void *)(iph + 1) > data_end)
		return count(HE_STAT_PASS_OTHER, TC_ACT_OK);
	if (eth->h_proto != bpf_htons(ETH_P_IP) || iph->version != 4 || iph->ihl != 5 ||
	    (iph->frag_off & bpf_htons(0x3fff)) || iph->ttl <= 1 ||
	    !ip_sum_ok((const __u16 *)iph))
		return count(HE_STAT_PASS_OTHER, TC_ACT_OK);

	__u8 proto = iph->protocol;
	__u32 l4_hdr;
	__u8 flags = 0;
	__u32 csum_off;
	__u64 mangled0 = 0;
	if (proto == HE_PROTO_TCP) {
		struct tcphdr *th = data + L4_OFF;
		if ((void *)(th + 1) > data_end)
			return count(HE_STAT_PASS_OTHER, TC_ACT_OK);
		flags = ((__u8 *)th)[13];
		l4_hdr = th->doff * 4;
		csum_off = TCP_CSUM_OFF;
	} else if (proto == HE_PROTO_UDP) {
		struct udphdr *uh = data + L4_OFF;
		if ((void *)(uh + 1) > data_end)
			return count(HE_STAT_PASS_OTHER, TC_ACT_OK);
		l4_hdr = sizeof(struct udphdr);
		csum_off = UDP_CSUM_OFF;
		mangled0 = BPF_F_MARK_MANGLED_0; /* a zero UDP checksum stays zero */
	} else {
		return count(HE_STAT_PASS_OTHER, TC_ACT_OK);
	}

	struct he_flow_key key = {};
	key.ifindex = skb->ingress_ifindex;
	key.proto = proto;
	__builtin_memcpy(key.tuple, &iph->saddr, 8);
	__builtin_memcpy(key.tuple + 8, data + L4_OFF, 4);
	struct he_flow_val *v = bpf_map_lookup_elem(&he_flows, &key);

	if (flags & (TCP_FLAG_SYN | TCP_FLAG_FIN | TCP_FLAG_RST)) {
		/* Conntrack must see these: Python gets them; Python can read the bits. */
		if (v)
			__sync_fetch_and_or(&v->tcp_flags_seen, flags);
		return count(HE_STAT_PASS_FLAGS, TC_ACT_OK);
	}
	if (!v)
		return count(HE_STAT_MISS, TC_ACT_OK);
	if (!mac_eq(eth->h_dest, v->rmac))
		return count(HE_STAT_PASS_OTHER, TC_ACT_OK);

	/* Everything needed from the packet, before helpers invalidate pointers. */
	__u16 old_ttl_word = *(__u16 *)&iph->ttl;
	__u8 new_ttl = iph->ttl - 1;
	__u32 old_addr[2], old_ports;
	__builtin_memcpy(old_addr, &iph->saddr, 8);
	__builtin_memcpy(&old_ports, data + L4_OFF, 4);
	__u32 segs = skb->gso_segs ? skb->gso_segs : 1;
	__u64 bytes = (__u64)(skb->len - ETH_HLEN) +
		      (__u64)(segs - 1) * (sizeof(struct iphdr) + l4_hdr);

	if (bpf_skb_store_bytes(skb, 0, v->l2, 12, 0) < 0)
		return count(HE_STAT_PASS_OTHER, TC_ACT_OK);

	/* TTL: a router decrements it (the IP checksum follows). */
	__u16 new_ttl_word = old_ttl_word;
	*(__u8 *)&new_ttl_word = new_ttl;
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ttl_word, new_ttl_word, 2);
	bpf_skb_store_bytes(skb, IP_TTL_OFF, &new_ttl, 1, 0);

	if (v->nat) {
		__u32 new_addr[2], new_ports;
		__builtin_memcpy(new_addr, v->nat_tuple, 8);
		__builtin_memcpy(&new_ports, v->nat_tuple + 8, 4);
#pragma unroll
		for (int i = 0; i < 2; i++) {
			if (old_addr[i] == new_addr[i])
				continue;
			bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_addr[i], new_addr[i], 4);
			bpf_l4_csum_replace(skb, csum_off, old_addr[i], new_addr[i],
					    BPF_F_PSEUDO_HDR | mangled0 | 4);
		}
		if (old_ports != new_ports) {
			__u16 op[2], np[2];
			__builtin_memcpy(op, &old_ports, 4);
			__builtin_memcpy(np, &new_ports, 4);
#pragma unroll
			for (int i = 0; i < 2; i++)
				if (op[i] != np[i])
					bpf_l4_csum_replace(skb, csum_off, op[i], np[i],
							    mangled0 | 2);
		}
		bpf_skb_store_bytes(skb, IP_SADDR_OFF, new_addr, 8, 0);
		bpf_skb_store_bytes(skb, L4_OFF, &new_ports, 4, 0);
	}

	__sync_fetch_and_add(&v->packets, segs);
	__sync_fetch_and_add(&v->bytes, bytes);
	v->last_ns = bpf_ktime_get_ns();
	if (flags && (v->tcp_flags_seen & flags) != flags)
		__sync_fetch_and_or(&v->tcp_flags_seen, flags);

	/* The frame may have been addressed to a MAC that is not this veth's. */
	bpf_skb_change_type(skb, PACKET_HOST);
	count(HE_STAT_FORWARDED, 0);
	return bpf_redirect_peer(v->out_ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
