// The FILTER parser on a table of expressions: what it accepts (as the canonical text the page and
// /api/health show) and what it refuses (the exact message and column). pcap-filter's grammar: `and`
// and `or` of equal precedence left to right, `not` binding tightest, a bare value repeating the
// qualifiers before it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse, printExpr } from "../shared/filter/index.ts";

/** [expression, its canonical text] */
const accepted: [string, string][] = [
  ["", ""],
  ["   ", ""],
  ["icmp", "icmp"],
  ["icmp6", "icmp6"],
  ["tcp", "tcp"],
  ["udp", "udp"],
  ["ip", "ip"],
  ["ip6", "ip6"],
  ["icmp-echo", "icmp-echo"],
  // host, with each direction
  ["host 10.0.0.1", "host 10.0.0.1"],
  ["host FD00::0001", "host fd00::1"],
  ["host ::ffff:10.0.0.1", "host ::ffff:a00:1"],
  ["host ::", "host ::"],
  ["host 2001:db8:0:0:1:0:0:1", "host 2001:db8::1:0:0:1"],
  ["host 2001:0:0:1:0:0:0:1", "host 2001:0:0:1::1"],
  ["src host 10.0.0.1", "src host 10.0.0.1"],
  ["dst host fd00::1", "dst host fd00::1"],
  ["src or dst host 10.0.0.1", "host 10.0.0.1"],
  ["dst or src host 10.0.0.1", "host 10.0.0.1"],
  ["src and dst host 10.0.0.1", "src and dst host 10.0.0.1"],
  ["dst and src host 10.0.0.1", "src and dst host 10.0.0.1"],
  ["src 10.0.0.1", "src host 10.0.0.1"],
  ["dst fd00::1", "dst host fd00::1"],
  ["ip host 10.0.0.1", "host 10.0.0.1"],
  ["ip6 src fd00::1", "src host fd00::1"],
  // net: CIDR, abbreviated IPv4 networks, masks
  ["net 10.0.0.0/8", "net 10.0.0.0/8"],
  ["net 10.0.0.0 / 8", "net 10.0.0.0/8"],
  ["src net 192.168.0.0/16", "src net 192.168.0.0/16"],
  ["dst net fd00::/8", "dst net fd00::/8"],
  ["ip6 net fd00::/16", "net fd00::/16"],
  ["net 10", "net 10.0.0.0/8"],
  ["net 10.1", "net 10.1.0.0/16"],
  ["net 10.1.2", "net 10.1.2.0/24"],
  ["net 10.1.2.3", "net 10.1.2.3/32"],
  ["net 10/8", "net 10.0.0.0/8"],
  ["net 192.168.0.0 mask 255.255.0.0", "net 192.168.0.0/16"],
  ["net 10.0.0.0 mask 255.0.255.0", "net 10.0.0.0 mask 255.0.255.0"],
  ["net ::/0", "net ::/0"],
  ["net 0.0.0.0/0", "net 0.0.0.0/0"],
  // ports: pcap's numbers are decimal, 0x hex or 0-octal
  ["port 80", "port 80"],
  ["port 0x50", "port 80"],
  ["port 0120", "port 80"],
  ["port 0", "port 0"],
  ["src port 53", "src port 53"],
  ["dst port 53", "dst port 53"],
  ["tcp port 80", "tcp port 80"],
  ["udp dst port 53", "udp dst port 53"],
  ["tcp src or dst port 80", "tcp port 80"],
  ["udp src and dst port 53", "udp src and dst port 53"],
  ["portrange 6000-6008", "portrange 6000-6008"],
  ["portrange 6008-6000", "portrange 6000-6008"],
  ["portrange 80", "portrange 80-80"],
  ["tcp dst portrange 1-1023", "tcp dst portrange 1-1023"],
  // lengths
  ["less 100", "less 100"],
  ["greater 1500", "greater 1500"],
  ["len <= 100", "less 100"],
  ["len < 100", "less 99"],
  ["len >= 100", "greater 100"],
  ["len > 100", "greater 101"],
  ["len = 100", "greater 100 and less 100"],
  ["len == 100", "greater 100 and less 100"],
  ["len != 100", "not (greater 100 and less 100)"],
  ["length > 10", "greater 11"],
  // proto
  ["ip proto 1", "icmp"],
  ["ip proto 6", "ip proto 6"],
  ["ip6 proto 58", "icmp6"],
  ["proto 47", "proto 47"],
  ["proto 6", "tcp"],
  ["proto \\tcp", "tcp"],
  ["ip proto \\udp", "ip proto 17"],
  ["ip6 proto \\ipv6-icmp", "icmp6"],
  // operators and precedence
  ["tcp and port 80", "tcp and port 80"],
  ["tcp && port 80", "tcp and port 80"],
  ["tcp or udp", "tcp or udp"],
  ["tcp || udp", "tcp or udp"],
  ["not tcp", "not tcp"],
  ["! tcp", "not tcp"],
  ["!tcp", "not tcp"],
  ["not not tcp", "not not tcp"],
  ["tcp and not port 22", "tcp and not port 22"],
  ["tcp or udp and port 53", "(tcp or udp) and port 53"],
  ["tcp or (udp and port 53)", "tcp or (udp and port 53)"],
  ["(tcp or udp) and port 53", "(tcp or udp) and port 53"],
  ["not (tcp or udp)", "not (tcp or udp)"],
  ["not tcp or udp", "not tcp or udp"],
  ["((tcp))", "tcp"],
  ["tcp and (udp and icmp)", "tcp and udp and icmp"],
  ["icmp or icmp6 or tcp dst port 443", "icmp or icmp6 or tcp dst port 443"],
  ["tcp port 443 and host 10.0.0.2", "tcp port 443 and host 10.0.0.2"],
  ["icmp or udp port 53", "icmp or udp port 53"],
  ["not net 10.0.0.0/8", "not net 10.0.0.0/8"],
  ["ip and ip6", "ip and ip6"],
  // a bare value repeats the qualifiers before it (not the `not`)
  ["host 10.0.0.1 or 10.0.0.2", "host 10.0.0.1 or host 10.0.0.2"],
  ["host 10.0.0.1 or 10.0.0.2 or 10.0.0.3", "host 10.0.0.1 or host 10.0.0.2 or host 10.0.0.3"],
  ["tcp port 80 or 443", "tcp port 80 or tcp port 443"],
  ["tcp dst port 80 or 443 and host 10.0.0.1", "(tcp dst port 80 or tcp dst port 443) and host 10.0.0.1"],
  ["port 80 and not 443", "port 80 and not port 443"],
  ["not host 10.0.0.1 and 10.0.0.2", "not host 10.0.0.1 and host 10.0.0.2"],
  ["src net 10.0.0.0/8 or 172.16", "src net 10.0.0.0/8 or src net 172.16.0.0/16"],
  ["host 10.0.0.1 and (10.0.0.2 or 10.0.0.3)", "host 10.0.0.1 and (host 10.0.0.2 or host 10.0.0.3)"],
  ["host 10.0.0.1 and not (10.0.0.2 or 10.0.0.3)", "host 10.0.0.1 and not (host 10.0.0.2 or host 10.0.0.3)"],
  ["host 10.0.0.1 and (10.0.0.2)", "host 10.0.0.1 and host 10.0.0.2"],
  // a parenthesised expression hands on the qualifiers in force before its "("
  ["port 80 and (tcp) or 443", "(port 80 and tcp) or port 443"],
];

