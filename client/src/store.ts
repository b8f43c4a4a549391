// The live ping list, kept outside React state. WebSocket messages mutate a pending batch; one commit
// per animation frame turns it into a new immutable snapshot for useSyncExternalStore, so a flood of
// pings costs one React render per frame, not one per message.
import type { CaptureStats } from "../../shared/protocol.ts";
import type { Ping } from "../../shared/types.ts";

/** The list keeps this many pings (the server's default store size); older ones drop off the bottom. */
export const MAX_PINGS = 10_000;

export type ConnState = "connecting" | "open" | "reconnecting" | "closed";

export interface LiveState {
  /** newest first */
  pings: readonly Ping[];
  stats?: CaptureStats;
  conn: ConnState;
  /** when the next reconnect attempt happens, ms since epoch */
  retryAtMs?: number;
  /** last problem worth showing: a server error message or an unparseable message */
  lastError?: string;
  /** server messages that failed to parse */
  badMessages: number;
  paused: boolean;
  /** pings the server left out of the stream under load (it sent the newest and every one that did not complete) */
  summarised?: number;
}

type Schedule = (commit: () => void) => void;

const rafSchedule: Schedule = (commit) => {
  requestAnimationFrame(() => commit());
};

interface Pending {
  /** a snapshot replaces everything committed before it (or, after a resume, tops it up) */
  snapshot?: Ping[];
  keepOlder?: boolean;
  /** in arrival order (oldest first) */
  updates: Ping[];
  patch: Partial<Omit<LiveState, "pings">>;
}

export class PingStore {
  private state: LiveState = { pings: [], conn: "connecting", badMessages: 0, paused: false };
  private pending: Pending = { updates: [], patch: {} };
  private scheduled = false;
  private readonly listeners = new Set<() => void>();
  private readonly schedule: Schedule;

  constructor(schedule: Schedule = rafSchedule) {
    this.schedule = schedule;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LiveState => this.state;

  /**
   * A snapshot from the server. `keepOlder` (after a pause): the snapshot's newest pings go on top and
   * what the list already showed stays under them, so resuming never cuts the list back.
   */
  replaceAll(pings: Ping[], keepOlder = false): void {
    this.pending.snapshot = pings.slice(0, MAX_PINGS);
    this.pending.keepOlder = keepOlder;
    this.pending.updates = [];
    this.touch();
  }

  upsert(pings: Ping[]): void {
    this.pending.updates.push(...pings);
    // A hidden tab gets no animation frames: keep the batch bounded until it is drawn.
    if (this.pending.updates.length > 2 * MAX_PINGS) this.pending.updates.splice(0, this.pending.updates.length - MAX_PINGS);
    this.touch();
  }

  patch(patch: Partial<Omit<LiveState, "pings">>): void {
    Object.assign(this.pending.patch, patch);
    this.touch();
  }

  addSummarised(n: number): void {
    this.patch({ summarised: (this.pending.patch.summarised ?? this.state.summarised ?? 0) + n });
  }

  noteBadMessage(error: string): void {
    this.patch({ badMessages: (this.pending.patch.badMessages ?? this.state.badMessages) + 1, lastError: error });
  }

  /** The ping with this id if the list has it (committed or about to be). */
  find(id: string): Ping | undefined {
    for (let i = this.pending.updates.length - 1; i >= 0; i--) if (this.pending.updates[i]?.id === id) return this.pending.updates[i];
    return (this.pending.snapshot ?? this.state.pings).find((p) => p.id === id);
  }

  private touch(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.commit());
  }

  /** Applies the pending batch; exported for tests that drive the schedule by hand. */
  commit(): void {
    this.scheduled = false;
    const { snapshot, keepOlder, updates, patch } = this.pending;
    this.pending = { updates: [], patch: {} };
    let pings = snapshot && keepOlder ? merge(this.state.pings, [...snapshot].reverse()) : snapshot ?? this.state.pings;
    if (updates.length > 0) pings = merge(pings, updates);
    this.state = { ...this.state, ...patch, pings };
    for (const listener of this.listeners) listener();
  }
}

/** Newest first: later arrivals go on top; a ping seen again replaces its old entry. */
function merge(current: readonly Ping[], updatesOldestFirst: Ping[]): Ping[] {
  const fresh = new Map<string, Ping>();
  for (const p of updatesOldestFirst) {
    fresh.delete(p.id);
    fresh.set(p.id, p);
  }
  const top = [...fresh.values()].reverse();
  const rest = current.filter((p) => !fresh.has(p.id));
  return top.concat(rest).slice(0, MAX_PINGS);
}
