// shared/sample.ts: what the stream passes on when more pings finish than the page can take.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PINGS_PER_SESSION, sampleNewest } from "../shared/sample.ts";

interface P { id: string; status: "complete" | "no-reply"; session: string }
const ping = (id: string, session: string, status: P["status"] = "complete"): P => ({ id, status, session });

test("a backlog finishing at once: the newest, every non-complete one, and each session's newest few", () => {
  // 300 of a flood, with someone's own ten pings among them, and one of the flood unanswered
  const pings: P[] = [];
  for (let k = 0; k < 300; k++) {
    pings.push(ping(`f${k}`, "flood", k === 42 ? "no-reply" : "complete"));
    if (k % 30 === 0) pings.push(ping(`own${k / 30}`, "own"));
  }
  const { pings: sent, summarised } = sampleNewest(pings, 20, 1000, (p) => p.session);
  const own = sent.filter((p) => p.session === "own").map((p) => p.id);
  assert.equal(PINGS_PER_SESSION, 8);
  assert.deepEqual(own, ["own2", "own3", "own4", "own5", "own6", "own7", "own8", "own9"], "the own session's newest eight, in order");
  assert.deepEqual(sent.filter((p) => p.status !== "complete").map((p) => p.id), ["f42"]);
  assert.deepEqual(sent.slice(-20).map((p) => p.id), Array.from({ length: 20 }, (_, i) => `f${280 + i}`), "the newest twenty last");
  // the flood's newest are its own session's sent ones: none older of it is added
  assert.equal(sent.filter((p) => p.session === "flood").length, 21);
  assert.deepEqual(summarised, { complete: 310 - 21 - 8, other: 0 });
  assert.equal(sent.length + summarised.complete + summarised.other, 310);
});
