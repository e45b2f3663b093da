// The machine registry: register (upsert by IP), heartbeat, read, delete (lists come from the
// in-memory directory, directory.ts). Every write and
// its audit event commit together; changes are published only after they are committed.
import type { ChangeFeed } from "../../changes.ts";
import { AnalyzeAfterGrowth } from "../../db/analyze-after-growth.ts";
import { Batcher } from "../../db/batcher.ts";
import type { Database, Queryable } from "../../db/index.ts";
import { recordEvent, type Actor } from "../events/record.ts";
import type { Logger } from "../../log.ts";
import { ApiError } from "../../http/errors.ts";
import { normalizeMac } from "./address.ts";
import { groupsOf, normalizeLabels, type GroupOptions } from "../../outages/groups.ts";
import type { Machine, MachinePatch, RegisterBody } from "./model.ts";

/** The columns of the Machine JSON, from machines `m` and ping_state `p`. */
export const MACHINE_COLUMNS = `
  m.id, m.hostname, host(m.ip_address) AS ip_address, m.mac_address::text AS mac_address,
  m.status, m.extra_data, m.labels, m.notes, m.created_at, m.updated_at, greatest(m.last_seen, p.last_reply_at) AS last_seen,
  coalesce(p.consecutive_failures, 0) AS consecutive_failures, p.last_rtt_ms,
  p.last_checked_at, p.next_check_at,
  coalesce((SELECT string_agg(CASE WHEN s.rtt_ms IS NULL THEN '0' ELSE '1' END, '' ORDER BY s.checked_at)
            FROM (SELECT rtt_ms, checked_at FROM ping_samples WHERE machine_id = m.id ORDER BY checked_at DESC LIMIT 30) s), '') AS recent_checks`;

/** The same, for statements that only have `m` (RETURNING): its ping state looked up. */
const MACHINE_COLUMNS_OF_M = MACHINE_COLUMNS.replace(/\bp\.(\w+)/g, "(SELECT $1 FROM ping_state p WHERE p.machine_id = m.id)");

type MachineRow = Omit<Machine, "created_at" | "updated_at" | "last_seen" | "last_checked_at" | "next_check_at"> & {
  created_at: Date;
  updated_at: Date;
  last_seen: Date;
  last_checked_at: Date | null;
  next_check_at: Date | null;
};

/** A row of MACHINE_COLUMNS as the API shows it (times in ISO 8601, UTC; its built-in groups). */
export function toMachine(row: MachineRow, groups: GroupOptions): Machine {
  return {
    ...row,
    groups: groupsOf(row, groups),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    last_seen: row.last_seen.toISOString(),
    last_checked_at: row.last_checked_at?.toISOString() ?? null,
    next_check_at: row.next_check_at?.toISOString() ?? null,
  };
}

// New registrations take this lock so "count, then insert" is atomic: the machine limit holds
// exactly however many registrations arrive at once. Updates of known IPs never take it.
const REGISTRATION_LOCK = 0x7678_7267; // "vxrg"

// The common case: a machine re-registers with exactly what it had; only last_seen moves. Run
// batched (db/batcher.ts): one statement for every re-registration waiting. A request whose row
// does not come back as a hit (something changed, or a second request for the same IP in the
// batch: only one of them joins) takes the single-row update below; an IP not stored at all comes
// back without a machine, so a new machine goes straight to the batched creation (an enrolment
// storm is all new IPs: one update statement each, missing, would be most of its cost).
// A hit returns its id and last_seen only: the rest of the answer is the machine as the list
// shows it (see MachineService.touchMany), so the statement reads no ping state and no recent
// checks, and nothing comes back to be parsed.
// Rows are locked in id order, as every statement that updates many machines does, so a batch
// and the monitor's status writes (or batches side by side) cannot deadlock. NO KEY UPDATE, the
// lock a plain UPDATE takes: FOR UPDATE would also wait on the foreign-key checks of the
// monitor's big state writes (and deadlock with them: seen in the bench).
export const TOUCH_UNCHANGED = `
WITH t AS (
  SELECT * FROM unnest($1::inet[], $2::text[], $3::macaddr[], $4::text[], $5::text[]) WITH ORDINALITY AS t(ip, hostname, mac, extra, labels, n)
), hit AS (
  SELECT m.id, t.n
  FROM machines m
  JOIN t ON m.ip_address = t.ip AND m.hostname = t.hostname AND m.mac_address = t.mac
   AND (t.extra IS NULL OR m.extra_data = t.extra::jsonb)
   AND (t.labels IS NULL OR m.labels = string_to_array(t.labels, E'\n'))
  ORDER BY m.id FOR NO KEY UPDATE OF m
), touched AS (
  UPDATE machines m SET last_seen = now() FROM hit WHERE m.id = hit.id
  RETURNING hit.n AS hit, m.id, m.last_seen
)
SELECT t.n::int AS n, touched.hit, touched.id, touched.last_seen FROM t LEFT JOIN touched ON touched.hit = t.n
WHERE touched.hit IS NOT NULL OR NOT EXISTS (SELECT FROM machines m WHERE m.ip_address = t.ip)`;

