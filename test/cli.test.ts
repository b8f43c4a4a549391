// Exit status and output of `pktpath` as a child process: 0 success, 2 bad usage or input with one
// line on stderr (FILE:LINE for a bad capture), and `import --json` on a real recording.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { correlateAll } from "../shared/correlate.ts";
import { fileURLToPath } from "node:url";
import { formatJourney, formatPing } from "../shared/tracepkt.ts";
import { captureText, HEADER, HEADER_CORRELATION, hostToNsEvents, tempDir, writeCapture } from "./support/capture-file.ts";
import { runCli, startServe } from "./support/cli-child.ts";

const tmp = tempDir("pktpath-cli-");
after(() => tmp.remove());
const events = hostToNsEvents();
const good = writeCapture(tmp.dir, "good.ndjson", captureText(events));

/** Exit 2, nothing on stdout, exactly this one line on stderr. */
async function assertUsage(args: string[], line: string): Promise<void> {
  assert.deepEqual(await runCli(args), { code: 2, stdout: "", stderr: line + "\n" }, args.join(" "));
}

test("--help prints the usage and exits 0", async () => {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^usage: pktpath <command> \[flags\]\n/);
  assert.equal(r.stderr, "");
});

test("bad flags: exit 2 and one line naming the flag and value", async () => {
  await assertUsage([], "pktpath: missing command (serve, trace, record or import); see pktpath --help");
  await assertUsage(["serve", "--prot", "1"], "pktpath: serve: unknown flag --prot");
  await assertUsage(["serve", "--port", "http"], 'pktpath: serve: --port "http": expected an integer from 0 to 65535');
  await assertUsage(["trace", "--proto", "sctp"], 'pktpath: trace: --proto "sctp": expected one of icmp-echo, any, icmp, tcp, udp');
  await assertUsage(["serve", "--token", "short"], "pktpath: serve: --token: at least 16 characters");
  await assertUsage(["import", good, "--format", "perf-script"], `${good}:1: not a perf script event line`);
  await assertUsage(["import", good, "--format", "xml"],
    'pktpath: import: --format "xml": expected one of auto, perf-trace, perf-script, tracefs, pktpath');
});

test("import --json prints the Correlator's journeys and pings of the capture", async () => {
  const r = await runCli(["import", good, "--json"]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  const all = correlateAll(events, HEADER_CORRELATION);
  assert.deepEqual(JSON.parse(r.stdout), { journeys: all.journeys, pings: all.pings });
  const out = JSON.parse(r.stdout) as ReturnType<typeof correlateAll>;
  assert.deepEqual(out.pings.map((p) => [p.id, p.status, p.src, p.dst, p.seq, p.rttNs]),
    [[`p-${HEADER_CORRELATION.idPrefix}1`, "complete", "10.231.1.1", "10.231.1.2", 1, 15000], [`p-${HEADER_CORRELATION.idPrefix}2`, "complete", "10.231.1.1", "10.231.1.2", 2, 25000]]);
  assert.equal(r.stdout.split("\n").length, 2, "one line of JSON");
});

test("import without --json prints one tracepkt block per ping, then the journeys no ping claims", async () => {
  const r = await runCli(["import", "--format", "pktpath", good]);
  const all = correlateAll(events, HEADER_CORRELATION);
  const claimed = new Set(all.pings.flatMap((p) => [p.request?.id, p.reply?.id]));
  const unclaimed = all.journeys.filter((j) => !claimed.has(j.id));
  assert.equal(unclaimed.length, 2, "the two IPv6 multicast packets of the recording");
  assert.deepEqual(r, { code: 0, stderr: "",
    stdout: all.pings.map((p) => formatPing(p) + "\n\n").join("") + unclaimed.map((j) => formatJourney(j) + "\n\n").join("") });
});

test("bad capture files: exit 2 with FILE:LINE and what is wrong", async () => {
  const lines = captureText(events.slice(0, 3)).split("\n");
  const cases: [string, string, string][] = [
    ["not-json", [lines[0], lines[1], "{oops", lines[2]].join("\n"), "3: not valid JSON"],
    ["bad-skbaddr", [lines[0], lines[1], JSON.stringify({ event: "netif_rx", tNs: 5, skbaddr: "ffff1" })].join("\n"),
      "3: event.skbaddr: expected 0x-prefixed lowercase hex"],
    ["no-tns", [lines[0], JSON.stringify({ event: "netif_rx", skbaddr: "0x1" })].join("\n"), "2: event.tNs: expected a number"],
    ["no-header", lines.slice(1).join("\n"), '1: not a pktpath capture (line 1 must be {"pktpath":"capture",...})'],
    ["version-2", JSON.stringify({ ...HEADER, version: 2 }), "1: unsupported capture version 2 (expected 1)"],
    ["empty", "", "1: empty file (expected a pktpath capture header)"],
  ];
  for (const [name, text, where] of cases) {
    const file = writeCapture(tmp.dir, `${name}.ndjson`, text);
    await assertUsage(["import", file, "--json"], `${file}:${where}`);
  }
  const missing = `${tmp.dir}/missing.ndjson`;
  await assertUsage(["import", missing], `${missing}: no such file`);
});

test("serve with a bad capture file exits 2 before listening", async () => {
  const file = writeCapture(tmp.dir, "bad-header.ndjson", '{"pktpath":"nope"}\n');
  await assertUsage(["serve", "--port", "0", "--source", file],
    `${file}:1: not a pktpath capture (line 1 must be {"pktpath":"capture",...})`);
});

test("record to a path that cannot be written exits 2 naming it", async () => {
  await assertUsage(["record", "--out", `${tmp.dir}/no/such/dir/cap.ndjson`, "--duration", "1"],
    `pktpath: record: ${tmp.dir}/no/such/dir/cap.ndjson: no such file`);
});

test("serve exits 0 on SIGTERM and on SIGINT", async () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    const s = await startServe(["--source", good]);
    s.child.kill(signal);
    assert.equal(await s.stop(), 0, `${signal}: ${s.stderr()}`);
  }
});

