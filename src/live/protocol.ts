// The /ws/status protocol: what a dashboard receives, and the rule both ends share for how an
// event changes the machine list. The browser bundle imports this file too, so it must stay
// free of server-only imports (types only).
import type { MonitoringState } from "../api/health/index.ts";
import type { Machine } from "../api/machines/model.ts";
import type { Change } from "../changes.ts";

/** The changes dashboards are told about (`machine_seen` is internal to the server). */
export type BroadcastChange = Exclude<Change, { type: "machine_seen" }>;

/** A change as sent: `seq` increases by exactly one per event, so a client can see a gap. */
export type LiveEvent = BroadcastChange & { seq: number };

export type StatusUpdate = Extract<LiveEvent, { type: "status_update" }>;

/**
 * Every machine as of `seq`, as a table: `columns` names the fields once, and each row holds one
 * machine's values in that order. Field names repeated in every object were 40 % of the bytes:
 * 100,000 machines are 25 MB this way, 47 MB as objects. `total` rows in all: the first
 * SNAPSHOT_PART_ROWS come here, the rest in `snapshot_rows` messages. The next event has seq + 1.
 */
export type Snapshot = { type: "snapshot"; seq: number; total: number; columns: string[]; rows: unknown[][]; order?: SnapshotOrder };
/**
 * The order the rows come in, when the server sends them sorted as a dashboard first shows them
 * (public/lib/view.ts, FIRST_SORT): a page showing that sort may take the rows as they are
 * rather than sort 100,000 machines again. Absent: in no promised order.
 */
export type SnapshotOrder = { sort: string; descending: boolean };
/** More rows of the snapshot with the same `seq` (events may arrive in between: see SnapshotReader). */
export type SnapshotRows = { type: "snapshot_rows"; seq: number; rows: unknown[][] };

export type ServerMessage =
  | ({ type: "hello"; version: string } & MonitoringState)
  | Snapshot
  | SnapshotRows
  | LiveEvent
  /** Events that arrived within one coalescing window; `seq` is that of the last one. */
  | { type: "batch"; seq: number; events: LiveEvent[] };

/** The subprotocol a client offers (and the server echoes) to speak this protocol. */
export const LIVE_PROTOCOL = "vxman";
/** A token offered as a subprotocol: `bearer.` + base64url(token). Browsers cannot set headers on
 *  a WebSocket, and a token in the URL would end up in access logs. */
export const TOKEN_PROTOCOL_PREFIX = "bearer.";

/** How many of the last checks a machine carries (its strip of green and red marks). */
export const RECENT_CHECKS = 30;

/** The fields only a registration or an edit changes: a machine's record. */
const RECORD_COLUMNS = [
  "id", "hostname", "ip_address", "mac_address", "extra_data", "labels", "groups", "notes", "created_at", "updated_at",
] as const satisfies readonly (keyof Machine)[];
/** The fields a check changes: exactly those a status update sets (applyEvent, below). */
export const CHECK_COLUMNS = [
  "status", "last_seen", "consecutive_failures", "last_rtt_ms", "last_checked_at", "next_check_at", "recent_checks",
] as const satisfies readonly (keyof Machine)[];
/** The fields of a machine, in the order a snapshot's rows carry them: the record, then the check. */
export const SNAPSHOT_COLUMNS = [...RECORD_COLUMNS, ...CHECK_COLUMNS] as const;

// A field added to Machine and not to the list above fails to compile here.
type Unlisted = Exclude<keyof Machine, (typeof SNAPSHOT_COLUMNS)[number]>;
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFieldListed;

/**
 * About how many bytes of rows one snapshot message carries. A big fleet's snapshot goes out in
 * parts, each sent once the socket has taken the one before: the browser parses one part while the
 * server makes the next, and the server answers other requests in between rather than being busy
 * for half a second at 100,000 machines. Bounded in bytes, not rows (extra_data may be 8 KiB a
 * machine), so what waits for one socket stays far below Bun's backpressureLimit, past which Bun
 * would drop the changes published to it without a word (src/live/clients.ts).
 */
export const SNAPSHOT_PART_BYTES = 1024 * 1024;

