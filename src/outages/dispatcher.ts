// The dispatcher: from the facts the event log's trigger queues (alert_changes) to messages in
// the outbox (notifications), with Alertmanager's grouping. Per channel and group (a VNI, a
// subnet, a label value): the first change waits GROUP_WAIT for others to join it; later ones
// go out together at most every GROUP_INTERVAL; REPEAT_INTERVAL (when set) reminds while
// machines stay down. A recovery of an announced outage is always told; one never announced
// is not. Silenced machines' messages are held until the silence ends, then told if still true.
//
// One pass is ONE transaction under an advisory lock: the facts it takes, the group state it
// moves and the messages it queues commit together, and only one instance dispatches at a time
// (the others skip), so a fact is turned into a message exactly once.
import type { Database, Queryable } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { NotificationKind, NotifiedMachine } from "./channels/index.ts";
import type { OpenChannel } from "./channel-store.ts";
import type { ChannelStore } from "./channel-store.ts";
import { groupFor, type GroupOptions } from "./groups.ts";
import { render, renderRunFailed, type FailedRun, type Group } from "./messages.ts";
import { selects, type Selectable } from "./selectors.ts";
import { mutedUntil, type SilenceRow, type SilenceService } from "./silences.ts";
import { WakeTimer } from "../wake-timer.ts";

export interface DispatchSettings {
  groupWaitMs: number;
  groupIntervalMs: number;
  /** 0: no reminders. */
  repeatIntervalMs: number;
  group: GroupOptions;
  publicUrl: string | null;
}

const DISPATCH_LOCK = 0x7678_6470; // "vxdp"
/** Facts taken per pass; a bigger backlog takes more passes (each wakes the next). */
const BATCH = 2000;
/** Even with nothing to wake it, a pass now and then (another instance's facts, a missed wake). */
const SAFETY_PASS_MS = 60_000;

interface ChangeRow {
  event_id: number;
  kind: string;
  at: Date;
  machine_id: number;
  hostname: string;
  ip_address: string;
  details: Record<string, unknown>;
  labels: string[] | null;
  extra_data: Record<string, unknown> | null;
}

/** A machine as a message shows it, with its VNI kept so a silence by group can match it later. */
type HeldMachine = NotifiedMachine & { vni?: unknown };

interface AlertRow {
  machine_id: number;
  firing: boolean;
  since: Date;
  resolved_at: Date | null;
  announced: boolean;
  machine: HeldMachine;
}

interface NoticeRow {
  id: number;
  kind: NotificationKind;
  machine: HeldMachine;
  at: Date;
}

interface GroupRow {
  channel_id: number;
  group_key: string;
  last_flush_at: Date | null;
  last_repeat_at: Date | null;
}

const FACT_KIND: Record<string, NotificationKind> = {
  unreachable: "unreachable",
  recovered: "recovered",
  registered: "registered",
  deleted: "deleted",
  updated: "mac_changed",
  run_failed: "run_failed",
};

export class Dispatcher {
  readonly #timer: WakeTimer;

  constructor(
    private readonly db: Database,
    private readonly channels: ChannelStore,
    private readonly silences: SilenceService,
    private readonly settings: DispatchSettings,
    private readonly log: Logger,
    /** Told when a pass queued messages (the sender's wake). */
    private readonly onQueued: () => void,
  ) {
    this.#timer = new WakeTimer(() => this.#pass(), SAFETY_PASS_MS, (err) => log.error({ err }, "dispatching notifications failed; will retry"));
  }

  start(): void {
    this.#timer.start();
  }

  /** Something happened (a transition written, a registration): a pass soon, or within `delayMs`. */
  poke(delayMs?: number): void {
    this.#timer.soon(delayMs);
  }

  async stop(): Promise<void> {
    await this.#timer.stop();
  }

  /** One pass now (tests and shutdown); resolves when it is done. */
  runOnce(): Promise<void> {
    return this.#timer.now();
  }

  async #pass(): Promise<number | null> {
    const now = Date.now();
    const outcome = await this.db.transaction(async (tx) => {
      const [lock] = await tx.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS ok", [DISPATCH_LOCK]);
      if (!lock?.ok) return { queued: 0, more: false, next: null };
      const channels = await this.channels.openAll(tx);
      const ingested = await this.#ingest(tx, channels, now);
      const more = ingested.more;
      // Everything through tx: on the embedded database a query beside an open transaction waits for it.
      const queued = ingested.queued + (await this.#flushDue(tx, channels, await this.silences.rows(false, tx), now));
      const [due] = await tx.query<{ next: Date | null }>("SELECT min(next_flush_at) AS next FROM alert_groups");
      return { queued, more, next: due?.next?.getTime() ?? null };
    });
    if (outcome.queued > 0) this.onQueued();
    return outcome.more ? Date.now() : outcome.next;
  }