// Update a known IP in one statement: the new values, last_seen, and an `updated` event with
// old and new values of whatever changed. Returns no row when the IP is not registered.
const UPDATE_BY_IP = `
WITH old AS (
  SELECT id, hostname, mac_address, extra_data, labels FROM machines WHERE ip_address = $1::inet FOR NO KEY UPDATE
), upd AS (
  UPDATE machines m SET
    hostname = $2,
    mac_address = $3::macaddr,
    extra_data = coalesce($4::text::jsonb, m.extra_data),
    labels = coalesce(string_to_array($5, E'\n'), m.labels),
    updated_at = CASE WHEN (m.hostname, m.mac_address, m.extra_data, m.labels)
                   IS DISTINCT FROM ($2, $3::macaddr, coalesce($4::text::jsonb, m.extra_data), coalesce(string_to_array($5, E'\n'), m.labels))
                 THEN now() ELSE m.updated_at END,
    last_seen = now()
  FROM old WHERE m.id = old.id
  RETURNING ${MACHINE_COLUMNS_OF_M}, jsonb_strip_nulls(jsonb_build_object(
    'hostname',    CASE WHEN old.hostname <> m.hostname THEN jsonb_build_object('old', old.hostname, 'new', m.hostname) END,
    'mac_address', CASE WHEN old.mac_address <> m.mac_address
                        THEN jsonb_build_object('old', old.mac_address::text, 'new', m.mac_address::text) END,
    'extra_data',  CASE WHEN old.extra_data <> m.extra_data THEN jsonb_build_object('old', old.extra_data, 'new', m.extra_data) END,
    'labels',      CASE WHEN old.labels <> m.labels THEN jsonb_build_object('old', to_jsonb(old.labels), 'new', to_jsonb(m.labels)) END
  )) AS changes
), event AS (
  INSERT INTO events (kind, machine_id, ip_address, hostname, details, actor, actor_address)
  SELECT 'updated', id, ip_address::inet, hostname, changes, $6, $7 FROM upd WHERE changes <> '{}'::jsonb
)
SELECT *, changes <> '{}'::jsonb AS changed FROM upd`;

// New machines, a batch at a time (see createMany), under the registration lock: the first copy
// of each IP not stored yet ("fresh"), as many as the limit has room for in arrival order, each
// with its `registered` event. Room is counted up to the limit only: the count's cost is bounded
// by MAX_MACHINES, not by the size of the table. Returns every fresh row, created or not.
const INSERT_MACHINES = `
WITH t AS (
  SELECT * FROM unnest($1::inet[], $2::text[], $3::macaddr[], $4::text[], $5::text[], $6::text[], $7::text[])
    WITH ORDINALITY AS t(ip, hostname, mac, extra, labels, actor, actor_address, n)
), fresh AS (
  SELECT DISTINCT ON (ip) * FROM t WHERE NOT EXISTS (SELECT FROM machines m WHERE m.ip_address = t.ip) ORDER BY ip, n
), chosen AS (
  SELECT * FROM fresh ORDER BY n
  LIMIT greatest(0, $8::int - (SELECT count(*) FROM (SELECT FROM machines LIMIT $8::int) stored))
), ins AS (
  INSERT INTO machines AS m (hostname, ip_address, mac_address, extra_data, labels)
  SELECT hostname, ip, mac, coalesce(extra::jsonb, '{}'::jsonb), coalesce(string_to_array(labels, E'\n'), '{}') FROM chosen ORDER BY n
  ON CONFLICT (ip_address) DO NOTHING
  RETURNING m.ip_address AS ip, ${MACHINE_COLUMNS_OF_M}
), event AS (
  INSERT INTO events (kind, machine_id, ip_address, hostname, details, actor, actor_address)
  SELECT 'registered', ins.id, ins.ip, ins.hostname,
         jsonb_build_object('mac_address', ins.mac_address, 'extra_data', ins.extra_data, 'labels', to_jsonb(ins.labels)), c.actor, c.actor_address
  FROM ins JOIN chosen c ON c.ip = ins.ip
)
SELECT f.n::int AS n, c.n IS NOT NULL AS chosen, ins.*
FROM fresh f LEFT JOIN chosen c ON c.n = f.n LEFT JOIN ins ON ins.ip = f.ip`;

