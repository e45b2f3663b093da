// Notification channels against real receivers on loopback: an HTTP server for the webhook
// kinds (verifying Standard Webhooks signatures with the `standardwebhooks` package), and
// smtp-server under Node with TLS on an implicit-TLS and a STARTTLS port for e-mail.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { CHANNEL_KINDS, mergeSettings, redactSettings, validateSettings } from "../../src/outages/channels/index.ts";
import type { Delivery, Notification, NotifiedMachine } from "../../src/outages/channels/channel.ts";
import { emailMessage } from "../../src/outages/channels/email.ts";
import { freePort } from "../helpers/postgres.ts";
import { type HttpReceiver, makeTestCertificates, type ReceivedRequest, type SmtpServer, startHttpReceiver, startSmtpServer } from "../helpers/receivers.ts";
import { needs } from "../helpers/requirements.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BOT_TOKEN = "123456789:AAEhBP0av28QNGP6-Sm7jTZTQ9HZq1r2xYz";
const HOSTILE_LABELS = ["role=<script>alert(1)</script>", "note=*bold* _it_ ~x~ `code`", "ping=@channel @here @everyone <!channel>", "line=a\n- forged line\r\n# heading", "link=[click](http://evil.example)"];

function machine(overrides: Partial<NotifiedMachine> = {}): NotifiedMachine {
  return {
    id: 7,
    hostname: "node-07",
    ip_address: "198.18.0.7",
    status: "unreachable",
    labels: ["role=db", "rack=r1"],
    group: "vni 4096",
    since: "2024-05-01T12:00:00.000Z",
    outage_seconds: null,
    ...overrides,
  };
}

function notification(overrides: Partial<Notification> = {}): Notification {
  return {
    version: 1,
    id: `ntf_${crypto.randomUUID()}`,
    kind: "unreachable",
    group: { by: "vni", value: "4096" },
    title: "2 machines unreachable in vni 4096",
    text: "2 machines stopped answering in vni 4096 since 2024-05-01 12:00 UTC.",
    machines: [machine(), machine({ id: 8, hostname: "node-08", ip_address: "198.18.0.8", labels: HOSTILE_LABELS })],
    total: 2,
    at: "2024-05-01T12:05:00.000Z",
    url: "https://vxman.example.org/#/outages?group=vni%204096",
    ...overrides,
  };
}

const hostile = () => notification();

/** Valid settings of each HTTP kind, pointed at `base`. */
function httpSettings(base: string): Record<string, Record<string, unknown>> {
  return {
    webhook: { url: `${base}/hooks/vxman`, secret: SECRET, headers: { "X-Gateway-Token": "gw-secret-123", "X-Tenant": "ops" } },
    slack: { url: `${base}/services/T000/B000/XXXXsecret` },
    discord: { url: `${base}/api/webhooks/1234/discordsecret` },
    teams: { url: `${base}/workflows/abc/triggers/manual/paths/invoke?sig=teamssecret` },
    ntfy: { url: `${base}/vxman-8f2c1e`, token: "tk_ntfysecret0123456789" },
    telegram: { bot_token: BOT_TOKEN, chat_id: -1001234567890, api_url: base },
  };
}
const HTTP_KINDS = ["webhook", "slack", "discord", "teams", "ntfy", "telegram"] as const;

const send = (kind: string, settings: unknown, message = notification(), signal = AbortSignal.timeout(5000)) => CHANNEL_KINDS[kind]!.send(settings, message, signal);

let receiver: HttpReceiver;
beforeAll(async () => {
  receiver = await startHttpReceiver({ secret: SECRET });
});
afterAll(async () => {
  await receiver.stop();
});

/** Send once with a fresh script; return the delivery and the request the receiver saw. */
async function sendOnce(kind: string, message = notification()): Promise<{ delivery: Delivery; request: ReceivedRequest }> {
  const before = receiver.requests.length;
  const delivery = await send(kind, httpSettings(receiver.url)[kind], message);
  const requests = await receiver.waitForRequests(before + 1);
  return { delivery, request: requests[before]! };
}

