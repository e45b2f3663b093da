// Telegram bot: sendMessage to one chat, in Telegram's HTML parse mode (bold title, a link to the
// dashboard) with every piece of text HTML-escaped: HTML is the mode with the smallest, fully
// documented set of characters to escape (& < > and " in the link), where MarkdownV2 has eighteen.
// A 429 says how long to wait in parameters.retry_after, which is honoured.
import { Type } from "@sinclair/typebox";
import type { ChannelKind, Notification } from "./channel.ts";
import { bodyLines, escapeHtml, oneLine } from "./format.ts";
import { HttpUrl, postJson, retryAfterFromBody } from "./http.ts";

const Settings = Type.Object(
  {
    bot_token: Type.String({ pattern: "^\\d{1,20}:[A-Za-z0-9_-]{20,100}$", error: "must be a bot token from @BotFather, like 123456789:AAE…", description: "Bot token (secret)." }),
    chat_id: Type.Union([Type.Integer(), Type.String({ pattern: "^(-?\\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$" })], {
      error: "must be a chat id (a number such as -1001234567890) or a public channel's @username",
    }),
    api_url: Type.Optional(HttpUrl("Bot API server; default https://api.telegram.org (a local Bot API server or a test receiver).")),
  },
  { additionalProperties: false },
);
type Settings = typeof Settings.static;

export const DEFAULT_TELEGRAM_API = "https://api.telegram.org";
// Telegram's limit is 4096 characters after entities are parsed; counting them escaped stays under it.
const TEXT_MAX = 3800;

export function telegramPayload(chatId: Settings["chat_id"], message: Notification) {
  const lines = [`<b>${escapeHtml(oneLine(message.title))}</b>`, ...bodyLines(message, TEXT_MAX, escapeHtml)];
  if (message.url) lines.push(`<a href="${escapeHtml(message.url)}">Open the vxman dashboard</a>`);
  return { chat_id: chatId, text: lines.join("\n"), parse_mode: "HTML", link_preview_options: { is_disabled: true } };
}

export const telegram: ChannelKind<Settings> = {
  kind: "telegram",
  settings: Settings,
  secretFields: ["bot_token"],
  async send(settings, message, signal) {
    const api = (settings.api_url ?? DEFAULT_TELEGRAM_API).replace(/\/+$/, "");
    const outcome = await postJson(`${api}/bot${settings.bot_token}/sendMessage`, telegramPayload(settings.chat_id, message), signal, [settings.bot_token]);
    return retryAfterFromBody(outcome, (body) => body.parameters?.retry_after);
  },
};
