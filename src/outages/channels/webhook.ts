// Generic webhook: POSTs the Notification itself as JSON (schema version 1, documented in
// docs/notifications.md), signed per the Standard Webhooks spec so the receiver can check that
// vxman sent it and that it is fresh: webhook-id (the notification id, the same on every retry,
// to dedupe on), webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
import { createHmac } from "node:crypto";
import { Type } from "@sinclair/typebox";
import { VERSION } from "../../version.ts";
import type { ChannelKind, SettingsProblem } from "./channel.ts";
import { HttpUrl, post } from "./http.ts";

// A Standard Webhooks secret: "whsec_" and the base64 of 24 to 64 random bytes.
const WHSEC_PATTERN = "^whsec_(?:[A-Za-z0-9+/]{4}){8,22}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";
// RFC 9110 token characters; values one line of ASCII (a CR or LF would split the request, and
// fetch refuses other characters, which would fail every attempt instead of the validation).
const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$";
// Headers this channel sets itself; a custom one must not override the signature or the body's type.
const RESERVED_HEADERS = /^(webhook-.*|content-.*|host|user-agent|transfer-encoding|connection)$/i;

const Settings = Type.Object(
  {
    url: HttpUrl("Where to POST the notification."),
    secret: Type.String({
      pattern: WHSEC_PATTERN,
      error: "must be a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))",
      description: "Signing key (secret).",
    }),
    headers: Type.Optional(
      Type.Record(Type.String({ pattern: HEADER_NAME_PATTERN }), Type.String({ pattern: "^[\\t\\x20-\\x7e]{0,1024}$", error: "must be one line of printable ASCII, at most 1024 characters" }), {
        additionalProperties: false,
        maxProperties: 20,
        error: "must be at most 20 headers, each name made of letters, digits and -_.!#$%&'*+^`|~",
        description: "Extra request headers, e.g. an Authorization for a gateway (values are secrets).",
      }),
    ),
  },
  { additionalProperties: false },
);
type Settings = typeof Settings.static;

/**
 * Signed with node:crypto rather than the `standardwebhooks` package: the spec is one HMAC, so
 * this is five lines over the native implementation (the package hashes in pure JavaScript),
 * and the tests verify our signatures with the package, which is only a real check because it
 * is a second, independent implementation.
 */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
}

export const webhook: ChannelKind<Settings> = {
  kind: "webhook",
  settings: Settings,
  secretFields: ["secret", "headers.*"],
  check: (settings) =>
    Object.keys(settings.headers ?? {})
      .filter((name) => RESERVED_HEADERS.test(name))
      .map((name): SettingsProblem => ({ field: `settings.headers.${name}`, message: "is set by vxman itself (content, signature and webhook-* headers)" })),
  async send(settings, message, signal) {
    const body = JSON.stringify(message);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      ...settings.headers,
      "content-type": "application/json",
      "user-agent": `vxman/${VERSION}`,
      "webhook-id": message.id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": sign(settings.secret, message.id, timestamp, body),
    };
    const secrets = [settings.secret, ...Object.values(settings.headers ?? {})];
    return (await post({ url: settings.url, body, headers, secrets }, signal)).delivery;
  },
};
