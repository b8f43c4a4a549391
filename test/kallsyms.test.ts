// Kernel text addresses named from /proc/kallsyms (server/capture/kallsyms.ts): the nearest text
// symbol at or below, and the offset into it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadKallsyms, parseKallsyms } from "../server/capture/kallsyms.ts";

const TEXT = [
  "ffffffff81a00000 T kfree_skb_reason",
  "ffffffff81000000 T _stext",
  "ffffffff81b00000 D some_data",
  "ffffffff81a00400 t skb_release_data [some_module]",
  "0000000000000000 T hidden_by_kptr_restrict",
  "",
  "garbage",
].join("\n");

test("an address is named by the text symbol at or below it, out of order in the file, data and zero addresses left out", () => {
  const s = parseKallsyms(TEXT);
  assert.equal(s.size, 3);
  assert.equal(s.symbolize(0xffffffff81a00000n), "kfree_skb_reason+0x0");
  assert.equal(s.symbolize(0xffffffff81a0002an), "kfree_skb_reason+0x2a");
  assert.equal(s.symbolize(0xffffffff81a00410n), "skb_release_data+0x10");
  assert.equal(s.symbolize(0xffffffff81b00010n), "skb_release_data+0xffc10", "data symbols do not name code");
  assert.equal(s.symbolize(0xffffffff80000000n), undefined, "below the first");
  assert.equal(s.symbolize(0xffffffff81000001n), "_stext+0x1");
  assert.equal(s.symbolize(0xffffffff81000001n), "_stext+0x1", "asked again");
});

test("this kernel's own: its consume_skb is named; no addresses, or no file, say why nothing is", async () => {
  const own = await loadKallsyms();
  assert.ok(own.ok, own.ok ? "" : own.error);
  assert.ok(own.value.size > 1000, `${own.value.size} text symbols`);
  const line = (await import("node:fs")).readFileSync("/proc/kallsyms", "utf8").split("\n").find((l) => / [Tt] consume_skb$/.test(l));
  assert.ok(line, "consume_skb is in /proc/kallsyms");
  const addr = BigInt(`0x${line.split(" ")[0]}`);
  assert.equal(own.value.symbolize(addr + 5n), "consume_skb+0x5");
  const zeros = parseKallsyms("0000000000000000 T consume_skb\n");
  assert.equal(zeros.size, 0);
  const missing = await loadKallsyms("/nonexistent/kallsyms");
  assert.ok(!missing.ok && /cannot read/.test(missing.error));
});
