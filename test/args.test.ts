// Flag parsing, table-driven: every command's flags, defaults, and the exact message of each bad usage.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgs, type Command } from "../server/args.ts";

const good: [string, Command][] = [
  ["serve", { cmd: "serve", host: "127.0.0.1", port: 8080, source: "auto", pace: false }],
  ["serve --host 0.0.0.0 --port 0 --source ebpf --token abcdefghijklmnop1",
    { cmd: "serve", host: "0.0.0.0", port: 0, source: "ebpf", token: "abcdefghijklmnop1", pace: false }],
  ["serve --port=9000 --source=/tmp/x.ndjson", { cmd: "serve", host: "127.0.0.1", port: 9000, source: { file: "/tmp/x.ndjson" }, pace: false }],
  ["serve --source /tmp/x.ndjson --pace", { cmd: "serve", host: "127.0.0.1", port: 8080, source: { file: "/tmp/x.ndjson" }, pace: true }],
  ["serve --source demo", { cmd: "serve", host: "127.0.0.1", port: 8080, source: "demo", pace: false }],
  ["trace", { cmd: "trace", json: false, filter: { proto: "icmp-echo" }, source: "auto" }],
  ["trace --json --count 3 --duration 2.5 --proto any --host fd00::2 --port 53",
    { cmd: "trace", json: true, count: 3, durationS: 2.5, filter: { proto: "any", host: "fd00::2", port: 53 }, source: "auto" }],
  ["trace --source tracefs", { cmd: "trace", json: false, filter: { proto: "icmp-echo" }, source: "tracefs" }],
  ["trace --proto icmp --host 10.0.0.1", { cmd: "trace", json: false, filter: { proto: "icmp", host: "10.0.0.1" }, source: "auto" }],
  ["record --out cap.ndjson", { cmd: "record", out: "cap.ndjson", filter: { proto: "icmp-echo" }, source: "auto" }],
  ["record --duration 1 --out c --proto udp --port 5353",
    { cmd: "record", out: "c", durationS: 1, filter: { proto: "udp", port: 5353 }, source: "auto" }],
  ["import cap.ndjson", { cmd: "import", file: "cap.ndjson", format: "auto", json: false }],
  ["import --json --format pktpath cap.ndjson", { cmd: "import", file: "cap.ndjson", format: "pktpath", json: true }],
  ["import -- -odd-name", { cmd: "import", file: "-odd-name", format: "auto", json: false }],
  ["--help", { cmd: "help" }],
  ["serve --help", { cmd: "help" }],
  ["help", { cmd: "help" }],
];

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
  [["serve", "extra"], 'serve: unexpected argument "extra"'],
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
