// The capture filter in the header, in a real Chromium against the real server routes, with the
// kernel side replaced by a FilterControl made here (marked: it checks only a leading "icmp", the
// shape of the real parser's answer, not its grammar). The page shows the filter, applies a change for
// every client and shows one made by another, shows a refusal where it was typed with the message and column, and keeps each
// applied filter in the history.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createFileSource } from "../server/capture/file.ts";
import type { FilterControl } from "../server/listRoutes.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import { openChromium } from "./support/chromium.ts";
import { ROOT } from "./support/cli-child.ts";
import { EIGHT_NS_FIXTURE } from "./support/eight-ns.ts";

test("capture filter: shown in the header, applied from the page, refused where typed, kept in the history", { timeout: 60_000 }, async (t) => {
  assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
  });
  // TEST CONTROL, not the kernel's: accepts expressions starting with "icmp", refuses the rest at column 0.
  const applied: string[] = ["icmp or icmp6"];
  const control: FilterControl = {
    current: () => applied.at(-1) ?? "",
    set: (e) => (e.startsWith("icmp") ? (applied.push(e), { ok: true, expression: e })
      : { ok: false, error: `expected a protocol at the start, got ${JSON.stringify(e.split(" ")[0])}`, column: 0 }),
  };
  const pipeline = new Pipeline(createFileSource(EIGHT_NS_FIXTURE));
  await pipeline.start();
  undo.push(() => pipeline.stop());
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0, filter: control });
  undo.push(() => server.close());
  const b = await openChromium("ppU-filter", { width: 1440, height: 900 });
  undo.push(() => b.close());
  const { page } = b;
  await page.goto(server.url);
  const box = page.getByLabel("Capture filter").locator("input");
  await page.waitForFunction(() => (document.querySelector("#capture-filter-input") as HTMLInputElement | null)?.value === "icmp or icmp6");
  assert.equal(await page.getByRole("button", { name: "Applied" }).isDisabled(), true);

  await box.fill("tcpp port 80");
  await box.press("Enter");
  await page.locator("#capture-filter-error").waitFor();
  assert.equal(await page.locator("#capture-filter-error span").textContent(), "expected a protocol at the start, got \"tcpp\"");
  assert.equal(await page.locator("#capture-filter-error .caret").textContent(), "tcpp port 80\n^");
  assert.equal(await box.getAttribute("aria-invalid"), "true");
  assert.equal(await box.inputValue(), "tcpp port 80", "what was typed stays");
  assert.deepEqual(applied, ["icmp or icmp6"]);

  await box.fill("icmp and host 10.253.7.2");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("button", { name: "Applied" }).waitFor();
  assert.deepEqual(applied, ["icmp or icmp6", "icmp and host 10.253.7.2"]);
  assert.equal(new URL(page.url()).searchParams.get("filter"), "icmp and host 10.253.7.2");
  await box.fill("icmp6");
  await box.press("Enter");
  await page.getByRole("button", { name: "Applied" }).waitFor();
  assert.equal(new URL(page.url()).searchParams.get("filter"), "icmp6");
  // Back: the previous filter is offered again, to apply with one press; nothing changes by itself.
  await page.goBack();
  await page.waitForFunction(() => (document.querySelector("#capture-filter-input") as HTMLInputElement | null)?.value === "icmp and host 10.253.7.2");
  assert.equal(await page.getByRole("button", { name: "Apply" }).isEnabled(), true);
  assert.deepEqual(applied.at(-1), "icmp6");
  // Another client changes the filter: a box with an edit of its own keeps it; one without shows the change.
  const other = async (expression: string): Promise<void> => {
    const r = await fetch(`${server.url}/api/filter`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ expression }) });
    assert.equal(r.status, 200);
  };
  await other("icmp and host 10.253.7.9");
  await new Promise((r) => setTimeout(r, 3500));
  assert.equal(await box.inputValue(), "icmp and host 10.253.7.2", "an edit in progress is not overwritten");
  await box.fill("icmp and host 10.253.7.9");
  await page.getByRole("button", { name: "Applied" }).waitFor();
  await other("icmp and host 10.253.7.10");
  await page.waitForFunction(() => (document.querySelector("#capture-filter-input") as HTMLInputElement | null)?.value === "icmp and host 10.253.7.10", undefined, { timeout: 10_000 });
  assert.deepEqual(b.errors, ["Failed to load resource: the server responded with a status of 400 (Bad Request)"], "the one refusal");
});
