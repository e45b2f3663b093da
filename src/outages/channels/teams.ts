// Microsoft Teams through a Workflows ("Post to a channel when a webhook request is received")
// webhook: a message carrying one Adaptive Card. The old Office 365 connector MessageCard format
// is retired and Workflows refuse it.
//
// Teams reads TextBlock text as a Markdown subset and "<at>…</at>" as a mention, so machine-sent
// text gets entities for & and < and a backslash before each Markdown character.
import { Type } from "@sinclair/typebox";
import type { ChannelKind, Notification } from "./channel.ts";
import { bodyLines, escapeMarkdown, oneLine, tone } from "./format.ts";
import { HttpUrl, postJson } from "./http.ts";

const Settings = Type.Object(
  { url: HttpUrl("The workflow's HTTP POST URL (secret: it carries the signature that lets anyone post).") },
  { additionalProperties: false },
);
type Settings = typeof Settings.static;

// Teams refuses messages over about 28 KB; the machine list stays well under it.
const BODY_MAX = 12_000;
const TITLE_COLOURS = { bad: "Attention", good: "Good", info: "Default" } as const;

export function escapeTeams(line: string): string {
  return escapeMarkdown(line).replace(/[&<]/g, (c) => (c === "&" ? "&amp;" : "&lt;"));
}

const textBlock = (text: string, extra: Record<string, unknown> = {}) => ({ type: "TextBlock", text, wrap: true, ...extra });

export function teamsPayload(message: Notification) {
  const card = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    msteams: { width: "Full" },
    body: [
      textBlock(escapeTeams(oneLine(message.title)), { size: "Medium", weight: "Bolder", color: TITLE_COLOURS[tone(message.kind)] }),
      ...bodyLines(message, BODY_MAX, escapeTeams).map((line) => textBlock(line, { spacing: "Small" })),
    ],
    ...(message.url ? { actions: [{ type: "Action.OpenUrl", title: "Open the vxman dashboard", url: message.url }] } : {}),
  };
  return { type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card }] };
}

export const teams: ChannelKind<Settings> = {
  kind: "teams",
  settings: Settings,
  secretFields: ["url"],
  async send(settings, message, signal) {
    return (await postJson(settings.url, teamsPayload(message), signal, [settings.url])).delivery;
  },
};