/**
 * The snapshot of these machines as of `seq`, made a part at a time, in order. Holding the machine
 * objects holds that moment: the directory replaces a machine's object on every change and never
 * modifies one. While it is the hub's current snapshot each part is kept once made, for every
 * socket that opens before the next change; once released (a change came, so no socket will start
 * on it any more) it keeps none, and a slow socket still on it holds one part at a time, not all.
 */
export class SnapshotParts {
  /** Parts made so far, while shared. */
  #texts: string[] = [];
  /** Where each part made so far ends: the index of the first machine of the next. */
  readonly #ends: number[] = [];
  #shared = true;

  constructor(
    readonly seq: number,
    private readonly machines: readonly Machine[],
    /** The order `machines` are in, when promised (see SnapshotOrder). */
    private readonly order?: SnapshotOrder,
  ) {}

  /** Part `i`, serialised (the first is a `snapshot`, the others `snapshot_rows`); undefined past
   *  the last. Asked for in order, as a socket sends them (a part's start is where the last ended). */
  part(i: number): string | undefined {
    if (this.#texts[i] !== undefined) return this.#texts[i];
    if (i > this.#ends.length) throw new RangeError(`snapshot part ${i} asked for before part ${this.#ends.length}`);
    const start = i === 0 ? 0 : this.#ends[i - 1]!;
    if (i > 0 && start >= this.machines.length) return undefined;
    const text = this.#make(i, start);
    if (this.#shared) this.#texts[i] = text;
    return text;
  }

  /** Keep no parts from now on (the hub has a newer snapshot). */
  release(): void {
    this.#shared = false;
    this.#texts = [];
  }

  /** Characters of parts kept. */
  get keptChars(): number {
    return this.#texts.reduce((sum, t) => sum + t.length, 0);
  }

  /**
   * Each machine's row as JSON, made when a snapshot first holds it and kept while its object
   * lives: the directory replaces the object on every change, so an entry is never stale and goes
   * with the object. Serialising is most of a snapshot's cost (0.4–0.65 s at 100,000 machines); a
   * dashboard opening after another then serialises only the machines checked in between.
   */
  static readonly #rows = new WeakMap<Machine, string>();
  /**
   * The record part of each machine's row (RECORD_COLUMNS, as JSON without the brackets). A check
   * replaces the machine's object but not its record, and the directory carries this part over to
   * the new object (carryRecordPart): a dashboard opening when nobody has watched for a minute,
   * every row made afresh, then serialises only the checks.
   */
  static readonly #records = new WeakMap<Machine, string>();

  /** Makes the row of `m` now, for a snapshot to come (the hub does it as machines change while
   *  dashboards are open, so the next one to open finds every row made). */
  static keepRow(m: Machine): void {
    SnapshotParts.#rowOf(m);
  }

  /** Whether the row of `m` is made (for tests). */
  static rowKept(m: Machine): boolean {
    return SnapshotParts.#rows.has(m);
  }

  /** Whether the record part of `m` is made (for tests). */
  static recordKept(m: Machine): boolean {
    return SnapshotParts.#records.has(m);
  }

  /** `after` is `before` after a status update (applyEvent): same record, so same record part. */
  static carryRecordPart(before: Machine, after: Machine): void {
    const part = SnapshotParts.#records.get(before);
    if (part !== undefined) SnapshotParts.#records.set(after, part);
  }

  static #rowOf(m: Machine): string {
    let row = SnapshotParts.#rows.get(m);
    if (row === undefined) SnapshotParts.#rows.set(m, (row = `[${SnapshotParts.#recordPart(m)},${valuesJson(m, CHECK_COLUMNS)}]`));
    return row;
  }

  static #recordPart(m: Machine): string {
    let part = SnapshotParts.#records.get(m);
    if (part === undefined) SnapshotParts.#records.set(m, (part = valuesJson(m, RECORD_COLUMNS)));
    return part;
  }

  #make(i: number, start: number): string {
    const rows: string[] = [];
    let at = start;
    for (let bytes = 0; at < this.machines.length && bytes < SNAPSHOT_PART_BYTES; at++) {
      const row = SnapshotParts.#rowOf(this.machines[at]!);
      rows.push(row);
      bytes += row.length;
    }
    this.#ends[i] = at;
    // One row at a time (to count the bytes) measured faster than one JSON.stringify of them all.
    const head: Omit<Snapshot, "rows"> | Omit<SnapshotRows, "rows"> =
      i === 0
        ? { type: "snapshot", seq: this.seq, total: this.machines.length, columns: [...SNAPSHOT_COLUMNS], ...(this.order && { order: this.order }) }
        : { type: "snapshot_rows", seq: this.seq };
    return `${JSON.stringify(head).slice(0, -1)},"rows":[${rows.join(",")}]}`;
  }
}

