// Slack incoming webhook; Mattermost and Rocket.Chat accept the same `{text}` (and ignore blocks).
//
// Slack shows `blocks`, and in them every machine-sent string is `plain_text`: Slack never
// formats it, so no escaping can be wrong. `text` is Slack's notification preview and the whole
// message for Mattermost and Rocket.Chat, which read it as Markdown: there `&<>` become entities
// (Slack's own rule), Markdown punctuation is backslash-escaped, and "@" is followed by a word
// joiner so "@channel", "@here" or "@all" in a label never mentions anyone.
import { Type } from "@sinclair/typebox";
import type { ChannelKind, Notification } from "./channel.ts";
import { bodyLines, escapeMarkdown, oneLine } from "./format.ts";
import { HttpUrl, postJson } from "./http.ts";

const Settings = Type.Object(
  { url: HttpUrl("Incoming webhook URL (secret: whoever has it can post to the channel).") },
  { additionalProperties: false },
);
type Settings = typeof Settings.static;

// Slack's limits: header text 150 characters, section text 3000, 50 blocks in a message.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const SECTIONS_MAX = 10;
const TEXT_MAX = 3500;

export function escapeMrkdwn(line: string): string {
  return escapeMarkdown(line)
    .replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!)
    .replace(/@/g, "@\u2060");
}

/** The dashboard URL (set by the operator, not by machines) made safe inside Slack's <url|label>
 *  syntax and as a bare link: an entity for &, no < > or | to end it early. */
const linkTarget = (url: string) => url.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "%3C", ">": "%3E" })[c]!).replaceAll("|", "%7C");

const plain = (text: string) => ({ type: "plain_text", text, emoji: false });

/** Lines grouped into chunks of at most `max` characters each (a line longer than max is cut). */
function chunks(lines: string[], max: number): string[] {
  const out: string[] = [];
  for (const line of lines.map((l) => l.slice(0, max))) {
    const last = out.at(-1);
    if (last !== undefined && last.length + 1 + line.length <= max) out[out.length - 1] = `${last}\n${line}`;
    else out.push(line);
  }
  return out;
}

export function slackPayload(message: Notification) {
  const title = oneLine(message.title, HEADER_MAX);
  const lines = bodyLines(message, SECTION_MAX * SECTIONS_MAX - 200);
  const blocks: unknown[] = [{ type: "header", text: plain(title) }, ...chunks(lines, SECTION_MAX).map((text) => ({ type: "section", text: plain(text) }))];
  if (message.url) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `<${linkTarget(message.url)}|Open the vxman dashboard>` }] });
  const textLines = [`*${escapeMrkdwn(title)}*`, ...bodyLines(message, TEXT_MAX, escapeMrkdwn)];
  if (message.url) textLines.push(`Dashboard: ${linkTarget(message.url)}`);
  return { text: textLines.join("\n"), blocks };
}

export const slack: ChannelKind<Settings> = {
  kind: "slack",
  settings: Settings,
  secretFields: ["url"],
  async send(settings, message, signal) {
    return (await postJson(settings.url, slackPayload(message), signal, [settings.url])).delivery;
  },
};
