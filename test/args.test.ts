// Flag parsing, table-driven: every command's flags, defaults, and the exact message of each bad usage.
// FILTER: the trailing words joined by spaces, compiled; the shorthands ANDed onto it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgs, type Command } from "../server/args.ts";
import type { CaptureFilter } from "../server/capture/source.ts";
import { buildFilter } from "../shared/filter/index.ts";

/** The CaptureFilter of a canonical expression (compiled as the page would send it back). */
function filter(expression: string): CaptureFilter {
  const built = buildFilter(expression);
  assert.ok(built.ok, built.ok ? "" : built.error);
  assert.equal(built.value.expression, expression, "expected texts are canonical");
  return { expression, program: built.value.program };
}

const ECHO = filter("");

const good: [string, Command][] = [
  ["serve", { cmd: "serve", host: "127.0.0.1", port: 8080, source: "auto", pace: false, filter: ECHO }],
  ["serve --host 0.0.0.0 --port 0 --source ebpf --token abcdefghijklmnop1",
    { cmd: "serve", host: "0.0.0.0", port: 0, source: "ebpf", token: "abcdefghijklmnop1", pace: false, filter: ECHO }],
  ["serve --port=9000 --source=/tmp/x.ndjson", { cmd: "serve", host: "127.0.0.1", port: 9000, source: { file: "/tmp/x.ndjson" }, pace: false, filter: ECHO }],
  ["serve --source /tmp/x.ndjson --pace", { cmd: "serve", host: "127.0.0.1", port: 8080, source: { file: "/tmp/x.ndjson" }, pace: true, filter: ECHO }],
  ["serve --source demo", { cmd: "serve", host: "127.0.0.1", port: 8080, source: "demo", pace: false, filter: ECHO }],
  ["serve --host 0.0.0.0 --port 0 tcp port 443", { cmd: "serve", host: "0.0.0.0", port: 0, source: "auto", pace: false, filter: filter("tcp port 443") }],
  ["serve icmp or udp port 53 --source ebpf", { cmd: "serve", host: "127.0.0.1", port: 8080, source: "ebpf", pace: false, filter: filter("icmp or udp port 53") }],
  ["trace", { cmd: "trace", json: false, filter: ECHO, source: "auto" }],
  ["trace --json --count 3 --duration 2.5 --proto any --host fd00::2 --port 53",
    { cmd: "trace", json: true, count: 3, durationS: 2.5, filter: filter("host fd00::2 and port 53"), source: "auto" }],
  ["trace --source tracefs", { cmd: "trace", json: false, filter: ECHO, source: "tracefs" }],
  ["trace --proto icmp --host 10.0.0.1", { cmd: "trace", json: false, filter: filter("(icmp or icmp6) and host 10.0.0.1"), source: "auto" }],
  ["trace --host 10.0.0.1", { cmd: "trace", json: false, filter: filter("icmp-echo and host 10.0.0.1"), source: "auto" }],
  ["trace --proto any", { cmd: "trace", json: false, filter: filter("ip or ip6"), source: "auto" }],
  ["trace tcp port 443 and host 10.0.0.2", { cmd: "trace", json: false, filter: filter("tcp port 443 and host 10.0.0.2"), source: "auto" }],
  ["trace --json tcp port 80 or 443 --count 1", { cmd: "trace", json: true, count: 1, filter: filter("tcp port 80 or tcp port 443"), source: "auto" }],
  ["trace --proto tcp host 10.0.0.1 or 10.0.0.2", { cmd: "trace", json: false, filter: filter("(host 10.0.0.1 or host 10.0.0.2) and tcp"), source: "auto" }],
  ["trace --port 53 udp", { cmd: "trace", json: false, filter: filter("udp and port 53"), source: "auto" }],
  ["trace -- not port 22", { cmd: "trace", json: false, filter: filter("not port 22"), source: "auto" }],
  ["trace ! tcp", { cmd: "trace", json: false, filter: filter("not tcp"), source: "auto" }],
  ["record --out cap.ndjson", { cmd: "record", out: "cap.ndjson", filter: ECHO, source: "auto" }],
  ["record --duration 1 --out c --proto udp --port 5353",
    { cmd: "record", out: "c", durationS: 1, filter: filter("udp and port 5353"), source: "auto" }],
  ["record --out c not net 10.0.0.0/8", { cmd: "record", out: "c", filter: filter("not net 10.0.0.0/8"), source: "auto" }],
  ["import cap.ndjson", { cmd: "import", file: "cap.ndjson", format: "auto", json: false }],
  ["import --json --format pktpath cap.ndjson", { cmd: "import", file: "cap.ndjson", format: "pktpath", json: true }],
  ["import -- -odd-name", { cmd: "import", file: "-odd-name", format: "auto", json: false }],
  ["--help", { cmd: "help" }],
  ["serve --help", { cmd: "help" }],
  ["help", { cmd: "help" }],
];

