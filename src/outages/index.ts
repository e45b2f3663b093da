// Routes of outages and notifications: channels (admins), silences (operators), outage history,
// uptime and the delivery log. Who may call each is in the access table (src/people/access.ts).
import { Elysia } from "elysia";
import type { Database } from "../db/index.ts";
import type { accessControl } from "../people/access.ts";
import { CHANNEL_KINDS } from "./channels/index.ts";
import type { ChannelStore } from "./channel-store.ts";
import type { OutageHistory } from "./history.ts";
import { render } from "./messages.ts";
import {
  Channel, ChannelList, ChannelPatch, DeliveryList, DeliveryQuery, IdParam, NewChannel, NewSilence, OutageList, OutageQuery, Silence, SilenceList,
  SilenceQuery, TestResult, UptimeList,
} from "./model.ts";
import { toSilence, type SilenceService } from "./silences.ts";

export interface OutagesDeps {
  access: ReturnType<typeof accessControl>;
  db: Database;
  channels: ChannelStore;
  silences: SilenceService;
  history: OutageHistory;
  publicUrl: string | null;
}

const TEST_TIMEOUT_MS = 15_000;

export function outagesApi({ access, db, channels, silences, history, publicUrl }: OutagesDeps) {
  return new Elysia({ name: "outages-api", detail: { tags: ["outages"] } })
    .use(access)
    .get("/api/channels", async () => ({ items: await channels.list() }), { response: ChannelList, detail: { summary: "Notification channels (admin)" } })
    .post("/api/channels", async ({ body, actor, status }) => status(201, await channels.create(body, actor)), {
      body: NewChannel,
      response: { 201: Channel },
      detail: {
        summary: "Add a notification channel (admin)",
        description: `kind: ${Object.keys(CHANNEL_KINDS).join(", ")}; its settings as docs/notifications.md describes. Secrets are sealed at rest and never returned.`,
      },
    })
    .patch("/api/channels/:id", ({ params, body, actor }) => channels.update(Number(params.id), body, actor), {
      params: IdParam,
      body: ChannelPatch,
      response: Channel,
      detail: { summary: "Change a channel (admin)", description: "settings is a merge patch: omitted fields are kept, null clears one; a secret sent back as {set: true} is kept." },
    })
    .delete("/api/channels/:id", async ({ params, actor, status }) => {
      await channels.remove(Number(params.id), actor);
      return status(204, undefined);
    }, { params: IdParam, detail: { summary: "Delete a channel (admin)" } })
    .post(
      "/api/channels/:id/test",
      async ({ params }) => {
        const channel = await channels.openOne(Number(params.id));
        const message = render("test", { by: "test", value: channel.name, key: `channel ${channel.name}` }, [], new Date().toISOString(), publicUrl);
        message.title = `vxman test message for channel "${channel.name}"`;
        message.text = "This is a test. If you can read it, vxman can reach you here.";
        const delivery = await CHANNEL_KINDS[channel.kind]!.send(channel.settings, message, AbortSignal.timeout(TEST_TIMEOUT_MS));
        await db.query(
          `INSERT INTO notifications (id, channel_id, channel_name, kind, group_key, title, payload, status, attempts, last_status, last_detail, sent_at)
           VALUES ($1, $2, $3, 'test', 'test', $4, $5::text::jsonb, $6, 1, $7, $8, CASE WHEN $6 = 'sent' THEN now() END)`,
          [message.id, channel.id, channel.name, message.title, JSON.stringify(message), delivery.ok ? "sent" : "failed", delivery.status, delivery.detail],
        );
        return { ok: delivery.ok, status: delivery.status, detail: delivery.detail };
      },
      { params: IdParam, response: TestResult, detail: { summary: "Send a test message now (admin)", description: "Answers with what the receiver said; the try is in the delivery log." } },
    )
    .get("/api/silences", async ({ query }) => ({ items: (await silences.rows(query.all ?? false)).map((s) => toSilence(s, Date.now())) }), {
      query: SilenceQuery,
      response: SilenceList,
      detail: { summary: "Silences", description: "Those that may still mute; ?all=true includes expired and past ones." },
    })
    .post("/api/silences", async ({ body, actor, status }) => status(201, await silences.create(body, actor)), {
      body: NewSilence,
      response: { 201: Silence },
      detail: {
        summary: "Mute machines (operator)",
        description: "Select by machine_ids, labels (all) and/or groups (any); for duration_seconds or until ends_at, or on a schedule {cron, timezone, duration_seconds}. Messages are held, never dropped.",
      },
    })
    .delete("/api/silences/:id", async ({ params, actor, status }) => {
      await silences.expire(Number(params.id), actor);
      return status(204, undefined);
    }, { params: IdParam, detail: { summary: "End a silence now (operator)" } })
    .get("/api/outages", ({ query }) => history.list(query), {
      query: OutageQuery,
      response: OutageList,
      detail: { summary: "Outage history, newest first", description: "Filter by machine_id, group (\"vni 4096\", \"subnet …\") and open=true." },
    })
    .get("/api/uptime", () => history.uptime(), {
      response: UptimeList,
      detail: { summary: "Uptime of every machine", description: "Percent of the last 24 h, 7 d and 30 d not in an outage, from the outage history." },
    })
    .get(
      "/api/notifications",
      async ({ query }) => ({ items: await deliveries(db, query) }),
      { query: DeliveryQuery, response: DeliveryList, detail: { summary: "The delivery log (operator)", description: "Each message: channel, status, attempts, the last answer, the next try." } },
    );
}

async function deliveries(db: Database, q: DeliveryQuery) {
  const rows = await db.query<{
    id: string; channel_id: number | null; channel_name: string; kind: string; group_key: string; title: string; status: "pending" | "sending" | "sent" | "failed";
    attempts: number; next_attempt_at: Date; last_status: string | null; last_detail: string | null; created_at: Date; sent_at: Date | null;
  }>(
    `SELECT id::text, channel_id, channel_name, kind, group_key, title, status, attempts, next_attempt_at, last_status, last_detail, created_at, sent_at
     FROM notifications WHERE ($1::int IS NULL OR channel_id = $1) AND ($2::text IS NULL OR status = $2)
     ORDER BY created_at DESC LIMIT $3`,
    [q.channel_id ?? null, q.status ?? null, q.limit ?? 100],
  );
  return rows.map(({ group_key, ...r }) => ({
    ...r,
    group: group_key,
    next_attempt_at: r.status === "pending" || r.status === "sending" ? r.next_attempt_at.toISOString() : null,
    created_at: r.created_at.toISOString(),
    sent_at: r.sent_at?.toISOString() ?? null,
  }));
}
