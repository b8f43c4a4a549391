#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx pktpath` needs no build output.
// Worker threads do not inherit this registration: they are started with `--import tsx` (server/capture).
import { register } from "tsx/esm/api";

register();
await import("../server/cli.ts");
