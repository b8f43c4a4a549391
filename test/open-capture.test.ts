// The dashboard's "Open capture…" core (shared/importers/openCapture.ts) on the real fixtures, fed as a
// browser would feed it: text chunks cut anywhere, split into lines, correlated as they come.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readCapture } from "../server/capture/file.ts";
import { correlateAll, idPrefixFor, type CorrelatorOptions } from "../shared/correlate.ts";
import { correlatorOptionsFor, openCapture, splitLines, type OpenProgress } from "../shared/importers/openCapture.ts";
import { MAX_LINE_CHARS } from "../shared/importers/captureReader.ts";
import type { RawEvent } from "../shared/types.ts";

const TOPOLOGIES = fileURLToPath(new URL("./fixtures/ebpf/topologies.ndjson", import.meta.url));
const text = (name: string) => fileURLToPath(new URL(`./fixtures/text/${name}`, import.meta.url));

/** The text in chunks of `size` characters: line ends fall inside chunks and between them. */
async function* chunks(all: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
}

const open = (all: string, size = 97, opts = {}) => openCapture(splitLines(chunks(all, size)), opts);

/** What `pktpath import` correlates from the same file: the CLI's reader, then correlateAll. */
async function viaCli(path: string): Promise<ReturnType<typeof correlateAll>> {
  const events: RawEvent[] = [];
  let opts: CorrelatorOptions = {};
  for await (const item of readCapture(path)) {
    assert.ok(item.ok, item.ok ? "" : item.error);
    if (item.value.kind === "event") events.push(item.value.event);
    else opts = correlatorOptionsFor(item.value);
  }
  return correlateAll(events, opts);
}

test("the eBPF topologies capture: five pings, the nft one dropped, as import correlates them", async () => {
  const r = await open(readFileSync(TOPOLOGIES, "utf8"));
  assert.ok(r.ok, r.ok ? "" : r.error);
  const { header, pings, journeys, events, lines } = r.value;
  assert.deepEqual([header.source, header.kernel, events, lines], ["ebpf", "6.18.44-fc-v595", 65, 66]);
  // ids named after the capture's start (its header), as the dashboard that recorded it showed them
  const P = `p-${idPrefixFor(Date.parse(header.startedAt) * 1000)}`;
  assert.deepEqual(pings.map((p) => [p.id, p.status, `${p.src} → ${p.dst}`]), [
    [`${P}1`, "complete", "10.250.0.1 → 10.250.0.2"],
    [`${P}2`, "complete", "10.251.1.2 → 10.251.2.2"],
    [`${P}3`, "complete", "10.252.0.2 → 10.252.0.9"],
    [`${P}4`, "complete", "fd00:250::1 → fd00:250::2"],
    [`${P}5`, "dropped", "10.252.0.3 → 10.252.0.9"],
  ]);
  assert.equal(pings[4]?.request?.dropped?.reason, "NETFILTER_DROP");
  const cli = await viaCli(TOPOLOGIES);
  assert.deepEqual({ journeys, pings }, { journeys: cli.journeys, pings: cli.pings });
});

test("chunk size and CRLF line ends do not change the result", async () => {
  const all = readFileSync(TOPOLOGIES, "utf8");
  const whole = await open(all, all.length);
  for (const [size, input] of [[1, all], [4096, all], [13, all.replaceAll("\n", "\r\n")]] as const) {
    assert.deepEqual(await open(input, size), whole, `chunks of ${size}`);
  }
});

test("text captures of perf trace, perf script and tracefs: journeys, as import correlates them", async () => {
  const expected: Record<string, [string, number, number]> = {
    "perf-trace-veth.txt": ["perf-trace", 22, 4],
    "perf-script-veth.txt": ["perf-script", 22, 4],
    "tracefs-veth-drop.txt": ["tracefs", 61, 5],
  };
  for (const [name, [format, events, journeys]] of Object.entries(expected)) {
    const r = await open(readFileSync(text(name), "utf8"));
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.deepEqual([r.value.header.source, r.value.events, r.value.journeys.length], [format, events, journeys], name);
    // These tools print no packet headers: hops without addresses, so no echo pairs.
    assert.deepEqual(r.value.pings, [], name);
    const cli = await viaCli(text(name));
    assert.deepEqual({ journeys: r.value.journeys, pings: r.value.pings }, { journeys: cli.journeys, pings: cli.pings }, name);
  }
  const drop = (await open(readFileSync(text("tracefs-veth-drop.txt"), "utf8")));
  assert.ok(drop.ok);
  // Two replies freed at ping's socket (NO_SOCKET: delivered), then the request nftables dropped.
  assert.deepEqual(drop.value.journeys.flatMap((j) => (j.dropped ? [j.dropped.reason] : [])), ["NO_SOCKET", "NO_SOCKET", "NETFILTER_DROP"]);
});

test("a bad line ends the read with `LINE: what`, the CLI's message without the file name", async () => {
  const lines = readFileSync(TOPOLOGIES, "utf8").split("\n");
  const cases: [string, string, string][] = [
    ["broken JSON on line 3", [lines[0], lines[1], "{oops", lines[2]].join("\n"), "3: not valid JSON"],
    ["bad event", [lines[0], JSON.stringify({ event: "netif_rx", skbaddr: "0x1" })].join("\n"), "2: event.tNs: expected a number"],
    ["no header", lines.slice(1).join("\n"), '1: not a pktpath capture (line 1 must be {"pktpath":"capture",...})'],
    ["empty", "", "1: empty file (expected a pktpath capture header)"],
    ["not a capture", "hello\nworld\n", "1: not a capture pktpath can read (expected a pktpath capture, perf trace, perf script or tracefs text)"],
    ["overlong line", `${lines[0]}\n${"x".repeat(MAX_LINE_CHARS + 10)}\n${lines[1]}\n`, `2: line longer than ${MAX_LINE_CHARS} characters`],
  ];
  for (const [name, input, error] of cases) assert.deepEqual(await open(input), { ok: false, error }, name);
});

test("progress is reported (and awaited) every N lines, so a page can redraw between batches", async () => {
  const seen: OpenProgress[] = [];
  let resolved = 0;
  const r = await open(readFileSync(TOPOLOGIES, "utf8"), 500, {
    progressEveryLines: 20,
    onProgress: async (p: OpenProgress) => {
      seen.push(p);
      await new Promise((done) => setImmediate(done));
      resolved++;
    },
  });
  assert.ok(r.ok);
  assert.deepEqual(seen.map((p) => p.lines), [20, 40, 60]);
  assert.equal(resolved, 3, "each progress call finished before reading went on");
  assert.deepEqual(seen.map((p) => p.events), [19, 39, 59]);
});

test("splitLines: empty lines kept, last line without newline, CR only before LF", async () => {
  const all: string[] = [];
  for await (const l of splitLines(chunks("a\r\n\nb\rc\nlast", 2))) all.push(l);
  assert.deepEqual(all, ["a", "", "b\rc", "last"]);
});
