// Input that is endless, huge or strange, fed to the real CLI: a line without end is refused at the
// limit with exit 2 and one `FILE:LINE:` line, in flat memory; a path with control characters is
// printed escaped wherever it is printed; a UTF-8 byte order mark at the start of a capture is read
// past. The browser's line splitter keeps the same bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_LINE_CHARS } from "../shared/importers/captureReader.ts";
import { openCapture, splitLines } from "../shared/importers/openCapture.ts";
import { captureText, HEADER, hostToNsEvents, tempDir, writeCapture } from "./support/capture-file.ts";
import { runCli, startServe } from "./support/cli-child.ts";
import { runCliPeak } from "./support/rss.ts";

const TOO_LONG = `line longer than ${MAX_LINE_CHARS} characters`;
/** Above what reading a small capture peaks at: the bound on a refused line of any length. */
const SLACK_MIB = 64;

test("import /dev/zero: exit 2 with one FILE:LINE line, in the memory a small file takes", async (t) => {
  const tmp = tempDir("pktpath-endless-");
  t.after(tmp.remove);
  const small = writeCapture(tmp.dir, "small.ndjson", captureText(hostToNsEvents()));
  const rest = await runCliPeak(["import", small, "--json"]);
  assert.equal(rest.code, 0, rest.stderr);
  const endless = await runCliPeak(["import", "/dev/zero"]);
  t.diagnostic(`peak RSS: small capture ${rest.peakMiB.toFixed(0)} MiB, /dev/zero ${endless.peakMiB.toFixed(0)} MiB`);
  assert.deepEqual({ code: endless.code, stdout: endless.stdout, stderr: endless.stderr },
    { code: 2, stdout: "", stderr: `/dev/zero:1: ${TOO_LONG}\n` });
  assert.ok(endless.peakMiB < rest.peakMiB + SLACK_MIB, `peak ${endless.peakMiB.toFixed(0)} MiB`);
});

test("a 200 MB second line: refused as line 2, memory flat", async (t) => {
  const tmp = tempDir("pktpath-endless-");
  t.after(tmp.remove);
  // A header, then a sparse 200 MB run of NULs without a newline: cheap on disk, endless to a reader.
  const path = join(tmp.dir, "long-line.ndjson");
  const fd = openSync(path, "w");
  writeSync(fd, JSON.stringify(HEADER) + "\n");
  writeSync(fd, "x", 200e6);
  closeSync(fd);
  const small = writeCapture(tmp.dir, "small.ndjson", captureText(hostToNsEvents()));
  const rest = await runCliPeak(["import", small, "--json"]);
  const long = await runCliPeak(["import", path]);
  t.diagnostic(`peak RSS: small capture ${rest.peakMiB.toFixed(0)} MiB, 200 MB line ${long.peakMiB.toFixed(0)} MiB`);
  assert.deepEqual({ code: long.code, stdout: long.stdout, stderr: long.stderr },
    { code: 2, stdout: "", stderr: `${path}:2: ${TOO_LONG}\n` });
  assert.ok(long.peakMiB < rest.peakMiB + SLACK_MIB, `peak ${long.peakMiB.toFixed(0)} MiB`);
});

test("serve --source /dev/zero: exit 2 with one FILE:LINE line, before listening", async () => {
  const r = await runCliPeak(["serve", "--port", "0", "--source", "/dev/zero"]);
  assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr },
    { code: 2, stdout: "", stderr: `/dev/zero:1: ${TOO_LONG}\n` });
});

test("the browser's splitter: a line without end comes out at the limit, never whole", async () => {
  const MIB = 1 << 20;
  // One huge chunk (a decoder may hand over that much at once), then more of the same, forever.
  async function* endless(): AsyncGenerator<string> {
    for (;;) yield "a".repeat(MIB);
  }
  const first = await splitLines(endless()).next();
  assert.equal(first.done, false);
  assert.equal(first.value.length, MAX_LINE_CHARS + 1, "cut one character past the limit");
  // Finite: the rest of the long line is passed over, the lines after it still come.
  async function* finite(): AsyncGenerator<string> {
    yield "head\n" + "b".repeat(MIB);
    yield "b".repeat(MIB) + "\r\nnext\r\nlast";
  }
  const lines: string[] = [];
  for await (const l of splitLines(finite())) lines.push(l);
  assert.deepEqual(lines.map((l) => (l.length > 10 ? `${l[0]}×${l.length}` : l)), ["head", `b×${MAX_LINE_CHARS + 1}`, "next", "last"]);
  const opened = await openCapture(splitLines(endless()));
  assert.deepEqual(opened, { ok: false, error: `1: ${TOO_LONG}` });
});

/** A name no terminal should see raw: a newline (splits the line) and an escape sequence (recolours it). */
const NASTY = "bad\nname\u001b[31m";

test("paths are printed escaped: missing, bad, unwritable, and the source a server names", async (t) => {
  const tmp = tempDir("pktpath-paths-");
  t.after(tmp.remove);
  const missing = join(tmp.dir, `${NASTY}.ndjson`);
  assert.deepEqual(await runCli(["import", missing]),
    { code: 2, stdout: "", stderr: `${JSON.stringify(missing)}: no such file\n` });

  const lines = captureText(hostToNsEvents().slice(0, 2)).split("\n");
  const bad = writeCapture(tmp.dir, `${NASTY}-bad.ndjson`, [lines[0], lines[1], "{oops"].join("\n"));
  assert.deepEqual(await runCli(["import", bad]),
    { code: 2, stdout: "", stderr: `${JSON.stringify(bad)}:3: not valid JSON\n` });
  assert.deepEqual(await runCli(["serve", "--port", "0", "--source", join(tmp.dir, NASTY)]),
    { code: 2, stdout: "", stderr: `${JSON.stringify(join(tmp.dir, NASTY))}: no such file\n` });

  const out = join(tmp.dir, NASTY, "cap.ndjson");
  assert.deepEqual(await runCli(["record", "--out", out, "--duration", "1"]),
    { code: 2, stdout: "", stderr: `pktpath: record: ${JSON.stringify(out)}: no such file\n` });

  const good = writeCapture(tmp.dir, `${NASTY}-good.ndjson`, captureText(hostToNsEvents()));
  const serve = await startServe(["--source", good]);
  t.after(() => serve.stop());
  assert.equal(serve.source, JSON.stringify(good));
  assert.equal(serve.stderr(), "");
});

test("a UTF-8 byte order mark before the first line is read past, in pktpath and text captures", async (t) => {
  const tmp = tempDir("pktpath-bom-");
  t.after(tmp.remove);
  const text = captureText(hostToNsEvents());
  const plain = writeCapture(tmp.dir, "plain.ndjson", text);
  const bom = writeCapture(tmp.dir, "bom.ndjson", "\uFEFF" + text);
  const want = await runCli(["import", plain, "--json"]);
  assert.equal(want.code, 0, want.stderr);
  assert.deepEqual(await runCli(["import", bom, "--json"]), want);

  const perf = readFileSync(fileURLToPath(new URL("./fixtures/text/perf-script-veth.txt", import.meta.url)), "utf8");
  const perfPlain = writeCapture(tmp.dir, "perf.txt", perf);
  const perfBom = writeCapture(tmp.dir, "perf-bom.txt", "\uFEFF" + perf);
  const perfWant = await runCli(["import", perfPlain, "--json"]);
  assert.equal(perfWant.code, 0, perfWant.stderr);
  assert.deepEqual(await runCli(["import", perfBom, "--json"]), perfWant);
  assert.deepEqual(await runCli(["import", "--format", "perf-script", perfBom, "--json"]), perfWant);
});