/** The values of `columns` in `m`, as JSON without the brackets of their array. */
function valuesJson(m: Machine, columns: readonly (keyof Machine)[]): string {
  return JSON.stringify(columns.map((c) => m[c])).slice(1, -1);
}

/**
 * A snapshot put back together from its parts, on the reading end. Events that arrive before the
 * last part are held, to be applied after it (they carry the seqs that follow the snapshot's).
 */
export class SnapshotReader {
  readonly machines: Machine[];
  readonly heldEvents: LiveEvent[] = [];

  constructor(private readonly first: Snapshot) {
    this.machines = snapshotMachines(first);
  }

  get seq(): number {
    return this.first.seq;
  }

  get order(): SnapshotOrder | undefined {
    return this.first.order;
  }

  get complete(): boolean {
    return this.machines.length >= this.first.total;
  }

  /** Adds a part; false when it belongs to another snapshot or overflows this one (start over). */
  add(part: SnapshotRows): boolean {
    if (part.seq !== this.first.seq || this.machines.length + part.rows.length > this.first.total) return false;
    for (const m of snapshotMachines({ columns: this.first.columns, rows: part.rows })) this.machines.push(m);
    return true;
  }
}

/** A snapshot's rows as machines, each field read from the column of its name (so a column the
 *  server moved still lands in the right field; one this page does not know is left out). One object literal, written out field by field:
 *  every machine gets the same shape at once, where setting the fields by a name held in a
 *  variable took twice as long in a fresh page at 100,000 machines (the page's first load). */
export function snapshotMachines(snapshot: Pick<Snapshot, "columns" | "rows">): Machine[] {
  const at = Object.fromEntries(snapshot.columns.map((name, i) => [name, i])) as Record<keyof Machine, number>;
  return snapshot.rows.map((r) => {
    const m = {
      id: r[at.id], hostname: r[at.hostname], ip_address: r[at.ip_address], mac_address: r[at.mac_address], status: r[at.status],
      extra_data: r[at.extra_data], labels: r[at.labels], groups: r[at.groups], notes: r[at.notes], created_at: r[at.created_at],
      updated_at: r[at.updated_at], last_seen: r[at.last_seen], consecutive_failures: r[at.consecutive_failures],
      last_rtt_ms: r[at.last_rtt_ms], last_checked_at: r[at.last_checked_at], next_check_at: r[at.next_check_at],
      recent_checks: r[at.recent_checks],
    } satisfies Record<keyof Machine, unknown>;
    return m as Machine;
  });
}

/** Apply one event to a machine list keyed by id. Unknown machines' status updates are ignored. */
export function applyEvent(machines: Map<number, Machine>, event: BroadcastChange): void {
  switch (event.type) {
    case "machine_registered":
    case "machine_updated":
      machines.set(event.machine.id, event.machine);
      return;
    case "machine_deleted":
      machines.delete(event.machine_id);
      return;
    case "status_update": {
      const m = machines.get(event.machine_id);
      if (!m) return;
      machines.set(m.id, {
        ...m,
        status: event.status,
        last_seen: event.last_seen,
        consecutive_failures: event.consecutive_failures,
        last_checked_at: event.last_checked_at,
        next_check_at: event.next_check_at,
        // last_rtt_ms is the RTT of the last *successful* check: a failure keeps the old one.
        last_rtt_ms: event.response_time ?? m.last_rtt_ms,
        recent_checks: event.checked ? (m.recent_checks + (event.is_alive ? "1" : "0")).slice(-RECENT_CHECKS) : m.recent_checks,
      });
    }
  }
}

/** base64url without padding (RFC 4648 §5), for tokens carried as a subprotocol. */
export function encodeTokenProtocol(token: string): string {
  const bytes = new TextEncoder().encode(token);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return TOKEN_PROTOCOL_PREFIX + btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
