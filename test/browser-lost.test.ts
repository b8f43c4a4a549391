// A capture that lost records, in a real Chromium against the real server: a capture file whose
// kernel ring lost the first echo's reply (its records_lost event says so) is read, correlated and
// served; the page tags that ping "records lost" in the list and says in its notes that the
// no-reply is what was left to see. The second echo, clear of the loss, is not tagged.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createFileSource } from "../server/capture/file.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import { RECORDS_LOST } from "../shared/gaps.ts";
import type { RawEvent } from "../shared/types.ts";
import { captureText, hostToNsEvents, tempDir, writeCapture } from "./support/capture-file.ts";
import { openChromium } from "./support/chromium.ts";
import { ROOT, waitFor } from "./support/cli-child.ts";

test("a ping open while records were lost: tagged in the list, said in its notes", { timeout: 60_000 }, async (t) => {
  assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
  const base = hostToNsEvents(0);
  const reply = base.find((e) => e.packet?.icmp?.type === 0)!;
  const second = base.findIndex((e) => e.packet?.icmp?.seq === 2);
  const gone = base.filter((e, i) => i < second && e.skbaddr === reply.skbaddr && e.tNs >= reply.tNs);
  const report: RawEvent = { event: RECORDS_LOST, tNs: gone.at(-1)!.tNs, skbaddr: "0x0", len: gone.length, lostFromNs: gone[0]!.tNs };
  const events = [...base.filter((e) => !gone.includes(e)), report].sort((a, b) => a.tNs - b.tNs);
  const tmp = tempDir("pktpath-lost-");
  t.after(tmp.remove);
  const pipeline = new Pipeline(createFileSource(writeCapture(tmp.dir, "lost.ndjson", captureText(events))));
  await pipeline.start();
  t.after(() => pipeline.stop());
  await waitFor(async () => (pipeline.store.size === 2 ? true : undefined), 10_000, "the capture's two pings");
  const [first, other] = pipeline.store.newest(2).sort((a, b) => a.seq - b.seq);
  assert.deepEqual([first?.status, first?.recordsLost, other?.status, other?.recordsLost], ["no-reply", true, "complete", undefined]);
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0 });
  t.after(() => server.close());
  const b = await openChromium("ppU-lost", { width: 1440, height: 900 });
  t.after(() => b.close());
  const { page } = b;
  await page.goto(`${server.url}/#/ping/${first!.id}`);
  await page.locator(".detail-title .pid", { hasText: first!.id }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator(`[data-ping-id="${first!.id}"] .lost`).textContent(), "records lost");
  assert.equal(await page.locator(`[data-ping-id="${other!.id}"] .lost`).count(), 0);
  assert.deepEqual(await page.locator(".path-notes li.note-lost").allInnerTexts(), [
    "The capture lost records while this was open (the kernel's ring was full): hops, or the answer, may be missing, and \"no-reply\" is what was left to see."]);
  await page.screenshot({ path: join(tmp.dir, "lost.png") });
  assert.deepEqual(b.errors, []);
});