describe("each kind delivers the right payload", () => {
  test("webhook: the Notification itself, signed per Standard Webhooks, with the custom headers", async () => {
    const message = notification();
    const { delivery, request } = await sendOnce("webhook", message);
    expect(delivery).toMatchObject({ ok: true, retry: false, status: "200" });
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/hooks/vxman");
    expect(request.signature).toEqual({ valid: true });
    expect(request.headers["webhook-id"]).toBe(message.id);
    expect(Math.abs(Number(request.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(10);
    expect(request.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["x-gateway-token"]).toBe("gw-secret-123");
    expect(request.headers["x-tenant"]).toBe("ops");
    const body = JSON.parse(request.body);
    expect(body).toEqual(message);
    expect(body).toMatchObject({ version: 1, kind: "unreachable", group: { by: "vni", value: "4096" }, total: 2 });
    for (const m of body.machines) expect(Object.keys(m)).toEqual(expect.arrayContaining(["id", "hostname", "ip_address", "status", "labels"]));
  });

  test("webhook: a retry carries the same webhook-id, and each signature verifies", async () => {
    const message = notification();
    receiver.script([{ status: 503 }]);
    const first = await sendOnce("webhook", message);
    const second = await sendOnce("webhook", message);
    expect(first.delivery).toMatchObject({ ok: false, retry: true, status: "503" });
    expect(second.delivery.ok).toBe(true);
    expect(second.request.headers["webhook-id"]).toBe(first.request.headers["webhook-id"]!);
    expect([first.request.signature, second.request.signature]).toEqual([{ valid: true }, { valid: true }]);
  });

  test("a signature made with another secret does not verify at the receiver", async () => {
    const other = "whsec_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    const before = receiver.requests.length;
    await send("webhook", { url: `${receiver.url}/hooks/vxman`, secret: other });
    expect((await receiver.waitForRequests(before + 1))[before]!.signature?.valid).toBe(false);
  });

  test("slack: {text, blocks} with the machines as plain_text and a dashboard link", async () => {
    const { delivery, request } = await sendOnce("slack");
    expect(delivery.ok).toBe(true);
    expect(request.path).toBe("/services/T000/B000/XXXXsecret");
    const body = JSON.parse(request.body);
    expect(body.text).toStartWith("*2 machines unreachable in vni 4096*\n");
    expect(body.text).toContain("node-07 198.18.0.7 (vni 4096): down since 2024-05-01 12:00:00 UTC (5m)");
    expect(body.blocks[0]).toEqual({ type: "header", text: { type: "plain_text", text: "2 machines unreachable in vni 4096", emoji: false } });
    expect(body.blocks[1].type).toBe("section");
    expect(body.blocks[1].text.type).toBe("plain_text");
    expect(body.blocks[1].text.text).toContain("node-08 198.18.0.8 (vni 4096)");
    expect(body.blocks.at(-1)).toEqual({ type: "context", elements: [{ type: "mrkdwn", text: "<https://vxman.example.org/#/outages?group=vni%204096|Open the vxman dashboard>" }] });
  });

  test("discord: {content, embeds} with a colour, the time and no allowed mentions", async () => {
    const { delivery, request } = await sendOnce("discord");
    expect(delivery.ok).toBe(true);
    expect(request.path).toBe("/api/webhooks/1234/discordsecret");
    const body = JSON.parse(request.body);
    expect(body.content).toBe("2 machines unreachable in vni 4096");
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.embeds).toHaveLength(1);
    expect(body.embeds[0]).toMatchObject({ title: body.content, url: notification().url, color: 0xd83c3e, timestamp: "2024-05-01T12:05:00.000Z" });
    expect(body.embeds[0].description).toContain("node\\-07 198.18.0.7 \\(vni 4096\\)");
  });

  test("teams: a message with one Adaptive Card and an Open URL action", async () => {
    const { delivery, request } = await sendOnce("teams");
    expect(delivery.ok).toBe(true);
    expect(request.path).toBe("/workflows/abc/triggers/manual/paths/invoke?sig=teamssecret");
    const body = JSON.parse(request.body);
    expect(body.type).toBe("message");
    expect(body.attachments).toHaveLength(1);
    const { contentType, content } = body.attachments[0];
    expect(contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(content).toMatchObject({ type: "AdaptiveCard", version: "1.4" });
    expect(content.body[0]).toMatchObject({ type: "TextBlock", weight: "Bolder", color: "Attention", text: "2 machines unreachable in vni 4096" });
    expect(content.body).toHaveLength(3); // title + one block per machine
    expect(content.actions).toEqual([{ type: "Action.OpenUrl", title: "Open the vxman dashboard", url: notification().url }]);
  });

  test("ntfy: the text as the body, title/priority/tags/click headers, the token as a Bearer", async () => {
    const { delivery, request } = await sendOnce("ntfy");
    expect(delivery.ok).toBe(true);
    expect(request.path).toBe("/vxman-8f2c1e");
    expect(request.headers).toMatchObject({
      title: "2 machines unreachable in vni 4096",
      priority: "4",
      tags: "rotating_light,vxman,unreachable",
      click: notification().url!,
      authorization: "Bearer tk_ntfysecret0123456789",
    });
    expect(request.headers["content-type"]).toStartWith("text/plain");
    expect(request.body.split("\n")).toHaveLength(2);
    expect(request.body).toStartWith("node-07 198.18.0.7 (vni 4096): down since");
  });

  test("ntfy: a non-ASCII title travels RFC 2047-encoded; a fixed priority wins", async () => {
    const before = receiver.requests.length;
    await send("ntfy", { url: `${receiver.url}/t`, priority: 2 }, notification({ kind: "recovered", title: "Machines back in vni 4096 — all clear ✓" }));
    const request = (await receiver.waitForRequests(before + 1))[before]!;
    expect(request.headers.title).toBe(`=?UTF-8?B?${Buffer.from("Machines back in vni 4096 — all clear ✓").toString("base64")}?=`);
    expect(request.headers.priority).toBe("2");
    expect(request.headers.tags).toStartWith("white_check_mark,");
    expect(request.headers.authorization).toBeUndefined();
  });

  test("telegram: sendMessage at /bot<token>/ with HTML parse mode", async () => {
    const { delivery, request } = await sendOnce("telegram");
    expect(delivery.ok).toBe(true);
    expect(request.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({ chat_id: -1001234567890, parse_mode: "HTML", link_preview_options: { is_disabled: true } });
    expect(body.text).toStartWith("<b>2 machines unreachable in vni 4096</b>\nnode-07 198.18.0.7 (vni 4096): down since");
    expect(body.text).toEndWith('<a href="https://vxman.example.org/#/outages?group=vni%204096">Open the vxman dashboard</a>');
  });

  test("a message without machines (run_failed) shows its text, and no link when PUBLIC_URL is unset", async () => {
    const message = notification({ kind: "run_failed", machines: [], total: 0, title: "Run 12 failed", text: "Run 12 (apt upgrade) failed on 3 of 10 machines.\nSee the run log.", url: null });
    const { request } = await sendOnce("telegram", message);
    expect(JSON.parse(request.body).text).toBe("<b>Run 12 failed</b>\nRun 12 (apt upgrade) failed on 3 of 10 machines.\nSee the run log.");
  });

  test("more machines than fit: the list is cut and says how many more", async () => {
    const many = Array.from({ length: 50 }, (_, i) => machine({ id: i, hostname: `node-${i}.rack-${i % 4}.dc1.example.org`, labels: ["role=worker", "x=" + "y".repeat(60)] }));
    const { request } = await sendOnce("telegram", notification({ machines: many, total: 240 }));
    const text: string = JSON.parse(request.body).text;
    expect(text.length).toBeLessThanOrEqual(4096);
    expect(text).toMatch(/…and \d+ more\n<a href=/);
    const shown = text.split("\n").filter((l) => l.startsWith("node-")).length;
    expect(text).toContain(`…and ${240 - shown} more`);
  });
});

describe("hostile machine strings stay inert", () => {
  const payloads = new Map<string, ReceivedRequest>();
  beforeAll(async () => {
    for (const kind of HTTP_KINDS) payloads.set(kind, (await sendOnce(kind, hostile())).request);
  });

  /** The hostile machine's line must stay one line: the forged lines never start a line. */
  const expectNoForgedLines = (text: string) => {
    for (const line of text.split("\n")) expect(line).not.toMatch(/^\s*(\\?- forged line|\\?# heading)/);
    expect(text).toContain("forged line");
  };

  test("webhook: JSON carries the labels exactly, as data", () => {
    expect(JSON.parse(payloads.get("webhook")!.body).machines[1].labels).toEqual(HOSTILE_LABELS);
  });

  test("slack: mrkdwn text has entities and escapes, blocks are plain_text", () => {
    const body = JSON.parse(payloads.get("slack")!.body);
    expect(body.text).not.toContain("<script>");
    expect(body.text).toContain("&lt;script&gt;");
    expect(body.text).not.toContain("<!channel>");
    expect(body.text).not.toMatch(/@(channel|here|everyone)/);
    expect(body.text).toContain("\\*bold\\*");
    expect(body.text).toContain("\\[click\\](http://evil.example)");
    expectNoForgedLines(body.text);
    for (const block of body.blocks.slice(0, -1)) expect(block.text.type).toBe("plain_text");
    expectNoForgedLines(body.blocks[1].text.text);
  });

  test("discord: Markdown and mentions escaped", () => {
    const { description } = JSON.parse(payloads.get("discord")!.body).embeds[0];
    expect(description).not.toContain("<script>");
    expect(description).toContain("\\<script\\>");
    expect(description).toContain("\\*bold\\* \\_it\\_ \\~x\\~ \\`code\\`");
    expect(description).not.toMatch(/@(channel|here|everyone)/);
    expect(description).toContain("\\[click\\]\\(http\\://evil.example\\)");
    expectNoForgedLines(description);
  });

  test("teams: entities for & and <, Markdown escaped", () => {
    const card = JSON.parse(payloads.get("teams")!.body).attachments[0].content;
    const text = card.body.map((b: { text: string }) => b.text).join("\n");
    expect(text).not.toContain("<script>");
    expect(text).toContain("&lt;script>");
    expect(text).toContain("\\*bold\\*");
    expect(text).toContain("\\[click\\](http://evil.example)");
    expectNoForgedLines(text);
    expect(card.body).toHaveLength(3);
  });

  test("telegram: HTML-escaped; the only tags are vxman's <b> and <a>", () => {
    const { text } = JSON.parse(payloads.get("telegram")!.body);
    expect(text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(text.match(/<[^>]*>/g)).toEqual(["<b>", "</b>", '<a href="https://vxman.example.org/#/outages?group=vni%204096">', "</a>"]);
    expectNoForgedLines(text);
  });

  test("ntfy: plain text, one line per machine; headers single-line", () => {
    const request = payloads.get("ntfy")!;
    expect(request.body.split("\n")).toHaveLength(2);
    expectNoForgedLines(request.body);
  });

  test("e-mail: the HTML part escaped, the text part one line per machine, the subject one line", () => {
    const mail = emailMessage(emailSettings({ tls: 465, starttls: 587 }, "tls", "x", ""), notification({ title: "Title\r\nBcc: victim@example.org" }));
    expect(mail.subject).toBe("Title Bcc: victim@example.org");
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).toContain("&lt;script&gt;");
    expect(mail.html.match(/<li>/g)).toHaveLength(2);
    expectNoForgedLines(mail.text);
  });
});

describe("HTTP outcomes and retry", () => {
  const settings = () => httpSettings(receiver.url);

  for (const kind of HTTP_KINDS) {
    test(`${kind}: 500 → retry; 400 and 404 → no retry; 429 → retry after what the receiver says`, async () => {
      receiver.script([
        { status: 500, body: "boom" },
        { status: 400, body: "invalid_payload" },
        { status: 404, body: "no_service" },
        { status: 429, headers: { "retry-after": "7" }, body: "slow down" },
      ]);
      const s = settings()[kind];
      expect(await send(kind, s)).toMatchObject({ ok: false, retry: true, status: "500" });
      expect(await send(kind, s)).toMatchObject({ ok: false, retry: false, status: "400" });
      expect(await send(kind, s)).toMatchObject({ ok: false, retry: false, status: "404", detail: `HTTP 404 from 127.0.0.1:${receiver.port}: no_service` });
      expect(await send(kind, s)).toMatchObject({ ok: false, retry: true, status: "429", retryAfterMs: 7000 });
    });

    test(`${kind}: a receiver that never answers → timeout, retry, back within the caller's deadline`, async () => {
      receiver.script([{ status: 0, hang: true }]);
      const started = performance.now();
      const delivery = await send(kind, settings()[kind], notification(), AbortSignal.timeout(300));
      expect(performance.now() - started).toBeLessThan(2000);
      expect(delivery).toMatchObject({ ok: false, retry: true, status: "timeout" });
    });

    test(`${kind}: connection refused → retry; the detail names no secret`, async () => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const delivery = await send(kind, httpSettings(closed)[kind]);
      expect(delivery).toMatchObject({ ok: false, retry: true, status: "ECONNREFUSED" });
      expectNoSecrets(JSON.stringify(delivery));
    });
  }

  test("scripted 500, 500, 500 then 200: each failure says retry, the fourth attempt delivers", async () => {
    receiver.script([{ status: 500 }, { status: 502 }, { status: 503 }]);
    const message = notification();
    const outcomes: Delivery[] = [];
    for (let attempt = 0; attempt < 4 && !outcomes.at(-1)?.ok; attempt++) outcomes.push(await send("webhook", settings().webhook, message));
    expect(outcomes.map((d) => [d.status, d.retry])).toEqual([["500", true], ["502", true], ["503", true], ["200", false]]);
  });

  test("429 with an HTTP date in Retry-After", async () => {
    receiver.script([{ status: 429, headers: { "retry-after": new Date(Date.now() + 30_000).toUTCString() } }]);
    const delivery = await send("slack", settings().slack);
    expect(delivery.retryAfterMs).toBeGreaterThan(25_000);
    expect(delivery.retryAfterMs).toBeLessThanOrEqual(31_000);
  });

  test("discord: retry_after from the 429 body (fractional seconds)", async () => {
    receiver.script([{ status: 429, headers: { "retry-after": "2" }, body: JSON.stringify({ message: "You are being rate limited.", retry_after: 1.234, global: false }) }]);
    expect(await send("discord", settings().discord)).toMatchObject({ ok: false, retry: true, retryAfterMs: 1234 });
  });

  test("telegram: parameters.retry_after from the 429 body; 401/403 → no retry", async () => {
    receiver.script([
      { status: 429, body: JSON.stringify({ ok: false, error_code: 429, description: "Too Many Requests: retry after 3", parameters: { retry_after: 3 } }) },
      { status: 401, body: JSON.stringify({ ok: false, error_code: 401, description: "Unauthorized" }) },
      { status: 403, body: JSON.stringify({ ok: false, error_code: 403, description: "Forbidden: bot was blocked by the user" }) },
    ]);
    expect(await send("telegram", settings().telegram)).toMatchObject({ retry: true, retryAfterMs: 3000 });
    expect(await send("telegram", settings().telegram)).toMatchObject({ retry: false, status: "401" });
    expect(await send("telegram", settings().telegram)).toMatchObject({ retry: false, status: "403" });
  });

  test("a redirect is not followed and not retried", async () => {
    receiver.script([{ status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } }]);
    const before = receiver.requests.length;
    const delivery = await send("slack", settings().slack);
    expect(delivery).toMatchObject({ ok: false, retry: false, status: "302" });
    expect(delivery.detail).toContain("redirects are not followed");
    expect(receiver.requests.length).toBe(before + 1);
  });

  test("a receiver echoing a secret: the detail shows [redacted] instead", async () => {
    receiver.script([{ status: 400, body: `bad token ${BOT_TOKEN} in /bot${BOT_TOKEN}/sendMessage` }, { status: 400, body: "header gw-secret-123 refused" }]);
    const telegramDelivery = await send("telegram", settings().telegram);
    const webhookDelivery = await send("webhook", settings().webhook);
    expect(telegramDelivery.detail).toContain("[redacted]");
    expect(webhookDelivery.detail).toContain("[redacted]");
    expectNoSecrets(JSON.stringify([telegramDelivery, webhookDelivery]));
  });

  test("a body larger than the read cap does not hold the delivery up", async () => {
    receiver.script([{ status: 500, body: "x".repeat(5 * 1024 * 1024) }]);
    const delivery = await send("slack", settings().slack);
    expect(delivery).toMatchObject({ ok: false, retry: true, status: "500" });
    expect(delivery.detail.length).toBeLessThanOrEqual(200);
  });

  test("a caller that aborts gets 'aborted', retry", async () => {
    receiver.script([{ status: 0, hang: true }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await send("teams", settings().teams, notification(), controller.signal)).toMatchObject({ ok: false, retry: true, status: "aborted" });
  });

  test("an URL that is not http(s) fails without a request and without throwing", async () => {
    expect(await send("slack", { url: "file:///etc/passwd" })).toMatchObject({ ok: false, retry: false, status: "bad_url" });
  });

  test.if(needs("openssl"))("an HTTPS receiver whose CA is not trusted → no retry, a certificate status", async () => {
    const tls = makeTestCertificates();
    const https = await startHttpReceiver({ tls });
    try {
      const delivery = await send("slack", { url: `${https.url}/hook` });
      expect(delivery).toMatchObject({ ok: false, retry: false });
      expect(delivery.status).toMatch(/CERT|VERIFY|SELF_SIGNED/);
      expect(delivery.detail).toContain("not trusted");
    } finally {
      await https.stop();
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });
});

const hasSmtpTools = needs("node", "openssl");

/** The message bodies as text: soft line breaks joined, =XX bytes decoded (UTF-8). */
function decodeQuotedPrintable(raw: string): string {
  const bytes = raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

function emailSettings(ports: SmtpServer["ports"], security: "tls" | "starttls", password: string, caPem: string, to = ["ops@example.org", "oncall@example.org"]) {
  return {
    host: "127.0.0.1",
    port: security === "tls" ? ports.tls : ports.starttls,
    security,
    username: "alice",
    password,
    from: "vxman <vxman@example.org>",
    to,
    ...(caPem ? { ca: caPem } : {}),
  };
}

describe.if(hasSmtpTools)("e-mail over SMTP (smtp-server under Node, TLS on two ports, AUTH)", () => {
  let smtp: SmtpServer;
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await smtp?.stop();
  });

  for (const security of ["tls", "starttls"] as const) {
    test(`${security}: delivers one message with the right subject, from, to and text`, async () => {
      const before = smtp.messages().length;
      const message = notification();
      const delivery = await send("email", emailSettings(smtp.ports, security, smtp.password, smtp.caPem), message);
      expect(delivery).toMatchObject({ ok: true, retry: false, status: "250" });
      const mail = (await smtp.waitForMessages(before + 1)).at(-1)!;
      expect(mail).toMatchObject({ port: security, user: "alice", secure: true, from: "vxman@example.org", to: ["ops@example.org", "oncall@example.org"] });
      expect(mail.headers.subject).toBe("2 machines unreachable in vni 4096");
      expect(mail.headers.from).toBe("vxman <vxman@example.org>");
      expect(mail.headers.to).toBe("ops@example.org, oncall@example.org");
      expect(mail.headers["message-id"]).toBe(`<${message.id}@example.org>`);
      expect(mail.headers["auto-submitted"]).toBe("auto-generated");
      expect(mail.headers["content-type"]).toStartWith("multipart/alternative");
      const text = decodeQuotedPrintable(mail.raw);
      expect(text).toContain("node-07 198.18.0.7 (vni 4096): down since 2024-05-01 12:00:00 UTC (5m) · role=db, rack=r1");
      expect(text).toContain("Dashboard: https://vxman.example.org/#/outages?group=vni%204096");
    });
  }

  test("lines starting with a dot survive (dot-stuffing), and non-ASCII text arrives intact", async () => {
    const before = smtp.messages().length;
    const text = ".\n..two dots\n.one dot\nnode-ß ✓ — ok";
    const message = notification({ kind: "test", machines: [], total: 0, title: "Test message — ✓", text });
    expect((await send("email", emailSettings(smtp.ports, "starttls", smtp.password, smtp.caPem), message)).ok).toBe(true);
    const mail = (await smtp.waitForMessages(before + 1)).at(-1)!;
    expect(decodeQuotedPrintable(mail.body)).toContain(`Test message — ✓\r\n\r\n${text.replaceAll("\n", "\r\n")}\r\n`);
  });

  test("a wrong password → no retry, with the SMTP code", async () => {
    const delivery = await send("email", emailSettings(smtp.ports, "tls", "wrong-password", smtp.caPem));
    expect(delivery).toMatchObject({ ok: false, retry: false, status: "535 5.7.8" });
    expect(delivery.detail).toContain("Authentication credentials invalid");
  });

  test("a CA that is not trusted → a clear failure, no retry", async () => {
    for (const security of ["tls", "starttls"] as const) {
      const delivery = await send("email", emailSettings(smtp.ports, security, smtp.password, ""));
      expect(delivery).toMatchObject({ ok: false, retry: false, status: "tls" });
      expect(delivery.detail).toContain("not trusted");
      expect(delivery.detail).toContain("settings.ca");
    }
  });

  test("4xx from the server → retry; 5xx → no retry; some recipients refused → delivered to the rest", async () => {
    const temp = await send("email", emailSettings(smtp.ports, "starttls", smtp.password, smtp.caPem, ["tempfail@example.org"]));
    expect(temp).toMatchObject({ ok: false, retry: true, status: "451 4.3.0" });
    const perm = await send("email", emailSettings(smtp.ports, "starttls", smtp.password, smtp.caPem, ["reject@example.org"]));
    expect(perm).toMatchObject({ ok: false, retry: false, status: "550 5.1.1" });
    const partial = await send("email", emailSettings(smtp.ports, "starttls", smtp.password, smtp.caPem, ["ops@example.org", "reject@example.org"]));
    expect(partial).toMatchObject({ ok: true, retry: false });
    expect(partial.detail).toBe("accepted for 1 of 2; refused: reject@example.org");
  });

  test("connection refused → retry", async () => {
    const delivery = await send("email", { ...emailSettings(smtp.ports, "tls", smtp.password, smtp.caPem), port: await freePort() });
    expect(delivery).toMatchObject({ ok: false, retry: true, status: "ECONNREFUSED" });
  });

  test("a server that never greets → timeout, retry, back within the caller's deadline", async () => {
    const silent: Server = createServer(() => {}); // accepts and says nothing
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const started = performance.now();
      const delivery = await send("email", { ...emailSettings(smtp.ports, "starttls", smtp.password, smtp.caPem), port }, notification(), AbortSignal.timeout(500));
      expect(performance.now() - started).toBeLessThan(2000);
      expect(delivery).toMatchObject({ ok: false, retry: true, status: "timeout" });
    } finally {
      silent.close();
    }
  });
});

// ---- settings: redact, merge, validate -------------------------------------------------------

const SAMPLE_SETTINGS: Record<string, Record<string, unknown>> = {
  ...httpSettings("https://hooks.example.org"),
  email: { host: "smtp.example.org", port: 587, security: "starttls", username: "vxman", password: "smtp-secret-pw", from: "vxman@example.org", to: ["ops@example.org"] },
};
const SECRET_VALUES = [SECRET, "gw-secret-123", "ops", "XXXXsecret", "discordsecret", "teamssecret", "vxman-8f2c1e", "tk_ntfysecret0123456789", BOT_TOKEN, "smtp-secret-pw"];

function expectNoSecrets(text: string) {
  for (const secret of SECRET_VALUES.filter((s) => s !== "ops")) expect(text).not.toContain(secret);
}

describe("settings", () => {
  test("every kind has a sample here, and the samples are valid", () => {
    expect(Object.keys(SAMPLE_SETTINGS).sort()).toEqual(Object.keys(CHANNEL_KINDS).sort());
    for (const [kind, settings] of Object.entries(SAMPLE_SETTINGS)) expect([kind, validateSettings(kind, settings)]).toEqual([kind, []]);
  });

  test("redactSettings never returns a secret, for every kind", () => {
    for (const [kind, settings] of Object.entries(SAMPLE_SETTINGS)) {
      const redacted = redactSettings(kind, settings);
      const shown = JSON.stringify(redacted);
      for (const secret of SECRET_VALUES) expect(shown).not.toContain(`"${secret}"`);
      expectNoSecrets(shown);
      for (const field of CHANNEL_KINDS[kind]!.secretFields.filter((f) => !f.endsWith(".*"))) expect(redacted[field]).toEqual({ set: true });
    }
    expect(redactSettings("webhook", SAMPLE_SETTINGS.webhook!)).toEqual({ url: "https://hooks.example.org/hooks/vxman", secret: { set: true }, headers: { "X-Gateway-Token": { set: true }, "X-Tenant": { set: true } } });
    expect(redactSettings("email", SAMPLE_SETTINGS.email!)).toMatchObject({ host: "smtp.example.org", username: "vxman", password: { set: true }, to: ["ops@example.org"] });
    expect(redactSettings("ntfy", { url: "https://ntfy.sh/topic" })).toEqual({ url: { set: true }, token: { set: false } });
    expect(redactSettings("no-such-kind", { url: "https://x/secret" })).toEqual({});
  });

  test("mergeSettings: an omitted secret keeps the stored one, null clears it, {set:true} keeps it", () => {
    const stored = SAMPLE_SETTINGS.email!;
    expect(mergeSettings("email", stored, { port: 465, security: "tls" })).toEqual({ ...stored, port: 465, security: "tls" });
    expect(mergeSettings("email", stored, { password: "new-pw" }).password).toBe("new-pw");
    expect(mergeSettings("email", stored, { password: { set: true } }).password).toBe("smtp-secret-pw");
    const cleared = mergeSettings("email", stored, { username: null, password: null, security: "none", port: 25 });
    expect(cleared).not.toHaveProperty("password");
    expect(cleared).not.toHaveProperty("username");
    expect(validateSettings("email", cleared)).toEqual([]);
    expect(mergeSettings("email", stored, { password: { set: false } })).not.toHaveProperty("password");
  });

  test("mergeSettings: header values are secrets one by one (keep, change, remove, add)", () => {
    const stored = SAMPLE_SETTINGS.webhook!;
    const merged = mergeSettings("webhook", stored, { headers: { "X-Gateway-Token": { set: true }, "X-Tenant": null, "X-New": "v2" } });
    expect(merged).toEqual({ ...stored, headers: { "X-Gateway-Token": "gw-secret-123", "X-New": "v2" } });
    expect(mergeSettings("webhook", stored, { headers: null })).not.toHaveProperty("headers");
    // What the API returned, sent back unchanged, changes nothing.
    expect(mergeSettings("webhook", stored, redactSettings("webhook", stored))).toEqual(stored);
  });

  test("mergeSettings: a {set:true} for a secret never stored leaves it missing, and validation says so", () => {
    const merged = mergeSettings("webhook", { url: "https://x.example.org/h" }, { secret: { set: true } });
    expect(validateSettings("webhook", merged)).toEqual([{ field: "settings.secret", message: "is required" }]);
  });

  test("validateSettings names the field", () => {
    const problems = (kind: string, settings: unknown) => validateSettings(kind, settings);
    expect(problems("slack", { url: "ftp://files.example.org/x" })).toEqual([{ field: "settings.url", message: "must be an http:// or https:// URL" }]);
    expect(problems("slack", { url: "not a url" })[0]!.field).toBe("settings.url");
    expect(problems("webhook", { url: "https://x.example.org/h" })).toEqual([{ field: "settings.secret", message: "is required" }]);
    const nonWhsec = problems("webhook", { url: "https://x.example.org/h", secret: "hunter2hunter2hunter2hunter2" });
    expect(nonWhsec).toHaveLength(1);
    expect(nonWhsec[0]!.field).toBe("settings.secret");
    expect(nonWhsec[0]!.message).toContain("whsec_");
    expect(nonWhsec[0]!.message).not.toContain("hunter2");
    expect(problems("discord", { url: "https://discord.com/api/webhooks/1/x", channel: "#ops" })).toEqual([
      { field: "settings.channel", message: "is not a setting of discord (it takes url)" },
    ]);
    expect(problems("webhook", { ...SAMPLE_SETTINGS.webhook, headers: { "Bad Name": "x" } })[0]!.field).toBe("settings.headers.Bad Name");
    expect(problems("webhook", { ...SAMPLE_SETTINGS.webhook, headers: { "X-A": "one\r\nInjected: yes" } })).toEqual([{ field: "settings.headers.X-A", message: "must be one line of printable ASCII, at most 1024 characters" }]);
    expect(problems("webhook", { ...SAMPLE_SETTINGS.webhook, headers: { "Webhook-Signature": "v1,forged" } })[0]!.field).toBe("settings.headers.Webhook-Signature");
    expect(problems("telegram", { bot_token: BOT_TOKEN, chat_id: "general" })[0]).toMatchObject({ field: "settings.chat_id" });
    expect(problems("telegram", { bot_token: BOT_TOKEN, chat_id: "@vxman_alerts" })).toEqual([]);
    expect(problems("ntfy", { url: "https://ntfy.sh/t", priority: 9 })[0]).toMatchObject({ field: "settings.priority" });
    expect(problems("email", { ...SAMPLE_SETTINGS.email, to: ["ops@example.org", "not an address"] })).toEqual([{ field: "settings.to.1", message: "must be an e-mail address" }]);
    expect(problems("email", { ...SAMPLE_SETTINGS.email, security: "ssl" })[0]).toMatchObject({ field: "settings.security" });
    expect(problems("email", { ...SAMPLE_SETTINGS.email, security: "none" })).toEqual([
      { field: "settings.security", message: "must be tls or starttls when a username and password are set: they are never sent unencrypted" },
    ]);
    expect(problems("email", { ...SAMPLE_SETTINGS.email, password: undefined })).toEqual([{ field: "settings.password", message: "is required with a username" }]);
    expect(problems("pager", {})).toEqual([{ field: "kind", message: "must be one of webhook, slack, discord, teams, ntfy, telegram, email" }]);
    expect(problems("slack", "https://hooks.slack.com/x")).toEqual([{ field: "settings", message: "must be an object" }]);
  });

  test("a __proto__ key from JSON is an unknown setting, not a prototype", () => {
    const patch = JSON.parse('{"__proto__": {"url": "https://x.example.org/h"}}');
    const merged = mergeSettings("slack", {}, patch);
    expect(validateSettings("slack", merged)).toEqual(
      expect.arrayContaining([{ field: "settings.url", message: "is required" }]),
    );
  });

  test("every kind declares at least one secret, and every schema refuses unknown fields", () => {
    for (const channel of Object.values(CHANNEL_KINDS)) {
      expect(channel.secretFields.length).toBeGreaterThan(0);
      expect(channel.settings.additionalProperties).toBe(false);
    }
  });
});
