// E-mail over SMTP: implicit TLS (465-style), STARTTLS (587-style, required: never a silent
// downgrade to plain text) or none (a relay on the local network), with AUTH PLAIN/LOGIN.
//
// nodemailer, although its author supports only Node and Bun has had socket/TLS issues with it
// (nodemailer #1644, Bun #10329): with Bun 1.4.4 it sends over both kinds of TLS with AUTH, under
// `bun` and in a compiled binary, against a real server (test/outages/channels.test.ts and the
// scratch binary in the report), and it does the MIME work (encoded headers, line lengths,
// dot-stuffing, multipart text + HTML) that a hand-written client would have to get right again.
// One connection per message: no pooled transport, one of the places Bun's reported issues were.
//
// nodemailer takes no AbortSignal, so an aborted send returns at once and nodemailer's own
// per-phase timeouts close the connection it leaves behind.
import { rootCertificates } from "node:tls";
import { Type } from "@sinclair/typebox";
import { lazyModule } from "../../lazy-module.ts";
import type { ChannelKind, Delivery, Notification, SettingsProblem } from "./channel.ts";
import { bodyLines, escapeHtml, oneLine } from "./format.ts";
import { DEFAULT_TIMEOUT_MS, failed, scrub } from "./http.ts";

const ADDRESS = "[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*";
const ONE_LINE = "^[^\\r\\n\\u0000]{1,256}$";

const Settings = Type.Object(
  {
    host: Type.String({ maxLength: 253, pattern: "^[A-Za-z0-9.:-]+$", error: "must be the SMTP server's host name or IP address", description: "SMTP server." }),
    port: Type.Integer({ minimum: 1, maximum: 65535, error: "must be a port number (465 for tls, 587 for starttls, 25 for none)" }),
    security: Type.Union([Type.Literal("starttls"), Type.Literal("tls"), Type.Literal("none")], {
      error: "must be starttls (port 587), tls (implicit TLS, port 465) or none (no encryption, a local relay)",
    }),
    username: Type.Optional(Type.String({ pattern: ONE_LINE, error: "must be one line of 1 to 256 characters" })),
    password: Type.Optional(Type.String({ pattern: ONE_LINE, error: "must be one line of 1 to 256 characters", description: "Secret." })),
    from: Type.String({ maxLength: 320, pattern: `^(?:${ADDRESS}|[^<>\\r\\n"]{1,64} <${ADDRESS}>)$`, error: "must be an e-mail address, optionally with a name: vxman <vxman@example.org>" }),
    to: Type.Array(Type.String({ maxLength: 254, pattern: `^${ADDRESS}$`, error: "must be an e-mail address" }), { minItems: 1, maxItems: 20, error: "must be a list of 1 to 20 e-mail addresses" }),
    ca: Type.Optional(Type.String({ maxLength: 65_536, pattern: "-----BEGIN CERTIFICATE-----", error: "must be PEM certificate text (-----BEGIN CERTIFICATE-----…)", description: "A private CA to trust besides the system's." })),
  },
  { additionalProperties: false },
);
type Settings = typeof Settings.static;

// SMTP takes several round trips; each phase has DEFAULT_TIMEOUT_MS, the whole send at most this.
const SEND_TIMEOUT_MS = 3 * DEFAULT_TIMEOUT_MS;
const BODY_MAX = 20_000;
const TLS_ERROR = /certificate|self[- ]signed|unable to verify|CERT_|altname/i;

function check(settings: Settings): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  if (settings.username && !settings.password) problems.push({ field: "settings.password", message: "is required with a username" });
  if (settings.password && !settings.username) problems.push({ field: "settings.username", message: "is required with a password" });
  if (settings.security === "none" && (settings.username || settings.password)) {
    problems.push({ field: "settings.security", message: "must be tls or starttls when a username and password are set: they are never sent unencrypted" });
  }
  return problems;
}

