// A bad FILTER on the command line: `pktpath` as a child exits 2 with one line on stderr naming the
// command, the problem and its column, before any capture starts (no root needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "./support/cli-child.ts";

const cases: [string[], string][] = [
  [["trace", "tcp", "port"], 'pktpath: trace: filter: expected a port number after "port" at column 9'],
  [["trace", "--json", "tcp port 80 or", "--count", "1"], 'pktpath: trace: filter: expected an expression after "or" at column 15'],
  [["record", "--out", "/nonexistent/x.ndjson", "ether", "host", "00:11:22:33:44:55"],
    "pktpath: record: filter: `ether host` is not supported: pktpath filters IP packets at column 1"],
  [["serve", "--port", "0", "tcp[13]", "&", "2", "!=", "0"],
    "pktpath: serve: filter: `tcp[…]` byte offsets are not supported: pktpath filters on header fields at column 1"],
  [["serve", "--port", "0", "--source", "demo", "icmp"], "pktpath: serve: a FILTER applies to live capture; --source demo replays a recording as it is"],
  [["trace", "host", "10.0.0.1", "and", "(10.0.0.2", "or", "tcp)"], 'pktpath: trace: filter: expected a host address after "or", not "tcp" at column 32'],
  [["trace", "--proto", "icmp", "--port", "53"], "pktpath: trace: --port needs --proto tcp, udp or any (ICMP has no ports)"],
];

for (const [args, line] of cases) {
  test(`pktpath ${args.join(" ")}: exit 2, one line`, async () => {
    assert.deepEqual(await runCli(args), { code: 2, stdout: "", stderr: line + "\n" });
  });
}
