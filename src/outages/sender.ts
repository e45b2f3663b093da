// The sender: takes messages from the outbox (notifications) and delivers them through their
// channel. A message is claimed first (FOR UPDATE SKIP LOCKED, committed), so two instances
// never send the same one; the claim lapses after a minute, so a sender that died mid-send
// leaves its message to be taken again. A failure worth retrying (5xx, 429, network, timeout)
// is tried again with exponential backoff and jitter (8 tries over about an hour by default);
// one that is not (4xx, bad settings) fails at once. Each channel sends at most
// max_per_minute messages a minute; the rest wait their turn (counted per instance's pass: two
// instances sending at the same moment may together go a little over).
//
// What cannot be promised: a sender killed after the receiver took the message but before the
// outcome was written sends it again after the claim lapses. The message keeps its id (the
// webhook-id header, the e-mail Message-ID), so receivers can tell.
import { hostname } from "node:os";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { WakeTimer } from "../wake-timer.ts";
import { CHANNEL_KINDS, type Delivery, type Notification } from "./channels/index.ts";
import type { ChannelStore, OpenChannel } from "./channel-store.ts";

export interface SendSettings {
  /** The first retry's delay; each next one doubles it. */
  retryBaseMs: number;
  maxAttempts: number;
}

const CLAIM_MS = 60_000;
/** One send's time limit (each channel also has its own shorter one per request). */
const SEND_TIMEOUT_MS = 30_000;
const CLAIM_BATCH = 20;
const SAFETY_PASS_MS = 60_000;

interface Claimed {
  id: string;
  channel_id: number | null;
  payload: Notification;
  attempts: number;
}

/** When try `attempts` + 1 should happen: base × 2^(attempts−1), ±20 % so a burst of failures spreads out. */
export function retryDelay(attempts: number, baseMs: number, random = Math.random): number {
  return Math.round(baseMs * 2 ** Math.max(0, attempts - 1) * (0.8 + 0.4 * random()));
}

export class Sender {
  readonly #timer: WakeTimer;
  readonly #instance = `${hostname()}:${process.pid}`;
  /** Aborts sends in flight when vxman stops: they count as a failed try, retried after the restart. */
  readonly #stopping = new AbortController();

  constructor(
    private readonly db: Database,
    private readonly channels: ChannelStore,
    private readonly settings: SendSettings,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.#timer = new WakeTimer(() => this.#pass(), SAFETY_PASS_MS, (err) => log.error({ err }, "sending notifications failed; will retry"));
  }

  start(): void {
    this.#timer.start();
  }

  /** Messages were queued: a pass soon. */
  poke(): void {
    this.#timer.soon();
  }

  runOnce(): Promise<void> {
    return this.#timer.now();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#timer.stop();
  }

  async #pass(): Promise<number | null> {
    const claimed = await this.#claim();
    // Per channel, in order (a channel's messages keep their order), channels side by side.
    const byChannel = Map.groupBy(claimed, (c) => c.channel_id);
    await Promise.all([...byChannel].map(([id, messages]) => this.#deliverAll(id, messages)));
    if (claimed.length === CLAIM_BATCH) return Date.now();
    const [next] = await this.db.query<{ at: Date | null }>(
      `SELECT min(CASE WHEN status = 'pending' THEN next_attempt_at ELSE claimed_until END) AS at
       FROM notifications WHERE status IN ('pending', 'sending')`,
    );
    return next?.at?.getTime() ?? null;
  }

  async #deliverAll(channelId: number | null, messages: Claimed[]) {
    const channel = channelId === null ? null : await this.channels.openOne(channelId).catch(() => null);
    if (!channel) {
      for (const c of messages) await this.#record(c, { ok: false, retry: false, status: "no channel", detail: "the channel was deleted" });
      return;
    }
    let allowance = channel.maxPerMinute - (await this.#sentLastMinute(channel.id));
    for (const c of messages) {
      if (allowance-- <= 0) await this.#postpone(c);
      else await this.#deliver(c, channel);
    }
  }

  async #claim(): Promise<Claimed[]> {
    return this.db.query<Claimed>(
      `UPDATE notifications SET status = 'sending', attempts = attempts + 1, claimed_by = $1,
         claimed_until = now() + $2::float8 * interval '1 millisecond'
       WHERE id IN (
         SELECT id FROM notifications
         WHERE (status = 'pending' AND next_attempt_at <= now()) OR (status = 'sending' AND claimed_until < now())
         ORDER BY next_attempt_at LIMIT ${CLAIM_BATCH} FOR UPDATE SKIP LOCKED)
       RETURNING id, channel_id, payload, attempts`,
      [this.#instance, CLAIM_MS],
    );
  }

  async #deliver(c: Claimed, channel: OpenChannel) {
    const kind = CHANNEL_KINDS[channel.kind];
    const delivery: Delivery = kind
      ? await kind.send(channel.settings, c.payload, AbortSignal.any([AbortSignal.timeout(SEND_TIMEOUT_MS), this.#stopping.signal]))
      : { ok: false, retry: false, status: "unknown kind", detail: `no channel kind "${channel.kind}"` };
    await this.#record(c, delivery);
  }

  /** Over its channel's rate: back in the queue for a little later, this try not counted. */
  async #postpone(c: Claimed) {
    await this.db.query(
      "UPDATE notifications SET status = 'pending', attempts = attempts - 1, next_attempt_at = now() + interval '5 seconds', claimed_until = NULL WHERE id = $1",
      [c.id],
    );
  }

  async #sentLastMinute(channelId: number): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM notifications WHERE channel_id = $1 AND sent_at > now() - interval '1 minute'",
      [channelId],
    );
    return row?.n ?? 0;
  }

  async #record(c: Claimed, d: Delivery) {
    const again = !d.ok && (d.retry || this.#stopping.signal.aborted) && c.attempts < this.settings.maxAttempts;
    const status = d.ok ? "sent" : again ? "pending" : "failed";
    const delay = again ? Math.max(d.retryAfterMs ?? 0, retryDelay(c.attempts, this.settings.retryBaseMs)) : 0;
    await this.db.query(
      `UPDATE notifications SET status = $2, last_status = $3, last_detail = $4, claimed_until = NULL,
         sent_at = CASE WHEN $2 = 'sent' THEN now() END, next_attempt_at = now() + $5::float8 * interval '1 millisecond'
       WHERE id = $1`,
      [c.id, status, d.status.slice(0, 100), d.detail.slice(0, 500), delay],
    );
    this.metrics.notifications.inc({ outcome: status === "pending" ? "retry" : status });
    const line = { id: c.id, kind: c.payload.kind, title: c.payload.title, attempt: c.attempts, status: d.status };
    if (d.ok) this.log.info(line, "notification sent");
    else if (again) this.log.warn({ ...line, detail: d.detail, retry_in_ms: delay }, "notification not delivered; will retry");
    else this.log.error({ ...line, detail: d.detail }, "notification failed for good");
  }
}
