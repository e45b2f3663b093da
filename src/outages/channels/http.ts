// The one HTTP POST every HTTP channel makes, and the one place that decides what its outcome
// means: 2xx delivered; 408, 429 and 5xx worth another try (with the receiver's Retry-After);
// other 4xx and redirects not (the settings must change first); network failures and timeouts
// worth another try, except certificate errors, which need the operator.
//
// Every request is bounded: the caller's signal AND a default timeout, redirects are not followed
// (a webhook URL that moved should be updated, and following it could send a signed payload or a
// token to another host), and at most MAX_RESPONSE_BYTES of the reply is read.
import { Type } from "@sinclair/typebox";
import type { Delivery } from "./channel.ts";
import { oneLine } from "./format.ts";

export const DEFAULT_TIMEOUT_MS = 10_000;
export const MAX_RESPONSE_BYTES = 8 * 1024;
const MAX_DETAIL_CHARS = 200;
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** Settings field for a receiver's URL: http(s) only (no file:, no other scheme reaches fetch). */
export const HttpUrl = (description: string) =>
  Type.String({ maxLength: 2048, pattern: "^https?://[^\\s/?#]+(?:[/?#]\\S*)?$", error: "must be an http:// or https:// URL", description });

export interface HttpRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Values that must never appear in a Delivery's detail (tokens, secret URLs, header values). */
  secrets?: readonly string[];
}

export interface HttpReply {
  status: number;
  headers: Headers;
  /** The first MAX_RESPONSE_BYTES of the body, as text. */
  body: string;
}

export interface HttpOutcome {
  delivery: Delivery;
  /** Present when the receiver answered at all. */
  reply?: HttpReply;
}

export async function post(request: HttpRequest, signal: AbortSignal): Promise<HttpOutcome> {
  const url = parseHttpUrl(request.url);
  if (!url) return { delivery: failed("bad_url", false, "the URL is not an http(s) URL") };
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.any([signal, AbortSignal.timeout(DEFAULT_TIMEOUT_MS)]),
    });
    const reply = { status: response.status, headers: response.headers, body: await readCapped(response) };
    return { delivery: classifyReply(reply, url.host, request.secrets ?? []), reply };
  } catch (err) {
    return { delivery: classifyError(err, url.host) };
  }
}

/** POST `payload` as JSON; `secrets` as in HttpRequest. */
export function postJson(url: string, payload: unknown, signal: AbortSignal, secrets: readonly string[]) {
  return post({ url, body: JSON.stringify(payload), headers: { "content-type": "application/json" }, secrets }, signal);
}

export function parseHttpUrl(raw: string): URL | null {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

export function failed(status: string, retry: boolean, detail: string, retryAfterMs?: number): Delivery {
  return retryAfterMs === undefined ? { ok: false, retry, status, detail } : { ok: false, retry, status, detail, retryAfterMs };
}

function classifyReply(reply: HttpReply, host: string, secrets: readonly string[]): Delivery {
  const { status } = reply;
  const said = oneLine(scrub(reply.body, secrets), MAX_DETAIL_CHARS);
  const detail = `HTTP ${status} from ${host}${said ? `: ${said}` : ""}`.slice(0, MAX_DETAIL_CHARS);
  if (status >= 200 && status < 300) return { ok: true, retry: false, status: String(status), detail };
  if (status >= 300 && status < 400) return failed(String(status), false, `${detail} (redirects are not followed: set the final URL)`.slice(0, MAX_DETAIL_CHARS));
  const retry = status === 408 || status === 429 || status >= 500;
  return failed(String(status), retry, detail, retry ? retryAfterMs(reply.headers.get("retry-after")) : undefined);
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(header) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(seconds * 1000))) : undefined;
}

/** For receivers that say how long to wait in a 429's JSON body (Discord, Telegram): `pick` finds
 *  the seconds there; they replace Retry-After's whole seconds. */
export function retryAfterFromBody({ delivery, reply }: HttpOutcome, pick: (json: Record<string, any>) => unknown): Delivery {
  if (reply?.status !== 429) return delivery;
  try {
    const seconds = Number(pick(JSON.parse(reply.body) ?? {}));
    return Number.isFinite(seconds) && seconds >= 0 ? { ...delivery, retryAfterMs: Math.min(MAX_RETRY_AFTER_MS, Math.ceil(seconds * 1000)) } : delivery;
  } catch {
    return delivery;
  }
}

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME_MISMATCH/i;

/** A thrown fetch: our deadline or the caller's, or the network. Bun's messages carry the full URL
 *  (a secret for most channels), so the detail is built from the error's code alone. */
function classifyError(err: unknown, host: string): Delivery {
  const e = err as { name?: string; code?: unknown } | null;
  if (e?.name === "TimeoutError") return failed("timeout", true, `no answer from ${host} in time`);
  if (e?.name === "AbortError") return failed("aborted", true, `sending to ${host} was cancelled`);
  const code = typeof e?.code === "string" && /^[A-Z0-9_]{2,40}$/i.test(e.code) ? e.code : "network";
  if (TLS_ERROR.test(code)) return failed(code, false, `the TLS certificate of ${host} is not trusted (${code})`);
  return failed(code, true, `cannot reach ${host} (${code})`);
}

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short (or our deadline passing while reading it) does not change the status.
  } finally {
    void reader.cancel().catch(() => {});
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES));
}

/** Replace each secret that appears in `text` (a receiver may echo what it was sent). */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length >= 4).reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
}