test("serve on a busy port exits 1 with one line", async () => {
  const s = await startServe(["--source", good]);
  try {
    const port = new URL(s.url).port;
    assert.deepEqual(await runCli(["serve", "--port", port, "--source", good]), { code: 1, stdout: "",
      stderr: `pktpath: serve: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n` });
  } finally {
    await s.stop();
  }
});

test("import reads other tools' captures: perf trace (reasons named from this kernel), perf script, tracefs", async () => {
  const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/text/${name}`, import.meta.url));
  const journeysOf = async (args: string[]) => {
    const r = await runCli(["import", ...args, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { journeys: { hops: { ifname: string }[]; dropped?: { reason: string } }[]; pings: unknown[] };
    assert.deepEqual(out.pings, [], "no packet headers in these captures, so no echo pairs");
    return out.journeys.map((j) => `${j.hops.map((h) => h.ifname).join(",")} ${j.dropped?.reason ?? "not dropped"}`);
  };
  const twoPings = ["ppF-h,ppF-n,ppF-h,ppF-n not dropped", "ppF-n,ppF-h,ppF-n,ppF-h NO_SOCKET"];
  assert.deepEqual(await journeysOf([fixture("perf-trace-veth.txt")]), [...twoPings, ...twoPings]);
  assert.deepEqual(await journeysOf(["--format", "perf-script", fixture("perf-script-veth.txt")]), [...twoPings, ...twoPings]);
  assert.deepEqual(await journeysOf([fixture("tracefs-veth-drop.txt")]),
    [...twoPings, ...twoPings, "ppF-h,ppF-n,ppF-h,ppF-n NETFILTER_DROP"]);
  // The seed's command (net:* alone): no frees, addresses reused 0.2 s apart; the hop order splits them.
  const netOnly = await journeysOf([fixture("perf-trace-net-only.txt")]);
  assert.deepEqual([...netOnly].sort(), [...Array<string>(4).fill("ppF-h,ppF-n,ppF-h,ppF-n not dropped"),
    ...Array<string>(4).fill("ppF-n,ppF-h,ppF-n,ppF-h not dropped")]);
});

test("import: a routed path through a forwarding namespace, as perf trace, perf script and tracefs recorded it", async () => {
  const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/text/${name}`, import.meta.url));
  const request = "ppF-a0,ppF-ra,ppF-a0,ppF-ra,ppF-rb,ppF-b0,ppF-rb,ppF-b0 -";
  const reply = "ppF-b0,ppF-rb,ppF-b0,ppF-rb,ppF-ra,ppF-a0,ppF-ra,ppF-a0 NO_SOCKET";
  for (const name of ["perf-trace-routed.txt", "perf-script-routed.txt", "tracefs-routed.txt"]) {
    const r = await runCli(["import", fixture(name), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { journeys: { hops: { ifname: string; tNs: number }[]; dropped?: { reason: string } }[] };
    // The capture also holds neighbour discovery on the script's other veth: the echoes cross ppF-a0…b0.
    const echoes = out.journeys.filter((j) => j.hops.some((h) => h.ifname === "ppF-a0"))
      .sort((x, y) => x.hops[0]!.tNs - y.hops[0]!.tNs)
      .map((j) => `${j.hops.map((h) => h.ifname).join(",")} ${j.dropped?.reason ?? "-"}`);
    assert.deepEqual(echoes, [request, reply, request, reply], name);
  }
});
