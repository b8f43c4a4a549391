// The topology helper the live tests build on: a routed path through a forwarding namespace to a
// bridge, IPv4 and IPv6, and nothing left behind afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { sh, Topology } from "./lib/netns.ts";

const skip = process.getuid?.() !== 0 ? "needs root (creates namespaces)" : false;

test("a ↔ router ↔ bridge in b: pings cross both ways, destroy leaves nothing", { skip }, () => {
  const topo = new Topology("ppN1");
  try {
    for (const ns of ["a", "r", "b"]) topo.netns(ns);
    topo.veth({ ns: "a", name: "a0" }, { ns: "r", name: "r0" });
    topo.veth({ ns: "r", name: "r1" }, { ns: "b", name: "b0" });
    topo.bridge("b", "br", ["b0"]);
    topo.forwarding("r");
    topo.addr({ ns: "a", name: "a0" }, "10.238.1.2/24");
    topo.addr({ ns: "a", name: "a0" }, "fd00:238:1::2/64");
    topo.addr({ ns: "r", name: "r0" }, "10.238.1.1/24");
    topo.addr({ ns: "r", name: "r0" }, "fd00:238:1::1/64");
    topo.addr({ ns: "r", name: "r1" }, "10.238.2.1/24");
    topo.addr({ ns: "r", name: "r1" }, "fd00:238:2::1/64");
    topo.addr({ ns: "b", name: "br" }, "10.238.2.2/24");
    topo.addr({ ns: "b", name: "br" }, "fd00:238:2::2/64");
    topo.route("a", "default", "10.238.1.1");
    topo.route("a", "default", "fd00:238:1::1");
    topo.route("b", "default", "10.238.2.1");
    topo.route("b", "default", "fd00:238:2::1");
    assert.match(topo.exec("a", "ping", "-c", "1", "-W", "2", "10.238.2.2"), /1 received/);
    assert.match(topo.exec("a", "ping", "-c", "1", "-W", "2", "fd00:238:2::2"), /1 received/);
    assert.match(topo.exec("a", "ip", "-o", "link", "show", "ppN1-a0"), /state UP/);
    topo.nftDrop("b", "icmp type echo-request");
    assert.throws(() => topo.exec("a", "ping", "-c", "1", "-W", "1", "10.238.2.2"), /ping -c 1 -W 1 10.238.2.2 failed/);
    assert.notEqual(topo.inode("a"), topo.inode("b"));
  } finally {
    topo.destroy();
  }
  assert.deepEqual(readdirSync("/run/netns").filter((n) => n.startsWith("ppN1-")), []);
  assert.equal(sh("ip", "-o", "link", "show").includes("ppN1-"), false);
});