function machineLimit(max: number): ApiError {
  return new ApiError(503, "machine_limit", `vxman holds its limit of ${max} machines (MAX_MACHINES); delete unused machines or raise the limit.`, undefined, {
    "retry-after": "3600",
  });
}

/** A registration not answered yet: its IP is stored (update it) or it is not (create it). */
type Pending = "known" | "new";

export interface RegisterResult {
  machine: Machine;
  created: boolean;
  /** False when a known machine re-registered with exactly what it had. */
  changed: boolean;
}

export class MachineService {
  // One batch in flight at a time: measured side by side (wrk, 32 connections, PostgreSQL), one
  // gave the best p99 (19-27 ms, against 27-42 with 4 and 45-70 with 8) at a similar throughput.
  private readonly touches = new Batcher<unknown[], RegisterResult | Pending>((batch) => this.touchMany(batch), { maxInFlight: 1 });
  // New machines likewise (an enrolment storm after a power cut): one transaction a batch. One in
  // flight, as they take the registration lock in turn anyway.
  private readonly creations = new Batcher<unknown[], RegisterResult | "full">((batch) => this.createMany(batch), { maxInFlight: 1 });
  // After a storm of new machines, the statistics the re-registrations are planned with.
  private readonly statistics: AnalyzeAfterGrowth;

  constructor(
    private readonly db: Database,
    private readonly feed: ChangeFeed,
    private readonly log: Logger,
    private readonly maxMachines: number,
    /** How machines fall into groups (GROUP_BY's subnet sizes): each machine carries its groups. */
    private readonly groups: GroupOptions,
    /** A machine as the list shows it (directory.ts), if it is there yet. */
    private readonly shown: (id: number) => Machine | undefined = () => undefined,
  ) {
    this.statistics = new AnalyzeAfterGrowth(db, "machines", log);
  }

  /** Upsert by IP: 201 semantics when created, 200 when it existed (never a duplicate). */
  async register(ip: string, body: RegisterBody, actor: Actor): Promise<RegisterResult> {
    // Labels travel as one string per machine (no label holds a newline): a batch's rows of
    // different lengths could not be one text[][] parameter.
    const labels = body.labels === undefined ? null : normalizeLabels(body.labels).join("\n");
    const params = [ip, body.hostname, normalizeMac(body.mac_address), body.extra_data === undefined ? null : JSON.stringify(body.extra_data), labels];
    // Unchanged re-registrations write no event, so they are batched without an actor.
    const withActor = [...params, actor.name, actor.address];
    let result: RegisterResult | Pending | "full" = await this.touches.submit(params);
    if (result === "known") result = (await this.update(withActor)) ?? "new"; // none: deleted meanwhile
    if (result === "new") result = await this.creations.submit(withActor);
    if (result === "full") throw machineLimit(this.maxMachines);
    this.announce(result, ip);
    return result;
  }

  /**
   * One statement for a batch of re-registrations: each one a hit, or known, or new. A hit is
   * answered with the machine as the list shows it, with its new last_seen: the same machine a
   * list asked at that moment shows, and its ping state fresher than the database's (written every
   * few seconds). Making the whole row in the statement instead (its ping state, its last 30
   * checks, five timestamps parsed and printed again) was most of a re-registration's cost on both
   * sides. A machine not in the list yet (another instance's, not relayed yet) is answered as a
   * known one: by the single-row update, which returns the whole row.
   */
  private async touchMany(batch: unknown[][]): Promise<(RegisterResult | Pending)[]> {
    const columns = [0, 1, 2, 3, 4].map((c) => batch.map((params) => params[c]));
    const rows = await this.db.query<{ n: number; hit: unknown; id: number | null; last_seen: Date | null }>(TOUCH_UNCHANGED, columns);
    const results: (RegisterResult | Pending)[] = batch.map(() => "known");
    for (const { n, hit, id, last_seen } of rows) {
      if (hit == null) results[n - 1] = "new";
      else {
        const shown = this.shown(id!);
        if (shown) results[n - 1] = { machine: { ...shown, last_seen: last_seen!.toISOString() }, created: false, changed: false };
      }
    }
    return results;
  }

