// What each kind of channel needs (docs/notifications.md), as form fields, and how a form's text
// becomes the settings the API takes. Secrets are never shown again once saved: on an edit, a
// secret left empty is sent as {set: true} (keep it), and an optional one can be removed (null).
import type { Channel } from "../lib/outages.ts";

export type SettingType = "url" | "text" | "number" | "secret" | "select" | "list" | "pem" | "headers";

export interface SettingSpec {
  key: string;
  label: string;
  type: SettingType;
  required?: boolean;
  hint?: string;
  placeholder?: string;
  /** A select's choices: [value, words]. */
  options?: readonly (readonly [string, string])[];
  /** Sent as a number (a select of numbers). */
  numeric?: boolean;
}

export interface KindSpec {
  label: string;
  settings: SettingSpec[];
}

const chatUrl = (label: string, hint: string): SettingSpec[] => [{ key: "url", label, type: "secret", required: true, hint }];

export const KINDS: Record<string, KindSpec> = {
  webhook: {
    label: "Webhook (signed JSON)",
    settings: [
      { key: "url", label: "URL", type: "url", required: true, placeholder: "https://example.org/hooks/vxman", hint: "vxman POSTs each message here as JSON." },
      { key: "secret", label: "Signing secret", type: "secret", required: true, hint: "whsec_ and the base64 of 24 to 64 random bytes; the receiver verifies the Standard Webhooks signature with it." },
      { key: "headers", label: "Extra headers", type: "headers", hint: "E.g. an Authorization for a gateway; values are kept secret." },
    ],
  },
  slack: { label: "Slack (or Mattermost, Rocket.Chat)", settings: chatUrl("Incoming webhook URL", "Whoever has it can post to the channel: kept secret.") },
  discord: { label: "Discord", settings: chatUrl("Webhook URL", "https://discord.com/api/webhooks/…; kept secret.") },
  teams: { label: "Microsoft Teams", settings: chatUrl("Workflow URL", "The HTTP POST URL of a Teams Workflows webhook; kept secret.") },
  ntfy: {
    label: "ntfy",
    settings: [
      { key: "url", label: "Server and topic", type: "secret", required: true, hint: "e.g. https://ntfy.sh/vxman-8f2c1e; on a public server the topic is its only protection, so it is kept secret." },
      { key: "token", label: "Access token (optional)", type: "secret" },
      {
        key: "priority", label: "Priority", type: "select", numeric: true,
        options: [["", "4 for trouble, 3 otherwise"], ["1", "1 (min)"], ["2", "2 (low)"], ["3", "3 (default)"], ["4", "4 (high)"], ["5", "5 (urgent)"]],
      },
    ],
  },
  telegram: {
    label: "Telegram",
    settings: [
      { key: "bot_token", label: "Bot token", type: "secret", required: true, hint: "From @BotFather: 123456789:AAE…" },
      { key: "chat_id", label: "Chat id", type: "text", required: true, hint: "A number such as -1001234567890, or a public channel's @username." },
      { key: "api_url", label: "Bot API server (optional)", type: "url", placeholder: "https://api.telegram.org" },
    ],
  },
  email: {
    label: "E-mail",
    settings: [
      { key: "host", label: "SMTP server", type: "text", required: true, placeholder: "smtp.example.org" },
      { key: "port", label: "Port", type: "number", required: true, hint: "587 for starttls, 465 for tls, 25 for none." },
      { key: "security", label: "Security", type: "select", required: true, options: [["starttls", "STARTTLS (port 587)"], ["tls", "TLS (port 465)"], ["none", "none (a local relay)"]] },
      { key: "username", label: "User name (optional)", type: "text" },
      { key: "password", label: "Password (optional)", type: "secret" },
      { key: "from", label: "From", type: "text", required: true, placeholder: "vxman <vxman@example.org>" },
      { key: "to", label: "To", type: "list", required: true, hint: "1 to 20 addresses, one per line or separated by commas." },
      { key: "ca", label: "Private CA (optional)", type: "pem", hint: "PEM text of a CA to trust besides the system's." },
    ],
  },
};

/** What an edited webhook header is: kept from before (value unseen), new, or to be removed. */
export interface HeaderRow {
  name: string;
  value: string;
  stored: boolean;
  removed: boolean;
}

export interface SettingsDraft {
  values: Record<string, string>;
  /** Optional secrets saved before that are to be removed. */
  clear: Record<string, boolean>;
  headers: HeaderRow[];
}

/** A stored secret reads {set: true}. */
export const isSet = (v: unknown): boolean => typeof v === "object" && v !== null && (v as { set?: unknown }).set === true;

/** The form's starting text: empty for a new channel; a saved channel's values, secrets left empty. */
export function draftOf(kind: string, saved?: Channel["settings"]): SettingsDraft {
  const values: Record<string, string> = {};
  const headers: HeaderRow[] = [];
  for (const spec of KINDS[kind]?.settings ?? []) {
    const v = saved?.[spec.key];
    if (spec.type === "headers") {
      for (const name of Object.keys((v as Record<string, unknown> | undefined) ?? {})) headers.push({ name, value: "", stored: true, removed: false });
    } else if (spec.type === "secret") values[spec.key] = "";
    else if (spec.type === "list") values[spec.key] = Array.isArray(v) ? v.join("\n") : "";
    else values[spec.key] = v === undefined || v === null ? (spec.type === "select" && spec.required ? spec.options![0]![0] : "") : String(v);
  }
  return { values, clear: {}, headers };
}

function headersBody(rows: HeaderRow[], editing: boolean): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const r of rows) {
    const name = r.name.trim();
    if (!name) continue;
    if (r.stored) out[name] = r.removed ? null : r.value ? r.value : { set: true };
    else if (!r.removed) out[name] = r.value;
  }
  return Object.keys(out).length || editing ? out : undefined;
}

/**
 * The settings to send. A new channel gets what was filled in. An edit is a merge patch: a
 * secret left empty is {set: true} (kept), one marked to clear is null, an emptied optional
 * field is null (cleared); numbers and lists are sent as such (or as typed, for the server to
 * name what is wrong).
 */
export function settingsBody(kind: string, draft: SettingsDraft, saved?: Channel["settings"]): Record<string, unknown> {
  const editing = saved !== undefined;
  const out: Record<string, unknown> = {};
  for (const spec of KINDS[kind]?.settings ?? []) {
    const raw = (draft.values[spec.key] ?? "").trim();
    const before = saved?.[spec.key];
    const wasThere = before !== undefined && before !== null && !(typeof before === "object" && !Array.isArray(before) && (before as { set?: unknown }).set === false);
    switch (spec.type) {
      case "headers": {
        const headers = headersBody(draft.headers, editing);
        if (headers) out[spec.key] = headers;
        break;
      }
      case "secret":
        if (draft.clear[spec.key]) out[spec.key] = null;
        else if (raw) out[spec.key] = raw;
        else if (isSet(before)) out[spec.key] = { set: true };
        break;
      case "list": {
        const items = raw.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
        if (items.length) out[spec.key] = items;
        else if (wasThere) out[spec.key] = null;
        break;
      }
      default:
        if (!raw) {
          if (wasThere) out[spec.key] = null;
        } else if (spec.type === "number" || spec.numeric) {
          out[spec.key] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
        } else out[spec.key] = raw;
    }
  }
  return out;
}

/** A new Standard Webhooks secret, made in this browser: whsec_ and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}
