// Silences and maintenance windows: mute a machine, a label selector or a group, once (from now
// or a start, for a duration or until an end) or on a schedule (a cron expression in a time
// zone, each time for a duration). Monitoring and the event log go on; the dispatcher holds the
// muted machines' messages until the silence ends.
import { Cron } from "croner";
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database, Queryable } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { NewSilence, Silence } from "./model.ts";

export interface SilenceRow {
  id: number;
  machine_ids: number[];
  labels: string[];
  groups: string[];
  starts_at: Date;
  ends_at: Date | null;
  cron: string | null;
  timezone: string | null;
  duration_ms: number | null;
  comment: string;
  created_by: string;
  created_at: Date;
  expired_at: Date | null;
}

export interface SilenceWindow {
  active: boolean;
  /** The end of the window it is in now (epoch ms), when active. */
  endsAt: number | null;
  /** The next time it starts muting (epoch ms); null when it never will again. */
  nextStartsAt: number | null;
}

/** Where a silence stands at `now`: muting or not, until when, and when next. */
export function windowOf(s: SilenceRow, now: number): SilenceWindow {
  const stop = Math.min(s.ends_at?.getTime() ?? Infinity, s.expired_at?.getTime() ?? Infinity);
  const start = s.starts_at.getTime();
  if (now >= stop) return { active: false, endsAt: null, nextStartsAt: null };
  if (s.cron === null) {
    return now >= start ? { active: true, endsAt: stop, nextStartsAt: null } : { active: false, endsAt: null, nextStartsAt: start };
  }
  const cron = new Cron(s.cron, { timezone: s.timezone ?? "UTC", paused: true });
  const duration = Number(s.duration_ms);
  const last = cron.previousRuns(1, new Date(now + 1))[0]?.getTime();
  const next = cron.nextRun(new Date(Math.max(now, start - 1)))?.getTime() ?? null;
  const nextStartsAt = next !== null && next < stop ? next : null;
  if (last !== undefined && last >= start && now < last + duration) return { active: true, endsAt: Math.min(last + duration, stop), nextStartsAt };
  return { active: false, endsAt: null, nextStartsAt };
}

/** The end of a silence's current window, or null when it is not muting now. */
export const mutedUntil = (s: SilenceRow, now: number): number | null => {
  const w = windowOf(s, now);
  return w.active ? w.endsAt : null;
};

const COLUMNS = "id, machine_ids, labels, groups, starts_at, ends_at, cron, timezone, duration_ms, comment, created_by, created_at, expired_at";

const invalid = (field: string, message: string) => new ApiError(422, "invalid_request", `Invalid ${field}: ${message}.`, [{ field, message }]);

/** A cron expression croner reads, in a time zone the runtime knows; or a 422 naming the field. */
export function checkSchedule(cron: string, timezone: string): void {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw invalid("schedule.timezone", "must be an IANA time zone such as Europe/Berlin or UTC");
  }
  try {
    new Cron(cron, { timezone, paused: true });
  } catch (err) {
    throw invalid("schedule.cron", `is not a cron expression (${(err as Error).message.slice(0, 120)})`);
  }
}

export function toSilence(s: SilenceRow, now: number): Silence {
  const w = windowOf(s, now);
  const iso = (ms: number | null) => (ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString());
  return {
    id: s.id,
    machine_ids: s.machine_ids,
    labels: s.labels,
    groups: s.groups,
    starts_at: s.starts_at.toISOString(),
    ends_at: s.ends_at?.toISOString() ?? null,
    schedule: s.cron === null ? null : { cron: s.cron, timezone: s.timezone ?? "UTC", duration_seconds: Number(s.duration_ms) / 1000 },
    comment: s.comment,
    created_by: s.created_by,
    created_at: s.created_at.toISOString(),
    expired_at: s.expired_at?.toISOString() ?? null,
    active: w.active,
    active_until: iso(w.endsAt),
    next_starts_at: iso(w.nextStartsAt),
  };
}

export class SilenceService {
  constructor(private readonly db: Database) {}

  /** Silences that may still mute (not expired, not over), or all of them. */
  async rows(includeOver = false, q: Queryable = this.db): Promise<SilenceRow[]> {
    return q.query<SilenceRow>(
      `SELECT ${COLUMNS} FROM silences WHERE $1 OR (expired_at IS NULL AND (ends_at IS NULL OR ends_at > now())) ORDER BY id DESC`,
      [includeOver],
    );
  }

  async create(body: NewSilence, actor: Actor): Promise<Silence> {
    const selector = { machine_ids: body.machine_ids ?? [], labels: body.labels ?? [], groups: body.groups ?? [] };
    if (!selector.machine_ids.length && !selector.labels.length && !selector.groups.length) {
      throw invalid("machine_ids", "a silence needs machine_ids, labels or groups (to mute everything, select a group every machine is in)");
    }
    const now = Date.now();
    const startsAt = body.starts_at ? Date.parse(body.starts_at) : now;
    let endsAt: number | null = body.ends_at ? Date.parse(body.ends_at) : null;
    if (body.schedule) checkSchedule(body.schedule.cron, body.schedule.timezone ?? "UTC");
    else if (body.duration_seconds !== undefined) endsAt = startsAt + body.duration_seconds * 1000;
    if (!body.schedule && endsAt === null) throw invalid("duration_seconds", "give duration_seconds or ends_at (or a schedule)");
    if (endsAt !== null && endsAt <= Math.max(startsAt, now)) throw invalid("ends_at", "must be in the future and after starts_at");
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<SilenceRow>(
        `INSERT INTO silences (machine_ids, labels, groups, starts_at, ends_at, cron, timezone, duration_ms, comment, created_by)
         VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000.0), to_timestamp($5::float8 / 1000.0), $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
        [selector.machine_ids, selector.labels, selector.groups, startsAt, endsAt, body.schedule?.cron ?? null, body.schedule ? (body.schedule.timezone ?? "UTC") : null,
          body.schedule ? body.schedule.duration_seconds * 1000 : null, body.comment ?? "", actor.name],
      );
      await recordEvent(tx, { kind: "silence_created", actor, details: { silence_id: row!.id, ...selector, comment: body.comment ?? "" } });
      return toSilence(row!, Date.now());
    });
  }

  /** Ends a silence now (kept, marked expired). */
  async expire(id: number, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ id: number }>("UPDATE silences SET expired_at = coalesce(expired_at, now()) WHERE id = $1 RETURNING id", [id]);
      if (!row) throw notFound(`Silence ${id}`);
      await recordEvent(tx, { kind: "silence_expired", actor, details: { silence_id: id } });
    });
  }
}
