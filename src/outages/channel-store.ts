// Channels, as admins manage them: the settings checked by the channel's own kind, secrets sealed
// at rest (the whole settings object, AES-256-GCM, bound to the channel's row) and never returned
// (the API and the `settings` column only ever hold the redacted form).
import { recordEvent, type Actor } from "../api/events/record.ts";
import type { Database, Queryable } from "../db/index.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { SecretBox } from "../secrets/box.ts";
import { CHANNEL_KINDS, mergeSettings, redactSettings, validateSettings } from "./channels/index.ts";
import type { Channel, ChannelPatch, NewChannel } from "./model.ts";
import type { Selector } from "./selectors.ts";

interface ChannelRow {
  id: number;
  name: string;
  kind: string;
  settings: Record<string, unknown>;
  secrets: string | null;
  events: string[];
  filter: Selector;
  enabled: boolean;
  max_per_minute: number;
  created_at: Date;
  updated_at: Date;
}

/** A channel ready to send through: its full settings, opened. */
export interface OpenChannel {
  id: number;
  name: string;
  kind: string;
  settings: Record<string, unknown>;
  events: string[];
  filter: Selector;
  maxPerMinute: number;
}

const COLUMNS = "id, name, kind, settings, secrets, events, filter, enabled, max_per_minute, created_at, updated_at";
const aadOf = (id: number) => `channel:${id}`;

function toChannel(r: ChannelRow): Channel {
  const { secrets: _, ...rest } = r;
  return { ...rest, filter: r.filter as Record<string, unknown>, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() };
}

function checkSettings(kind: string, settings: unknown): void {
  if (!CHANNEL_KINDS[kind]) {
    throw new ApiError(422, "invalid_request", `Invalid kind: must be one of ${Object.keys(CHANNEL_KINDS).join(", ")}.`, [
      { field: "kind", message: `must be one of ${Object.keys(CHANNEL_KINDS).join(", ")}` },
    ]);
  }
  const problems = validateSettings(kind, settings);
  if (problems.length) throw new ApiError(422, "invalid_request", `Invalid settings — ${problems.map((p) => `${p.field}: ${p.message}`).join("; ")}.`, problems);
}

export class ChannelStore {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
  ) {}

  async list(): Promise<Channel[]> {
    return (await this.db.query<ChannelRow>(`SELECT ${COLUMNS} FROM channels ORDER BY lower(name)`)).map(toChannel);
  }

  async get(id: number): Promise<Channel> {
    return toChannel(await this.#row(id));
  }

  /** Enabled channels with their settings opened: what the dispatcher and the sender use. */
  async openAll(q: Queryable = this.db): Promise<OpenChannel[]> {
    const rows = await q.query<ChannelRow>(`SELECT ${COLUMNS} FROM channels WHERE enabled ORDER BY id`);
    return Promise.all(rows.map((r) => this.#open(r)));
  }

  async openOne(id: number): Promise<OpenChannel> {
    return this.#open(await this.#row(id));
  }

  async create(body: NewChannel, actor: Actor): Promise<Channel> {
    checkSettings(body.kind, body.settings);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<ChannelRow>(
        `INSERT INTO channels (name, kind, settings, events, filter, enabled, max_per_minute)
         VALUES ($1, $2, $3::text::jsonb, $4, $5::text::jsonb, $6, $7) ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
        [body.name, body.kind, JSON.stringify(redactSettings(body.kind, body.settings)), body.events, JSON.stringify(body.filter ?? {}), body.enabled ?? true, body.max_per_minute ?? 20],
      );
      if (!row) throw new ApiError(409, "conflict", `A channel named "${body.name}" exists already.`);
      await this.#seal(tx, row.id, body.settings);
      await recordEvent(tx, { kind: "channel_created", actor, details: { channel_id: row.id, name: row.name, kind: row.kind, events: row.events } });
      return toChannel(row);
    });
  }

  async update(id: number, patch: ChannelPatch, actor: Actor): Promise<Channel> {
    const current = await this.#open(await this.#row(id));
    const settings = patch.settings ? mergeSettings(current.kind, current.settings, patch.settings) : current.settings;
    if (patch.settings) checkSettings(current.kind, settings);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<ChannelRow>(
        `UPDATE channels SET name = coalesce($2, name), settings = $3::text::jsonb, events = coalesce($4, events),
           filter = coalesce($5::text::jsonb, filter), enabled = coalesce($6, enabled), max_per_minute = coalesce($7, max_per_minute), updated_at = now()
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, patch.name ?? null, JSON.stringify(redactSettings(current.kind, settings)), patch.events ?? null, patch.filter ? JSON.stringify(patch.filter) : null, patch.enabled ?? null, patch.max_per_minute ?? null],
      ).catch((err) => {
        if ((err as { code?: string }).code === "23505") throw new ApiError(409, "conflict", `A channel named "${patch.name}" exists already.`);
        throw err;
      });
      if (!row) throw notFound(`Channel ${id}`);
      await this.#seal(tx, id, settings);
      // What changed, never the settings' values (secrets among them): their names only.
      const changed = Object.keys(patch).map((k) => (k === "settings" ? `settings (${Object.keys(patch.settings ?? {}).join(", ")})` : k));
      await recordEvent(tx, { kind: "channel_changed", actor, details: { channel_id: id, name: row.name, changed } });
      return toChannel(row);
    });
  }

  async remove(id: number, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ name: string }>("DELETE FROM channels WHERE id = $1 RETURNING name", [id]);
      if (!row) throw notFound(`Channel ${id}`);
      await recordEvent(tx, { kind: "channel_deleted", actor, details: { channel_id: id, name: row.name } });
    });
  }

  async #row(id: number): Promise<ChannelRow> {
    const [row] = await this.db.query<ChannelRow>(`SELECT ${COLUMNS} FROM channels WHERE id = $1`, [id]);
    if (!row) throw notFound(`Channel ${id}`);
    return row;
  }

  async #seal(tx: Queryable, id: number, settings: Record<string, unknown>) {
    await tx.query("UPDATE channels SET secrets = $2 WHERE id = $1", [id, await this.box.seal(JSON.stringify(settings), aadOf(id))]);
  }

  async #open(r: ChannelRow): Promise<OpenChannel> {
    const settings = r.secrets ? (JSON.parse(await this.box.open(r.secrets, aadOf(r.id))) as Record<string, unknown>) : r.settings;
    return { id: r.id, name: r.name, kind: r.kind, settings, events: r.events, filter: r.filter, maxPerMinute: r.max_per_minute };
  }
}
