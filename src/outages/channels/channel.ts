// The contract between the notification pipeline (outbox, grouping, silences) and the channels
// that deliver a message somewhere. As in Alertmanager's notify/, a channel makes ONE attempt and
// says whether another could help; retries, backoff and dedup live in the pipeline around it.
import type { TSchema } from "@sinclair/typebox";

export interface NotifiedMachine {
  id: number;
  hostname: string;
  ip_address: string;
  status: "active" | "unreachable";
  labels: string[];
  /** What the machine was grouped by, as people read it: "vni 4096", "subnet 198.18.0.0/24". */
  group: string;
  /** ISO time it went down; null when it is up. */
  since: string | null;
  /** On recovery: how long it was down. */
  outage_seconds: number | null;
  /** Optional one-line fact about this machine for this message, e.g. "MAC 52:54:00:00:00:01 → 52:54:00:00:00:02". */
  detail?: string;
}

export type NotificationKind = "unreachable" | "recovered" | "still_unreachable" | "registered" | "deleted" | "mac_changed" | "run_failed" | "test";

export interface Notification {
  version: 1;
  /** Unique per message and the SAME on every retry (webhook-id, e-mail Message-ID): receivers dedupe on it. */
  id: string;
  kind: NotificationKind;
  /** What it was grouped by, e.g. {by: "vni", value: "4096"}. */
  group: { by: string; value: string };
  /** One line: "3 machines unreachable in vni 4096". */
  title: string;
  /** Plain text, a few lines. Channels show the machine list from `machines` themselves, and `text`
   *  as the body only when `machines` is empty (run_failed, test); the generic webhook carries both. */
  text: string;
  /** At most the first 50. */
  machines: NotifiedMachine[];
  /** How many machines in all (`machines` may hold fewer). */
  total: number;
  /** ISO time of the latest transition in the message. */
  at: string;
  /** Dashboard link (PUBLIC_URL setting); null when unset. */
  url: string | null;
}

export interface Delivery {
  ok: boolean;
  /** Only when trying again can help: 5xx, 429, network, timeout. Never for 4xx, auth or a bad address. */
  retry: boolean;
  /** "200", "550 5.1.1", "ECONNREFUSED", "timeout". */
  status: string;
  /** Short, for the operator; never a secret. */
  detail: string;
  /** What the receiver asked for (429 Retry-After, Discord's retry_after, Telegram's parameters.retry_after). */
  retryAfterMs?: number;
}

export interface SettingsProblem {
  /** Dotted path from the request body, e.g. "settings.url", "settings.headers.X-Token". */
  field: string;
  message: string;
}

export interface ChannelKind<S> {
  kind: string;
  /** TypeBox schema of the settings, additionalProperties false, with `error` messages that name what is wrong. */
  settings: TSchema;
  /** Settings fields that are secrets: never returned by the API (shown as set/unset), never logged.
   *  "name.*" means every value of the record `name` is a secret (its keys are not). */
  secretFields: readonly string[];
  /** Rules across fields that a schema cannot say (e.g. a password needs a user name). Runs only on settings the schema accepts. */
  check?(settings: S): SettingsProblem[];
  /** One attempt. Never throws: a failure is a Delivery with ok false; retry true only when trying again can help (5xx, 429, network, timeout), false for 4xx / auth / bad address. */
  send(settings: S, message: Notification, signal: AbortSignal): Promise<Delivery>;
}