  /** Facts → each channel's alerts, notices and group schedule (failed runs: straight to the outbox). */
  async #ingest(tx: Queryable, channels: OpenChannel[], now: number): Promise<{ more: boolean; queued: number }> {
    const facts = await tx.query<ChangeRow>(
      `SELECT e.id AS event_id, e.kind, e.at, e.machine_id, e.hostname, host(e.ip_address) AS ip_address, e.details, m.labels, m.extra_data
       FROM alert_changes c JOIN events e ON e.id = c.event_id LEFT JOIN machines m ON m.id = e.machine_id
       ORDER BY e.id LIMIT ${BATCH}`,
    );
    let queued = 0;
    for (const fact of facts) {
      if (fact.kind === "run_failed") {
        queued += await this.#runFailed(tx, channels, fact);
        continue;
      }
      const machine = selectable(fact);
      for (const channel of channels) {
        if (selects(channel.filter, machine, this.settings.group)) await this.#take(tx, channel, fact, machine, now);
      }
    }
    if (facts.length) await tx.query("DELETE FROM alert_changes WHERE event_id = ANY($1::bigint[])", [facts.map((f) => f.event_id)]);
    return { more: facts.length === BATCH, queued };
  }

  /**
   * A failed run is about a run, not a machine: not grouped, filtered or silenced by machine; one
   * message to each channel that asked for run_failed, at once.
   */
  async #runFailed(tx: Queryable, channels: OpenChannel[], fact: ChangeRow): Promise<number> {
    const run = fact.details as unknown as FailedRun;
    const wanting = channels.filter((c) => c.events.includes("run_failed"));
    for (const channel of wanting) await this.#queue(tx, channel, `job ${run.job_name}`, renderRunFailed(run, fact.at.toISOString(), this.settings.publicUrl));
    if (wanting.length) this.log.info({ run_id: run.run_id, channels: wanting.map((c) => c.name) }, "failed run: notifications queued");
    return wanting.length;
  }

  async #take(tx: Queryable, channel: OpenChannel, fact: ChangeRow, machine: Selectable, now: number) {
    const kind = FACT_KIND[fact.kind]!;
    const group = groupFor(machine, this.settings.group);
    const snapshot = notified(fact, machine, group.key);
    const wants = (k: NotificationKind) => channel.events.includes(k);
    const tracksOutages = wants("unreachable") || wants("recovered");
    if (kind === "unreachable" && tracksOutages) {
      // A channel told only of recoveries treats every outage as announced (so its recovery is told).
      await tx.query(
        `INSERT INTO alerts (channel_id, machine_id, group_key, firing, since, announced, machine)
         VALUES ($1, $2, $3, true, $4, $5, $6::text::jsonb)
         ON CONFLICT (channel_id, machine_id) DO UPDATE SET firing = true, since = excluded.since, resolved_at = NULL,
           group_key = excluded.group_key, machine = excluded.machine, announced = alerts.announced OR excluded.announced`,
        [channel.id, fact.machine_id, group.key, fact.at, !wants("unreachable"), JSON.stringify(snapshot)],
      );
      await this.#touch(tx, channel.id, group.key, now);
    } else if (kind === "recovered" && tracksOutages) {
      const [alert] = await tx.query<{ announced: boolean }>(
        "UPDATE alerts SET firing = false, resolved_at = $3 WHERE channel_id = $1 AND machine_id = $2 AND firing RETURNING announced",
        [channel.id, fact.machine_id, fact.at],
      );
      if (!alert) return;
      // Never announced (it came back within GROUP_WAIT, or while silenced), or recoveries unwanted: nothing to tell.
      if (!alert.announced || !wants("recovered")) await tx.query("DELETE FROM alerts WHERE channel_id = $1 AND machine_id = $2", [channel.id, fact.machine_id]);
      else await this.#touch(tx, channel.id, group.key, now);
    } else if (kind !== "unreachable" && kind !== "recovered") {
      if (kind === "deleted") await tx.query("DELETE FROM alerts WHERE channel_id = $1 AND machine_id = $2", [channel.id, fact.machine_id]);
      if (!wants(kind)) return;
      await tx.query("INSERT INTO alert_notices (channel_id, group_key, kind, machine, at) VALUES ($1, $2, $3, $4::text::jsonb, $5)", [
        channel.id, group.key, kind, JSON.stringify(snapshot), fact.at,
      ]);
      await this.#touch(tx, channel.id, group.key, now);
    }
  }

  /** A group has news: due after GROUP_WAIT when it is new (or was idle), else at its next GROUP_INTERVAL. */
  async #touch(tx: Queryable, channelId: number, groupKey: string, now: number) {
    await tx.query(
      `INSERT INTO alert_groups (channel_id, group_key, next_flush_at) VALUES ($1, $2, to_timestamp(($3::float8 + $4::float8) / 1000.0))
       ON CONFLICT (channel_id, group_key) DO UPDATE SET next_flush_at = coalesce(alert_groups.next_flush_at,
         CASE WHEN alert_groups.last_flush_at IS NULL THEN excluded.next_flush_at
              ELSE greatest(to_timestamp($3::float8 / 1000.0), alert_groups.last_flush_at + $5::float8 * interval '1 millisecond') END)`,
      [channelId, groupKey, now, this.settings.groupWaitMs, this.settings.groupIntervalMs],
    );
  }

  /** Every group whose time has come: its messages into the outbox. Returns how many were queued. */
  async #flushDue(tx: Queryable, channels: OpenChannel[], silences: SilenceRow[], now: number): Promise<number> {
    const due = await tx.query<GroupRow>(
      "SELECT channel_id, group_key, last_flush_at, last_repeat_at FROM alert_groups WHERE next_flush_at <= to_timestamp($1::float8 / 1000.0) ORDER BY next_flush_at",
      [now],
    );
    let queued = 0;
    for (const g of due) {
      const channel = channels.find((c) => c.id === g.channel_id);
      if (!channel) {
        // Disabled: what it holds waits for it to be enabled and hear news again.
        await tx.query("UPDATE alert_groups SET next_flush_at = NULL WHERE channel_id = $1 AND group_key = $2", [g.channel_id, g.group_key]);
        continue;
      }
      queued += await this.#flush(tx, channel, g, silences, now);
    }
    return queued;
  }

  async #flush(tx: Queryable, channel: OpenChannel, g: GroupRow, silences: SilenceRow[], now: number): Promise<number> {
    const alerts = await tx.query<AlertRow>("SELECT machine_id, firing, since, resolved_at, announced, machine FROM alerts WHERE channel_id = $1 AND group_key = $2", [g.channel_id, g.group_key]);
    const notices = await tx.query<NoticeRow>("SELECT id, kind, machine, at FROM alert_notices WHERE channel_id = $1 AND group_key = $2 ORDER BY id", [g.channel_id, g.group_key]);
    const muted = new Map<number, number>(); // machine id → until
    const isMuted = (m: HeldMachine) => {
      const until = this.#mutedUntil(m, silences, now);
      if (until !== null) muted.set(m.id, until);
      return until !== null;
    };
    const down = alerts.filter((a) => a.firing && !a.announced && !isMuted(a.machine));
    const back = alerts.filter((a) => !a.firing && a.announced && !isMuted(a.machine));
    const toldNotices = notices.filter((n) => !isMuted(n.machine));
    const stillDown = alerts.filter((a) => a.firing && a.announced && !isMuted(a.machine));
    const lastRepeat = (g.last_repeat_at ?? g.last_flush_at)?.getTime() ?? now;
    const remind = this.settings.repeatIntervalMs > 0 && down.length === 0 && stillDown.length > 0 && lastRepeat + this.settings.repeatIntervalMs <= now;

    const group = groupOf(g.group_key);
    const messages: { kind: NotificationKind; machines: NotifiedMachine[] }[] = [];
    if (down.length) messages.push({ kind: "unreachable", machines: down.map((a) => ({ ...a.machine, status: "unreachable", since: a.since.toISOString(), outage_seconds: null })) });
    if (back.length) messages.push({ kind: "recovered", machines: back.map((a) => recoveredMachine(a)) });
    for (const kind of ["registered", "deleted", "mac_changed"] as const) {
      const of = toldNotices.filter((n) => n.kind === kind);
      if (of.length) messages.push({ kind, machines: of.map((n) => n.machine) });
    }
    if (remind) messages.push({ kind: "still_unreachable", machines: stillDown.map((a) => ({ ...a.machine, status: "unreachable", since: a.since.toISOString(), outage_seconds: null })) });
    for (const m of messages) await this.#queue(tx, channel, g.group_key, render(m.kind, group, m.machines, new Date(now).toISOString(), this.settings.publicUrl));

    await tx.query("UPDATE alerts SET announced = true WHERE channel_id = $1 AND machine_id = ANY($2::int[])", [g.channel_id, down.map((a) => a.machine_id)]);
    await tx.query("DELETE FROM alerts WHERE channel_id = $1 AND (machine_id = ANY($2::int[]) OR (NOT firing AND NOT announced))", [g.channel_id, back.map((a) => a.machine_id)]);
    await tx.query("DELETE FROM alert_notices WHERE id = ANY($1::bigint[])", [toldNotices.map((n) => n.id)]);
    await this.#reschedule(tx, g, { sent: messages.length > 0, reminded: remind, heldUntil: Math.min(...muted.values()), firingLeft: stillDown.length + down.length > 0, now });
    if (messages.length) this.log.info({ channel: channel.name, group: g.group_key, messages: messages.map((m) => `${m.kind} ${m.machines.length}`) }, "notifications queued");
    return messages.length;
  }

  /** After a flush: the group is gone when nothing is left; else due when held items unmute or a reminder is due. */
  async #reschedule(tx: Queryable, g: GroupRow, r: { sent: boolean; reminded: boolean; heldUntil: number; firingLeft: boolean; now: number }) {
    const [left] = await tx.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM alerts WHERE channel_id = $1 AND group_key = $2) + (SELECT count(*) FROM alert_notices WHERE channel_id = $1 AND group_key = $2) AS n`,
      [g.channel_id, g.group_key],
    );
    if (!Number(left?.n)) {
      await tx.query("DELETE FROM alert_groups WHERE channel_id = $1 AND group_key = $2", [g.channel_id, g.group_key]);
      return;
    }
    const lastFlush = r.sent ? r.now : (g.last_flush_at?.getTime() ?? null);
    const lastRepeat = r.reminded || (r.sent && !g.last_repeat_at) ? r.now : (g.last_repeat_at?.getTime() ?? lastFlush);
    const reminder = this.settings.repeatIntervalMs > 0 && r.firingLeft && lastRepeat !== null ? lastRepeat + this.settings.repeatIntervalMs : Infinity;
    const next = Math.min(r.heldUntil, reminder);
    await tx.query(
      `UPDATE alert_groups SET next_flush_at = to_timestamp($3::float8 / 1000.0), last_flush_at = to_timestamp($4::float8 / 1000.0), last_repeat_at = to_timestamp($5::float8 / 1000.0)
       WHERE channel_id = $1 AND group_key = $2`,
      [g.channel_id, g.group_key, Number.isFinite(next) ? next : null, lastFlush, lastRepeat],
    );
  }

  async #queue(tx: Queryable, channel: OpenChannel, groupKey: string, message: ReturnType<typeof render>) {
    await tx.query(
      `INSERT INTO notifications (id, channel_id, channel_name, kind, group_key, title, payload) VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)`,
      [message.id, channel.id, channel.name, message.kind, groupKey, message.title, JSON.stringify(message)],
    );
  }

  /** The end of the silence muting this machine now (the latest, when several do), or null. */
  #mutedUntil(m: HeldMachine, silences: SilenceRow[], now: number): number | null {
    let until: number | null = null;
    const machine: Selectable = { id: m.id, ip_address: m.ip_address, labels: m.labels, extra_data: m.vni === undefined ? {} : { vni: m.vni } };
    for (const s of silences) {
      if (!selects({ machine_ids: s.machine_ids, labels: s.labels, groups: s.groups }, machine, this.settings.group)) continue;
      const end = mutedUntil(s, now);
      if (end !== null) until = Math.max(until ?? 0, end);
    }
    return until;
  }
}

/** The machine a fact is about, as selectors see it: as it is now, or (deleted) as its record was. */
function selectable(fact: ChangeRow): Selectable {
  const record = (fact.details.machine ?? {}) as { labels?: string[]; extra_data?: Record<string, unknown> };
  return { id: fact.machine_id, ip_address: fact.ip_address, labels: fact.labels ?? record.labels ?? [], extra_data: fact.extra_data ?? record.extra_data ?? {} };
}

/** The machine as a message shows it; `vni` is kept so silences by group can still be matched. */
function notified(fact: ChangeRow, m: Selectable, group: string): HeldMachine {
  const mac = fact.details.mac_address as { old?: string; new?: string } | undefined;
  return {
    id: fact.machine_id,
    hostname: fact.hostname,
    ip_address: fact.ip_address,
    status: fact.kind === "unreachable" ? "unreachable" : "active",
    labels: m.labels as string[],
    group,
    since: null,
    outage_seconds: null,
    ...(fact.kind === "updated" && mac?.old ? { detail: `MAC ${mac.old} → ${mac.new}` } : {}),
    ...(m.extra_data.vni === undefined ? {} : { vni: m.extra_data.vni }),
  };
}

function recoveredMachine(a: AlertRow): NotifiedMachine {
  const seconds = a.resolved_at ? (a.resolved_at.getTime() - a.since.getTime()) / 1000 : null;
  return { ...a.machine, status: "active", since: a.since.toISOString(), outage_seconds: seconds };
}

/** The group as messages name it, from its key ("vni 4096", "subnet …", "role=db"). */
function groupOf(key: string): Group {
  const space = key.indexOf(" ");
  if (space > 0 && (key.startsWith("vni ") || key.startsWith("subnet "))) return { by: key.slice(0, space), value: key.slice(space + 1), key };
  const eq = key.indexOf("=");
  return { by: key.slice(0, eq), value: key.slice(eq + 1), key };
}