for (const [text, canonical] of accepted) {
  test(`accepts ${JSON.stringify(text)}`, () => {
    const r = parse(text);
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.equal(printExpr(r.value), canonical);
    // the canonical text is a fixed point
    const again = parse(canonical);
    assert.ok(again.ok, again.ok ? "" : again.error);
    assert.equal(printExpr(again.value), canonical);
  });
}

/** [expression, the error line] */
const refused: [string, string][] = [
  // link layer and other non-IP protocols: named, never taken for a host name
  ["ether host 00:11:22:33:44:55", "`ether host` is not supported: pktpath filters IP packets at column 1"],
  ["ether src 00:11:22:33:44:55", "`ether src` is not supported: pktpath filters IP packets at column 1"],
  ["ether proto 0x800", "`ether proto` is not supported: pktpath filters IP packets at column 1"],
  ["tcp or ether", "`ether` is not supported: pktpath filters IP packets at column 8"],
  ["arp", "`arp` is not supported: pktpath filters IP packets at column 1"],
  ["vlan 100 and tcp", "`vlan` is not supported: pktpath filters IP packets at column 1"],
  ["mpls", "`mpls` is not supported: pktpath filters IP packets at column 1"],
  ["decnet host 10.15", "`decnet host` is not supported: pktpath filters IP packets at column 1"],
  ["ether broadcast", "`ether broadcast` is not supported: pktpath filters IP packets at column 1"],
  ["wlan addr1 00:11:22:33:44:55", "`wlan` is not supported: pktpath filters IP packets at column 1"],
  ["type mgt", "`type` is not supported: 802.11 frame fields: pktpath filters IP packets at column 1"],
  ["on eth0", "`on` is not supported: pflog fields: pktpath filters IP packets at column 1"],
  ["vxlan", "`vxlan` is not supported: pktpath filters IP packets, and matches the inner header of a tunnel, then the outer one, by itself at column 1"],
  // byte offsets and arithmetic
  ["tcp[13] & 2 != 0", "`tcp[…]` byte offsets are not supported: pktpath filters on header fields at column 1"],
  ["tcp[tcpflags] & tcp-syn != 0", "`tcp[…]` byte offsets are not supported: pktpath filters on header fields at column 1"],
  ["ip[0] & 0xf != 5", "`ip[…]` byte offsets are not supported: pktpath filters on header fields at column 1"],
  ["icmp[icmptype] == icmp-echo", "`icmp[…]` byte offsets are not supported: pktpath filters on header fields at column 1"],
  ["len - 14 > 100", 'arithmetic on "len" is not supported: compare it with a number (len >= 100) at column 5'],
  ["len > 100 + 1", "arithmetic is not supported: compare len with a number at column 11"],
  ["100 < len", 'comparisons are supported as "len OP N" only at column 1'],
  ["len < 0", '"len < 0" never holds at column 5'],
  ["len > 4294967295", '"len > 4294967295" never holds at column 5'],
  // directions, interfaces, link-layer lookups
  ["inbound", "`inbound` is not supported: a packet's path crosses several interfaces, in and out at column 1"],
  ["ifindex 3", "`ifindex` is not supported: a packet's path crosses several interfaces, in and out at column 1"],
  ["gateway snow", "`gateway` is not supported: it needs a host's Ethernet address (/etc/ethers) at column 1"],
  ["ip gateway snow", "`ip gateway` is not supported: it needs a host's Ethernet address (/etc/ethers) at column 4"],
  ["ip broadcast", "`ip broadcast` is not supported: it needs the link layer or the netmask at column 4"],
  ["ip6 multicast", "`ip6 multicast` is not supported: write `dst net 224.0.0.0/4` or `dst net ff00::/8` at column 5"],
  ["ip6 protochain 6", "`ip6 protochain` is not supported: write `proto N`, which follows IPv6 extension headers at column 5"],
  // IP protocols pktpath has no primitive for
  ["sctp", "`sctp` is not supported: write `proto 132` (pktpath reads the ports of TCP and UDP only) at column 1"],
  ["sctp port 80", "`sctp port` is not supported: write `proto 132` (pktpath reads the ports of TCP and UDP only) at column 1"],
  ["igmp", "`igmp` is not supported: write `ip proto 2` at column 1"],
  ["esp", "`esp` is not supported: write `proto 50` at column 1"],
  // names that need DNS or /etc/services
  ["host example.com", '"example.com" is not an IPv4 or IPv6 address (a name would need DNS, which pktpath filters do not use) at column 6'],
  ["tcp and dst foo", '"foo" is not an IPv4 or IPv6 address (a name would need DNS, which pktpath filters do not use) at column 13'],
  ["net foo", '"foo" is not a network address (a name would need DNS, which pktpath filters do not use) at column 5'],
  ["port http", 'port names ("http") are not supported: give the number at column 6'],
  ["tcp port domain", 'port names ("domain") are not supported: give the number at column 10'],
  ["portrange ftp-data", 'port names ("ftp-data") are not supported: give the number at column 11'],
  ["host \\tcp", '"tcp" is not an IPv4 or IPv6 address (a name would need DNS, which pktpath filters do not use) at column 6'],
  // what was expected, and where
  ["host", 'expected a host address after "host" at column 5'],
  ["host ", 'expected a host address after "host" at column 6'],
  ["host and tcp", 'expected a host address after "host", not "and" at column 6'],
  ["host 10.0.0.1 and", 'expected an expression after "and" at column 18'],
  ["not", 'expected an expression after "not" at column 4'],
  ["(", 'expected an expression after "(" at column 2'],
  ["(tcp", 'expected ")" for the "(" in column 1 at column 5'],
  ["tcp or (udp", 'expected ")" for the "(" in column 8 at column 12'],
  ["(tcp udp)", 'expected "and", "or" or ")" before "udp" at column 6'],
  ["tcp)", 'unexpected ")" (no "(" to close) at column 4'],
  ["tcp udp", 'expected "and" or "or" before "udp" at column 5'],
  ["tcp port 80 443", 'expected "and" or "or" before "443" at column 13'],
  ["tcp port", 'expected a port number after "port" at column 9'],
  ["tcp and and udp", 'expected a primitive (host, net, port, portrange, proto, tcp, udp, icmp, icmp6, ip, ip6, less, greater) after "and", not "and" at column 9'],
  [")", 'expected a primitive (host, net, port, portrange, proto, tcp, udp, icmp, icmp6, ip, ip6, less, greater), not ")" at column 1'],
  ["()", 'expected a primitive (host, net, port, portrange, proto, tcp, udp, icmp, icmp6, ip, ip6, less, greater) after "(", not ")" at column 2'],
  ["TCP", 'unknown word "TCP" (pcap-filter\'s keywords are lower case: tcp) at column 1'],
  ["src or 10.0.0.1", 'expected an address after "src", not "or" at column 5'],
  ["mask 255.0.0.0", '"mask" follows a network address (net 10.0.0.0 mask 255.0.0.0) at column 1'],
  ["len 100", 'expected a comparison (<, <=, >, >=, ==, !=) after "len", not "100" at column 5'],
  ["less foo", 'expected a length in bytes after "less", not "foo" at column 6'],
  ["less 4294967296", 'expected a length in bytes after "less", not "4294967296" at column 6'],
  // a bare value with no qualifiers to repeat
  ["10.0.0.1", 'expected host, net, port or proto before "10.0.0.1" at column 1'],
  ["tcp or 10.0.0.1", 'expected host, net, port or proto before "10.0.0.1" at column 8'],
  ["tcp and (80)", 'expected host, net, port or proto before "80" at column 10'],
  ["(host 10.0.0.1) or 10.0.0.2", 'expected host, net, port or proto before "10.0.0.2" at column 20'],
  ["host 10.0.0.1 and (10.0.0.2 or tcp)", 'expected a host address after "or", not "tcp" at column 32'],
  // values
  ["port 65536", "port 65536 is more than 65535 at column 6"],
  ["port 08", '"08" is not a number (a leading 0 means octal) at column 6'],
  ["port -1", 'expected a port number after "port", not "-" at column 6'],
  ["port 80-90", '"80-90" is a range: write portrange 80-90 at column 6'],
  ["portrange 80-", 'expected a port range (LOW-HIGH), not "80-" at column 11'],
  ["net 10.0.0.1/8", '"10.0.0.1/8" has bits set outside its network part (a host is written host ADDR) at column 5'],
  ["net fd00::1/8", '"fd00::1/8" has bits set outside its network part (a host is written host ADDR) at column 5'],
  ["net 192.168.1.0 mask 255.255.0.0", '"192.168.1.0 mask 255.255.0.0" has bits set outside its network part (a host is written host ADDR) at column 5'],
  ["net 10.0.0.0/33", "prefix length 33 is more than 32 at column 14"],
  ["net fd00::/129", "prefix length 129 is more than 128 at column 12"],
  ["net fd00:: mask ffff::", '"mask" takes IPv4 networks: write fd00::/N at column 12'],
  ["net 10.0.0.0 mask fd00::", 'expected an IPv4 netmask after "mask" at column 19'],
  ["net 10.0.0.0/", 'expected a prefix length after "10.0.0.0/" at column 14'],
  ["host 10.0.0.0/8", '"host" takes one address: a prefix is written net 10.0.0.0/N at column 14'],
  ["src 10.0.0.0/8", '"src" takes one address: a prefix is written net 10.0.0.0/N at column 13'],
  ["host 10.1", '"10.1" is not a whole address: a network is written net 10.1 at column 6'],
  ["host 1.2.3.256", '"1.2.3.256" is not an IPv4 or IPv6 address at column 6'],
  ["host fd00:::1", '"fd00:::1" is not an IPv4 or IPv6 address at column 6'],
  ["host fe80::1%eth0", "scoped addresses (fe80::1%…) are not supported: give the address alone at column 13"],
  ["ip proto 256", "protocol 256 is more than 255 at column 10"],
  ["ip proto tcp", 'expected a protocol number after "proto", not "tcp" at column 10'],
  ["proto foo", 'expected a protocol number after "proto", not "foo" (a name is written \\tcp) at column 7'],
  ["proto \\foo", 'unknown protocol name "\\foo" (known: \\icmp, \\tcp, \\udp, \\ipv6-icmp) at column 7'],
  // qualifier lists pcap refuses
  ["ip host fd00::1", '"ip host" takes an IPv4 address, not fd00::1 at column 9'],
  ["ip6 net 10.0.0.0/8", '"ip6 net" takes an IPv6 address, not 10.0.0.0 at column 9'],
  ["tcp host 10.0.0.1", '"tcp host" is not valid: host takes ip or ip6 before it, or no protocol at column 1'],
  ["tcp src 10.0.0.1", '"tcp src" is not valid: host takes ip or ip6 before it, or no protocol at column 1'],
  ["ip port 80", '"ip port" is not valid: port takes tcp or udp before it, or no protocol at column 1'],
  ["icmp6 dst port 3", '"icmp6 dst port" is not valid: port takes tcp or udp before it, or no protocol at column 1'],
  ["tcp proto 6", '"tcp proto" is not valid: proto takes ip or ip6 before it, or no protocol at column 1'],
  ["src proto 6", '"proto" takes no direction: write proto N at column 5'],
  // characters pcap-filter has no use for
  ['host "10.0.0.1"', 'unexpected character """ at column 6'],
  ["tcp ; udp", 'unexpected character ";" at column 5'],
  ["tcp é", 'unexpected character "é" at column 5'],
  ["\\", 'expected a name after "\\" at column 2'],
];

for (const [text, line] of refused) {
  test(`refuses ${JSON.stringify(text)}`, () => {
    const r = parse(text);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error, line);
    const column = Number(/ at column (\d+)$/.exec(line)?.[1]);
    assert.deepEqual([r.message, r.column], [line.slice(0, -` at column ${column}`.length), column]);
  });
}
