// A CaptureFilter from a pcap-filter expression, as the CLI builds it ("" is the default filter).
import assert from "node:assert/strict";
import type { CaptureFilter } from "../../server/capture/source.ts";
import { buildFilter, type Shorthands } from "../../shared/filter/index.ts";

export function captureFilter(expression = "", shorthands?: Shorthands): CaptureFilter {
  const built = buildFilter(expression, shorthands);
  assert.ok(built.ok, built.ok ? "" : built.error);
  return { expression: built.value.expression, program: built.value.program };
}
