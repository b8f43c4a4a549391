import type { PingStatus } from "../../../shared/types.ts";

const LABEL: Record<PingStatus, string> = { complete: "complete", "no-reply": "no reply", dropped: "dropped" };

export function StatusBadge({ status }: { status: PingStatus }) {
  return <span className={`badge badge-${status}`}>{LABEL[status]}</span>;
}