test("FILTER may be one argument or several", () => {
  const one = parseArgs(["trace", "tcp port 443 and (host 10.0.0.2 or 10.0.0.3)"]);
  const several = parseArgs(["trace", "tcp", "port", "443", "and", "(host", "10.0.0.2", "or", "10.0.0.3)"]);
  assert.deepEqual(one, several);
  assert.ok(one.ok && one.value.cmd === "trace");
  assert.equal(one.value.filter.expression, "tcp port 443 and (host 10.0.0.2 or host 10.0.0.3)");
});

for (const [line, want] of good) {
  test(`parses: pktpath ${line}`, () => {
    assert.deepEqual(parseArgs(line.split(" ")), { ok: true, value: want });
  });
}

const bad: [string[], string][] = [
  [[], "missing command (serve, trace, record or import); see pktpath --help"],
  [["serv"], 'unknown command "serv" (expected serve, trace, record or import)'],
  [["serve", "--prot", "1"], "serve: unknown flag --prot"],
  [["serve", "-p", "1"], "serve: unknown flag -p"],
  [["serve", "--port"], "serve: --port needs a value"],
  [["serve", "--port", "abc"], 'serve: --port "abc": expected an integer from 0 to 65535'],
  [["serve", "--port", "65536"], 'serve: --port "65536": expected an integer from 0 to 65535'],
  [["serve", "--port", "-1"], 'serve: --port "-1": expected an integer from 0 to 65535'],
  [["serve", "--port", "80", "--port", "81"], "serve: --port given twice"],
  [["serve", "--host", ""], 'serve: --host "": expected a non-empty value'],
  [["serve", "extra"], 'serve: filter: expected host, net, port or proto before "extra" at column 1'],
  [["serve", "--source", "demo", "tcp"], "serve: a FILTER applies to live capture; --source demo replays a recording as it is"],
  [["serve", "--source", "/tmp/x.ndjson", "tcp"], "serve: a FILTER applies to live capture; --source /tmp/x.ndjson replays a recording as it is"],
  [["trace", "tcp", "port"], 'trace: filter: expected a port number after "port" at column 9'],
  [["trace", "tcp port 80 and"], 'trace: filter: expected an expression after "and" at column 16'],
  [["trace", "ether", "host", "00:11:22:33:44:55"], "trace: filter: `ether host` is not supported: pktpath filters IP packets at column 1"],
  [["record", "--out", "x", "host", "example.com"],
    'record: filter: "example.com" is not an IPv4 or IPv6 address (a name would need DNS, which pktpath filters do not use) at column 6'],
  [["trace", "--proto", "icmp", "--port", "53", "tcp"], "trace: --port needs --proto tcp, udp or any (ICMP has no ports)"],
  [["trace", "--proto", "icmp-echo", "--port", "53"], "trace: --port needs --proto tcp, udp or any (ICMP has no ports)"],
  [["trace", `host ${Array.from({ length: 33 }, (_, i) => `10.0.0.${i + 1}`).join(" or ")}`],
    "trace: filter: the filter compiles to 66 instructions; the kernel takes at most 64"],
  [["trace", "--host", "fe80::1%eth0"], 'trace: --host "fe80::1%eth0": expected an IPv4 or IPv6 address'],
  [["trace", "--count", "0"], 'trace: --count "0": expected an integer from 1 to 1000000000'],
  [["trace", "--duration", "soon"], 'trace: --duration "soon": expected a number of seconds > 0'],
  [["trace", "--duration", "0"], 'trace: --duration "0": expected a number of seconds > 0'],
  [["trace", "--proto", "sctp"], 'trace: --proto "sctp": expected one of icmp-echo, any, icmp, tcp, udp'],
  [["trace", "--host", "example.com"], 'trace: --host "example.com": expected an IPv4 or IPv6 address'],
  [["trace", "--port", "0", "--proto", "tcp"], 'trace: --port "0": expected an integer from 1 to 65535'],
  [["trace", "--port", "53"], "trace: --port needs --proto tcp, udp or any (ICMP has no ports)"],
  [["trace", "--json=yes"], "trace: --json takes no value"],
  [["record"], "record: --out FILE is required"],
  [["record", "--out", "x", "--json"], "record: unknown flag --json"],
  [["import"], "import: missing FILE"],
  [["import", "a", "b"], 'import: unexpected argument "b"'],
  [["import", "a", "--format", "pcap"], 'import: --format "pcap": expected one of auto, perf-trace, perf-script, tracefs, pktpath'],
];

for (const [argv, message] of bad) {
  test(`refuses: pktpath ${argv.join(" ")}`, () => {
    assert.deepEqual(parseArgs(argv), { ok: false, error: message });
  });
}