export function emailMessage(settings: Settings, message: Notification) {
  const lines = bodyLines(message, BODY_MAX);
  const title = oneLine(message.title);
  const link = message.url ? `\n\nDashboard: ${message.url}` : "";
  const htmlLink = message.url ? `<p><a href="${escapeHtml(message.url)}">Open the vxman dashboard</a></p>` : "";
  return {
    from: settings.from,
    to: settings.to,
    subject: title,
    // The notification id, so a retried message has the same Message-ID and clients can dedupe.
    messageId: `<${message.id.replace(/[^A-Za-z0-9._-]/g, "_")}@${settings.from.split("@").at(-1)!.replace(/>$/, "")}>`,
    headers: { "Auto-Submitted": "auto-generated", "X-Vxman-Kind": message.kind }, // RFC 3834: no auto-replies
    text: `${title}\n\n${lines.join("\n")}${link}\n`,
    html: `<p><strong>${escapeHtml(title)}</strong></p><ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>${htmlLink}`,
  };
}

const nodemailer = lazyModule(() => require("nodemailer") as typeof import("nodemailer"));

function transportFor(settings: Settings) {
  return nodemailer().createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.security === "tls",
    requireTLS: settings.security === "starttls",
    ignoreTLS: settings.security === "none",
    auth: settings.username ? { user: settings.username, pass: settings.password } : undefined,
    tls: { minVersion: "TLSv1.2", ...(settings.ca ? { ca: [...rootCertificates, settings.ca] } : {}) },
    connectionTimeout: DEFAULT_TIMEOUT_MS,
    greetingTimeout: DEFAULT_TIMEOUT_MS,
    socketTimeout: DEFAULT_TIMEOUT_MS,
    // A message never makes nodemailer read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
}

/** SMTP replies decide: 4xx try again, 5xx do not. Without a reply, it was the connection. */
export function classifySmtpError(err: unknown, settings: Settings): Delivery {
  const e = (err ?? {}) as { code?: string; responseCode?: number; response?: string; message?: string };
  const said = scrub(oneLine(e.response ?? e.message ?? "", 200), [settings.password ?? ""]);
  if (typeof e.responseCode === "number") {
    const enhanced = /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(e.response ?? "")?.[1];
    return failed(enhanced ? `${e.responseCode} ${enhanced}` : String(e.responseCode), e.responseCode < 500, said);
  }
  if (TLS_ERROR.test(e.message ?? "")) return failed("tls", false, `the TLS certificate of ${settings.host} is not trusted (${said}); set settings.ca to a private CA's PEM`);
  if (e.code === "ETLS") return failed("ETLS", false, `STARTTLS failed or is not offered by ${settings.host}: ${said}`);
  if (e.code === "EAUTH" || e.code === "ENOAUTH" || e.code === "EENVELOPE") return failed(e.code, false, said);
  if (e.code === "ETIMEDOUT") return failed("timeout", true, `no answer from ${settings.host}:${settings.port} in time`);
  const errno = /\b(E[A-Z]{3,})\b/.exec(e.message ?? "")?.[1] ?? e.code ?? "network";
  return failed(errno, true, `cannot reach ${settings.host}:${settings.port} (${said})`);
}

function whenAborted(signal: AbortSignal): Promise<Delivery> {
  return new Promise((resolve) => {
    const stop = () => resolve(signal.reason?.name === "TimeoutError" ? failed("timeout", true, "no answer from the SMTP server in time") : failed("aborted", true, "sending was cancelled"));
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
}

export const email: ChannelKind<Settings> = {
  kind: "email",
  settings: Settings,
  secretFields: ["password"],
  check,
  async send(settings, message, signal) {
    const transport = transportFor(settings);
    const sending = transport.sendMail(emailMessage(settings, message)).then(
      (info): Delivery => {
        const refused = info.rejected.map(String);
        const detail = refused.length ? `accepted for ${info.accepted.length} of ${settings.to.length}; refused: ${refused.join(", ")}` : oneLine(info.response, 200);
        return { ok: true, retry: false, status: /^\d{3}/.exec(info.response)?.[0] ?? "250", detail };
      },
      (err: unknown) => classifySmtpError(err, settings),
    );
    try {
      return await Promise.race([sending, whenAborted(AbortSignal.any([signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]))]);
    } finally {
      transport.close();
    }
  },
};
