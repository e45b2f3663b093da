// ntfy (ntfy.sh or a self-hosted server): POST the plain-text body to the topic URL, with the
// title, priority, tags (shown as emoji) and click-through link in headers. ntfy shows bodies as
// plain text unless asked for Markdown, so the body needs no escaping; headers need one line of
// ASCII, so a title with other characters is sent RFC 2047-encoded, which ntfy decodes.
import { Type } from "@sinclair/typebox";
import type { ChannelKind, Notification } from "./channel.ts";
import { bodyLines, oneLine, tone } from "./format.ts";
import { HttpUrl, parseHttpUrl, post } from "./http.ts";

const Settings = Type.Object(
  {
    // A secret like the chat webhooks': on ntfy.sh, knowing the topic name is all it takes to read it.
    url: HttpUrl("Server and topic, e.g. https://ntfy.sh/vxman-8f2c1e (secret: the topic name is its only protection on a public server)."),
    token: Type.Optional(Type.String({ pattern: "^[\\x21-\\x7e]{1,256}$", error: "must be an access token (printable characters, no spaces)", description: "Access token, sent as a Bearer token (secret)." })),
    priority: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, error: "must be a whole number from 1 (min) to 5 (urgent)", description: "Fixed priority; unset: 4 (high) for trouble, 3 (default) otherwise." })),
  },
  { additionalProperties: false },
);
type Settings = typeof Settings.static;

// ntfy turns a body over 4096 bytes into an attachment; characters may take several bytes.
const BODY_MAX = 3000;
const TAGS = { bad: "rotating_light", good: "white_check_mark", info: "information_source" } as const;

/** An HTTP header value from any one-line text: as is when ASCII, else RFC 2047 base64 UTF-8. */
export function headerText(text: string): string {
  const line = oneLine(text);
  return /^[\x20-\x7e]*$/.test(line) ? line : `=?UTF-8?B?${Buffer.from(line).toString("base64")}?=`;
}

export function ntfyRequest(settings: Settings, message: Notification) {
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    title: headerText(message.title),
    priority: String(settings.priority ?? (tone(message.kind) === "bad" ? 4 : 3)),
    tags: `${TAGS[tone(message.kind)]},vxman,${message.kind}`,
  };
  const dashboard = message.url ? parseHttpUrl(message.url) : null;
  if (dashboard) headers.click = dashboard.href;
  if (settings.token) headers.authorization = `Bearer ${settings.token}`;
  return { url: settings.url, body: bodyLines(message, BODY_MAX).join("\n"), headers, secrets: [settings.url, settings.token ?? ""] };
}

export const ntfy: ChannelKind<Settings> = {
  kind: "ntfy",
  settings: Settings,
  secretFields: ["url", "token"],
  async send(settings, message, signal) {
    return (await post(ntfyRequest(settings, message), signal)).delivery;
  },
};
