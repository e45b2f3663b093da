// Discord webhook: `content` (the title) and one embed (the machine list, a link to the
// dashboard, a colour for trouble or recovery).
//
// Discord reads Markdown in both, and "<@id>", "<#id>", "<t:…>" as mentions and timestamps, so
// every Markdown character of machine-sent text is backslash-escaped; `allowed_mentions` with no
// parse types makes sure nothing can ping anyone even if a mention slipped through. A 429 says
// how long to wait in its body (retry_after, fractional seconds), which is honoured.
import { Type } from "@sinclair/typebox";
import type { ChannelKind, Notification } from "./channel.ts";
import { bodyLines, oneLine, tone } from "./format.ts";
import { HttpUrl, postJson, retryAfterFromBody } from "./http.ts";

const Settings = Type.Object(
  { url: HttpUrl("Discord webhook URL, https://discord.com/api/webhooks/… (secret: whoever has it can post).") },
  { additionalProperties: false },
);
type Settings = typeof Settings.static;

// Discord's limits: embed title 256 characters (content, 2000, holds the same title), description 4096.
const TITLE_MAX = 256;
const DESCRIPTION_MAX = 4096;
const COLOURS = { bad: 0xd83c3e, good: 0x2eb67d, info: 0x5865f2 } as const;

export function escapeDiscord(text: string): string {
  return text.replace(/[\\*_~`|>#\-[\]()<:]/g, "\\$&").replace(/@/g, "@\u2060");
}

export function discordPayload(message: Notification) {
  // Escaping at most doubles the length: cut first, so no cut can leave a lone backslash.
  const title = escapeDiscord(oneLine(message.title, TITLE_MAX / 2));
  return {
    content: title,
    embeds: [
      {
        title,
        description: bodyLines(message, DESCRIPTION_MAX, escapeDiscord).join("\n"),
        ...(message.url ? { url: message.url } : {}),
        color: COLOURS[tone(message.kind)],
        timestamp: message.at,
        footer: { text: `vxman · ${message.kind}` },
      },
    ],
    allowed_mentions: { parse: [] },
  };
}

export const discord: ChannelKind<Settings> = {
  kind: "discord",
  settings: Settings,
  secretFields: ["url"],
  async send(settings, message, signal) {
    const outcome = await postJson(settings.url, discordPayload(message), signal, [settings.url]);
    return retryAfterFromBody(outcome, (body) => body.retry_after);
  },
};
