// The channel kinds vxman can deliver to, and what the API needs to handle their settings
// without ever showing a secret: redact for reads, merge for PATCH, validate for writes.
import type { TSchema } from "@sinclair/typebox";
import { ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import type { ChannelKind, SettingsProblem } from "./channel.ts";
import { discord } from "./discord.ts";
import { email } from "./email.ts";
import { ntfy } from "./ntfy.ts";
import { slack } from "./slack.ts";
import { teams } from "./teams.ts";
import { telegram } from "./telegram.ts";
import { webhook } from "./webhook.ts";

export type { ChannelKind, Delivery, Notification, NotificationKind, NotifiedMachine, SettingsProblem } from "./channel.ts";

// any: each kind has its own settings type; validateSettings checks them before send is called.
export const CHANNEL_KINDS: Record<string, ChannelKind<any>> = { webhook, slack, discord, teams, ntfy, telegram, email };

type SettingsObject = Record<string, unknown>;
/** How a secret reads in the API: whether it is set, never its value. */
export interface SecretState {
  set: boolean;
}

const isObject = (value: unknown): value is SettingsObject => typeof value === "object" && value !== null && !Array.isArray(value);
const isSecretState = (value: unknown): value is SecretState => isObject(value) && Object.keys(value).length === 1 && typeof value.set === "boolean";
const isSet = (value: unknown) => value !== undefined && value !== null && value !== "";

/** Secret field names, and names of records whose every value is secret ("headers.*"). */
function secretsOf(kind: string) {
  const fields = CHANNEL_KINDS[kind]?.secretFields ?? [];
  return {
    plain: new Set(fields.filter((f) => !f.endsWith(".*"))),
    records: new Set(fields.filter((f) => f.endsWith(".*")).map((f) => f.slice(0, -2))),
  };
}

/** The settings as the API shows them: each secret replaced by {set: true|false}, header values too (their names stay). */
export function redactSettings(kind: string, settings: SettingsObject): SettingsObject {
  if (!CHANNEL_KINDS[kind]) return {}; // unknown kind: nothing is known to be safe to show
  const { plain, records } = secretsOf(kind);
  const shown = Object.entries(settings).map(([key, value]): [string, unknown] => {
    if (plain.has(key)) return [key, { set: isSet(value) }];
    if (records.has(key)) return [key, isObject(value) ? Object.fromEntries(Object.entries(value).map(([name, v]) => [name, { set: isSet(v) }])) : { set: isSet(value) }];
    return [key, value];
  });
  const unsetSecrets = [...plain].filter((key) => !(key in settings)).map((key) => [key, { set: false }]);
  // fromEntries, never out[key] = …: a "__proto__" key from JSON stays a plain (invalid) field.
  return Object.fromEntries([...shown, ...unsetSecrets]);
}

/**
 * Settings for a PATCH, as a JSON Merge Patch (RFC 7396): an omitted field keeps the stored one,
 * null clears it, an object is merged field by field (so one header can change without
 * resending the others), anything else replaces. A secret may also be sent back as read:
 * {set: true} keeps the stored value, {set: false} clears it.
 */
export function mergeSettings(kind: string, stored: SettingsObject, patch: SettingsObject): SettingsObject {
  const { plain, records } = secretsOf(kind);
  return mergePatch(stored, patch, (key) => plain.has(key), records);
}

function mergePatch(stored: SettingsObject, patch: SettingsObject, isSecret: (key: string) => boolean, secretRecords = new Set<string>()): SettingsObject {
  const out = new Map(Object.entries(stored));
  for (const [key, value] of Object.entries(patch)) {
    const secret = isSecret(key);
    if (value === undefined || (secret && isSecretState(value) && value.set)) continue; // omitted, or {set: true}: keep
    if (value === null || (secret && isSecretState(value))) out.delete(key);
    else if (isObject(value)) {
      const before = out.get(key);
      out.set(key, mergePatch(isObject(before) ? before : {}, value, () => secretRecords.has(key)));
    } else out.set(key, value);
  }
  return Object.fromEntries(out);
}

/** What is wrong with `settings` for `kind`, one problem per field, each naming it (settings.url). Empty when valid. */
export function validateSettings(kind: string, settings: unknown): SettingsProblem[] {
  const channel = CHANNEL_KINDS[kind];
  if (!channel) return [{ field: "kind", message: `must be one of ${Object.keys(CHANNEL_KINDS).join(", ")}` }];
  if (!isObject(settings)) return [{ field: "settings", message: "must be an object" }];
  const problems = schemaProblems(channel, settings);
  return problems.length ? problems : (channel.check?.(settings) ?? []);
}

function schemaProblems(channel: ChannelKind<unknown>, settings: SettingsObject): SettingsProblem[] {
  const byField = new Map<string, string>();
  for (const error of Value.Errors(channel.settings, settings)) {
    const field = ["settings", ...error.path.split("/").slice(1).map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))].join(".");
    if (!byField.has(field)) byField.set(field, problemMessage(channel, error.type, error.schema, error.message));
  }
  return [...byField].map(([field, message]) => ({ field, message }));
}

function problemMessage(channel: ChannelKind<unknown>, type: ValueErrorType, schema: TSchema, fallback: string): string {
  if (type === ValueErrorType.ObjectRequiredProperty) return "is required";
  if (type === ValueErrorType.ObjectAdditionalProperties && schema === channel.settings) {
    return `is not a setting of ${channel.kind} (it takes ${Object.keys(channel.settings.properties ?? {}).join(", ")})`;
  }
  return typeof schema.error === "string" ? schema.error : fallback;
}
