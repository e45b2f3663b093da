// The enrolment script a machine pipes into sh: register.sh with the manager's own URL filled
// in. That URL comes from the request (its Host header), which anyone can forge, so it is
// validated strictly and the result may only hold characters with no meaning to a shell.
import { isIPv4, isIPv6 } from "node:net";
import { HOSTNAME_PATTERN } from "../machines/address.ts";
import template from "./register.sh" with { type: "text" };

const PLACEHOLDER = "@@VXMAN_MANAGER_URL@@";
const HOSTNAME = new RegExp(HOSTNAME_PATTERN);
/** What a rendered manager URL may hold: no quote, space, $, `, \, ;, newline, nothing a shell reads. */
const SHELL_INERT_URL = /^https?:\/\/[A-Za-z0-9.:[\]-]+$/;

/**
 * A Host header value (`host`, `host:port`, `[v6]:port`) → its normalised form, or null when
 * it is anything else: an IPv4 address, an RFC 1123 host name, or a bracketed IPv6 address
 * (no zone id), and a port from 1 to 65535.
 */
export function normaliseAuthority(raw: string): string | null {
  if (raw.length > 270) return null;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(raw);
  if (!m) return null;
  const [, v6, name, port] = m;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  const suffix = port === undefined ? "" : `:${Number(port)}`;
  if (v6 !== undefined) return isIPv6(v6) ? `[${v6.toLowerCase()}]${suffix}` : null;
  const host = name!.replace(/\.$/, "").toLowerCase();
  if (isIPv4(host)) return host + suffix;
  // A name, whose last label is not all digits (else "1.2.3" would pass as one).
  if (host.length > 253 || !HOSTNAME.test(host) || /(^|\.)\d+$/.test(host)) return null;
  return host + suffix;
}

export interface RequestOrigin {
  /** The Host header, when the request had one. */
  host: string | null;
  /** The host of the request's URL: what Bun made of it when there was no Host header. */
  urlHost: string;
  /** X-Forwarded-Host / X-Forwarded-Proto, honoured only behind a trusted proxy (TRUST_PROXY). */
  forwardedHost: string | null;
  forwardedProto: string | null;
  trustProxy: boolean;
}

/** The URL machines reach this manager at, as the request shows it; null when it is not a valid one. */
export function managerUrl(origin: RequestOrigin): string | null {
  const first = (list: string | null) => list?.split(",")[0]?.trim() || null;
  const forwardedHost = origin.trustProxy ? first(origin.forwardedHost) : null;
  const authority = normaliseAuthority(forwardedHost ?? origin.host ?? origin.urlHost);
  if (!authority) return null;
  const proto = origin.trustProxy ? first(origin.forwardedProto)?.toLowerCase() : undefined;
  return `${proto === "https" ? "https" : "http"}://${authority}`;
}

/** register.sh for machines that reach the manager at `url` (a managerUrl() result). */
export function registerScript(url: string): string {
  // Defence in depth: managerUrl() already guarantees this, and the script single-quotes it.
  if (!SHELL_INERT_URL.test(url)) throw new Error(`refusing to put ${JSON.stringify(url)} into a shell script`);
  return template.replace(PLACEHOLDER, url);
}
