// Every parser at a boundary, fed mutated real input from a seeded generator: each answers with a
// value or an error, never a throw, and whatever it accepts is well-formed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseTextLine, type TextFormat } from "../shared/importers/textLine.ts";
import { TextCaptureReader } from "../shared/importers/textCapture.ts";
import { parseClientMessage, parseServerMessage } from "../shared/protocol.ts";
import { parsePing, parseRawEvent } from "../shared/validate.ts";
import { parseArgs } from "../server/args.ts";
import { correlateAll } from "../shared/correlate.ts";

/** mulberry32: small, seeded, repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ' "{}[]:,.0123456789abcdefxX-=_/\\\n\t\u0000\u00ffé💥';

function mutate(text: string, rand: () => number): string {
  const chars = [...text];
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * (chars.length + 1));
    const op = rand();
    const c = ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
    if (op < 0.4) chars.splice(at, 1);
    else if (op < 0.7) chars.splice(at, 0, c);
    else if (op < 0.9) chars[at] = c;
    else chars.splice(at, Math.floor(rand() * 20), ...chars.slice(0, Math.floor(rand() * 30)));
  }
  return chars.join("");
}

const fixture = (p: string) => readFileSync(new URL(`./fixtures/${p}`, import.meta.url), "utf8").split("\n").filter(Boolean);
const ROUNDS = 3000;

test("text capture lines: mutated perf trace, perf script and tracefs lines never throw", () => {
  const rand = rng(1);
  const sources: [TextFormat, string[]][] = [
    ["perf-trace", fixture("text/perf-trace-veth.txt")],
    ["perf-script", fixture("text/perf-script-veth.txt")],
    ["tracefs", fixture("text/tracefs-veth-drop.txt")],
  ];
  let accepted = 0;
  for (const [format, lines] of sources) {
    const reader = new TextCaptureReader({ format });
    for (let i = 0; i < ROUNDS; i++) {
      const line = mutate(lines[i % lines.length]!, rand);
      const r = parseTextLine(line, format);
      assert.equal(typeof r.ok, "boolean");
      if (r.ok && r.value) {
        accepted++;
        assert.match(r.value.event.skbaddr, /^0x[0-9a-f]+$/);
        assert.ok(Number.isFinite(r.value.clockNs));
      }
      const pushed = reader.push(line);
      if (pushed.ok) for (const e of pushed.value) assert.ok(e.tNs >= 0);
    }
    reader.end();
  }
  assert.ok(accepted > 100, "mutations that keep a line well-formed are still read");
});

test("capture events, pings and WebSocket messages: mutated JSON never throws", () => {
  const rand = rng(2);
  const events = fixture("ebpf/topologies.ndjson").slice(1);
  const pings = correlateAll(events.map((l) => { const r = parseRawEvent(JSON.parse(l)); assert.ok(r.ok); return r.value; })).pings;
  const pingTexts = pings.map((p) => JSON.stringify(p));
  const wsTexts = ['{"type":"resync","limit":100}', '{"type":"pause","paused":true}',
    JSON.stringify({ type: "pings", pings: pings.slice(0, 2) }), '{"type":"hello","version":1,"stats":{"source":"ebpf","live":true,"events":1,"lost":0,"eventsPerSec":0}}'];
  for (let i = 0; i < ROUNDS; i++) {
    for (const [texts, parse] of [
      [events, (t: string) => parseRawEvent(JSON.parse(t))],
      [pingTexts, (t: string) => parsePing(JSON.parse(t))],
    ] as const) {
      const text = mutate(texts[i % texts.length]!, rand);
      let json: unknown;
      try { json = JSON.parse(text); } catch { continue; }
      assert.equal(typeof parse(JSON.stringify(json)).ok, "boolean");
    }
    const ws = mutate(wsTexts[i % wsTexts.length]!, rand);
    assert.equal(typeof parseClientMessage(ws).ok, "boolean");
    assert.equal(typeof parseServerMessage(ws).ok, "boolean");
  }
});

test("command lines: mutated flags answer with a command or one line of error", () => {
  const rand = rng(3);
  const argvs = [["serve", "--port", "8080", "--source", "demo"], ["trace", "--json", "--count", "3", "--host", "10.0.0.1"],
    ["record", "--out", "x.ndjson", "--duration", "5", "--proto", "udp", "--port", "53"], ["import", "f.txt", "--format", "tracefs"]];
  for (let i = 0; i < ROUNDS; i++) {
    const argv = argvs[i % argvs.length]!.map((a) => (rand() < 0.3 ? mutate(a, rand) : a));
    const r = parseArgs(argv);
    if (!r.ok) assert.ok(!r.error.includes("\n") && r.error.length > 0, r.error);
  }
  // Names that live on every object's prototype are not commands or flags.
  assert.deepEqual(parseArgs(["constructor"]), { ok: false, error: 'unknown command "constructor" (expected serve, trace, record or import)' });
  assert.deepEqual(parseArgs(["serve", "--toString"]), { ok: false, error: "serve: unknown flag --toString" });
  assert.deepEqual(parseArgs(["trace", "--a\nb"]), { ok: false, error: 'trace: unknown flag "--a\\nb"' });
});
