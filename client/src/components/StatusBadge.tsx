import type { ExchangeStatus } from "../../../shared/types.ts";

const LABEL: Record<ExchangeStatus, string> = { complete: "complete", "no-reply": "no reply", dropped: "dropped", error: "error", refused: "refused" };

export function StatusBadge({ status }: { status: ExchangeStatus }) {
  return <span className={`badge badge-${status}`}>{LABEL[status]}</span>;
}