  /**
   * A batch of new IPs in one transaction under the registration lock, so count and insert are
   * one step for every instance on the database: the limit holds exactly however many arrive at
   * once. A row whose IP is stored after all (another request created it, maybe one of this
   * batch) is updated here, under the lock, as the single-row path would: never refused for the
   * limit then. If that row was deleted meanwhile, the next pass inserts it; nobody else can
   * insert while the lock is held and nobody can delete what this transaction inserted, so a
   * second pass settles every row.
   */
  private async createMany(batch: unknown[][]): Promise<(RegisterResult | "full")[]> {
    const results = await this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [REGISTRATION_LOCK]);
      const results: (RegisterResult | "full" | null)[] = batch.map(() => null);
      for (let pass = 1; results.includes(null); pass++) {
        if (pass > 3) throw new Error("new registrations did not settle in three passes under the registration lock");
        const pending = batch.flatMap((_, i) => (results[i] === null ? [i] : []));
        const outcomes = await this.insertNew(tx, pending.map((i) => batch[i]!));
        for (const [k, i] of pending.entries()) results[i] = outcomes[k] === "known" ? await this.update(batch[i]!, tx) : outcomes[k]!;
      }
      return results as (RegisterResult | "full")[];
    });
    this.statistics.grew(results.filter((r) => r !== "full" && r.created).length);
    return results;
  }

  /** INSERT_MACHINES for these rows: each created, refused (as is every copy of a refused IP), or known. */
  private async insertNew(tx: Queryable, rows: unknown[][]): Promise<(RegisterResult | "known" | "full")[]> {
    const columns = [0, 1, 2, 3, 4, 5, 6].map((c) => rows.map((params) => params[c]));
    const fresh = await tx.query<MachineRow & { n: number; chosen: boolean; ip: unknown }>(INSERT_MACHINES, [...columns, this.maxMachines]);
    const refused = new Set(fresh.filter((r) => !r.chosen).map((r) => rows[r.n - 1]![0]));
    const results = rows.map((params): RegisterResult | "known" | "full" => (refused.has(params[0]) ? "full" : "known"));
    for (const { n, chosen: _, ip: _ip, ...row } of fresh) {
      if (row.id != null) results[n - 1] = { machine: toMachine(row, this.groups), created: true, changed: true };
    }
    return results;
  }

  private async update(params: unknown[], q: Queryable = this.db): Promise<RegisterResult | null> {
    const [row] = await q.query<MachineRow & { changes: unknown; changed: boolean }>(UPDATE_BY_IP, params);
    if (!row) return null;
    const { changes: _, changed, ...machine } = row;
    return { machine: toMachine(machine, this.groups), created: false, changed };
  }

  private announce({ machine, created, changed }: RegisterResult, ip: string) {
    const fields = { machine_id: machine.id, ip, hostname: machine.hostname, mac: machine.mac_address };
    if (created) {
      this.log.info(fields, "machine registered");
      this.feed.publish({ type: "machine_registered", machine });
      return;
    }
    if (changed) {
      this.log.info(fields, "machine updated");
      this.feed.publish({ type: "machine_updated", machine });
    }
    this.feed.publish({ type: "machine_seen", machine_id: machine.id, at: new Date(machine.last_seen), via: "registration" });
  }

  /** A machine says it is alive. Returns false when the IP is not registered. */
  async heartbeat(ip: string): Promise<boolean> {
    const [row] = await this.db.query<{ id: number; last_seen: Date }>(
      "UPDATE machines SET last_seen = now() WHERE ip_address = $1::inet RETURNING id, last_seen",
      [ip],
    );
    if (!row) return false;
    this.feed.publish({ type: "machine_seen", machine_id: row.id, at: row.last_seen, via: "heartbeat" });
    return true;
  }

  /** Every machine, oldest first: what dashboards start from. */
  async all(): Promise<Machine[]> {
    const rows = await this.db.query<MachineRow>(
      `SELECT ${MACHINE_COLUMNS} FROM machines m LEFT JOIN ping_state p ON p.machine_id = m.id ORDER BY m.id`,
    );
    return rows.map((row) => toMachine(row, this.groups));
  }

  /** These machines as they are now (the ones that still exist), for the cluster's change bridge. */
  async byIds(ids: number[]): Promise<Machine[]> {
    const rows = await this.db.query<MachineRow>(
      `SELECT ${MACHINE_COLUMNS} FROM machines m LEFT JOIN ping_state p ON p.machine_id = m.id WHERE m.id = ANY($1::int[])`,
      [ids],
    );
    return rows.map((row) => toMachine(row, this.groups));
  }

  /** By numeric id or by IP address. */
  async get(ref: string, q: Queryable = this.db): Promise<Machine | null> {
    const byId = /^\d{1,9}$/.test(ref);
    const [row] = await q.query<MachineRow>(
      `SELECT ${MACHINE_COLUMNS} FROM machines m LEFT JOIN ping_state p ON p.machine_id = m.id
       WHERE ${byId ? "m.id = $1::int" : "m.ip_address = $1::inet"}`,
      [ref],
    );
    return row ? toMachine(row, this.groups) : null;
  }

  /** RTT history, oldest first: the last `limit` samples (since `since`, when given). Null when the machine is unknown. */
  async samples(ref: string, since: string | undefined, limit: number): Promise<{ checked_at: string; rtt_ms: number | null }[] | null> {
    const machine = await this.get(ref);
    if (!machine) return null;
    const rows = await this.db.query<{ checked_at: Date; rtt_ms: number | null }>(
      `SELECT checked_at, rtt_ms FROM (
         SELECT checked_at, rtt_ms FROM ping_samples WHERE machine_id = $1 AND ($2::timestamptz IS NULL OR checked_at >= $2)
         ORDER BY checked_at DESC LIMIT $3
       ) recent ORDER BY checked_at`,
      [machine.id, since ?? null, limit],
    );
    return rows.map((r) => ({ checked_at: r.checked_at.toISOString(), rtt_ms: r.rtt_ms }));
  }

  /** An operator's change of a machine's notes or labels; each change logged (old and new). */
  async edit(id: number, patch: MachinePatch, actor: Actor): Promise<Machine | null> {
    const machine = await this.db.transaction(async (tx) => {
      const [old] = await tx.query<{ notes: string; labels: string[] }>("SELECT notes, labels FROM machines WHERE id = $1 FOR NO KEY UPDATE", [id]);
      if (!old) return null;
      const notes = patch.notes ?? old.notes;
      const labels = patch.labels === undefined ? old.labels : normalizeLabels(patch.labels);
      const notesChanged = notes !== old.notes;
      const labelsChanged = labels.join("\n") !== old.labels.join("\n");
      if (!notesChanged && !labelsChanged) return this.get(String(id), tx);
      await tx.query("UPDATE machines SET notes = $2, labels = $3, updated_at = now() WHERE id = $1", [id, notes, labels]);
      const updated = (await this.get(String(id), tx))!;
      if (notesChanged) await recordEvent(tx, { kind: "notes_changed", actor, machine: updated, details: { notes: { old: old.notes, new: notes } } });
      if (labelsChanged) await recordEvent(tx, { kind: "labels_changed", actor, machine: updated, details: { labels: { old: old.labels, new: labels } } });
      return updated;
    });
    if (machine) this.feed.publish({ type: "machine_updated", machine });
    return machine;
  }

  /** Delete, after writing the machine's full record to the event log in the same transaction. */
  async remove(id: number, actor: Actor): Promise<Machine | null> {
    const removed = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<MachineRow>(
        `SELECT ${MACHINE_COLUMNS} FROM machines m LEFT JOIN ping_state p ON p.machine_id = m.id WHERE m.id = $1 FOR UPDATE OF m`,
        [id],
      );
      if (!row) return null;
      const machine = toMachine(row, this.groups);
      await recordEvent(tx, { kind: "deleted", actor, machine, details: { machine } });
      await tx.query("DELETE FROM machines WHERE id = $1", [id]);
      return machine;
    });
    if (removed) {
      this.log.info({ machine_id: id, ip: removed.ip_address, hostname: removed.hostname, by: actor.name }, "machine deleted");
      this.feed.publish({ type: "machine_deleted", machine_id: id });
    }
    return removed;
  }
}
