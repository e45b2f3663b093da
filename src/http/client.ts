// Who is asking, and for what path: read from a request without ever throwing. A request whose
// Host header Bun could not turn into a URL has a bare path as its url ("/health"), so
// `new URL(request.url)` throws on exactly the requests an error handler must still answer.

/** The path of a request URL ("/api/machines"), whatever the URL looks like. Never throws. */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = scheme === -1 ? url.indexOf("/") : url.indexOf("/", scheme + 3);
  if (start === -1) return "/";
  const end = url.search(/[?#]/);
  return end === -1 || end < start ? url.slice(start) : url.slice(start, end);
}

/** True when Bun made an absolute http(s) URL of the request: its Host header was usable. */
export function hasUsableHost(url: string): boolean {
  if (!/^https?:\/\//.test(url)) return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

/**
 * The client's IP: the socket's peer address, or — only with TRUST_PROXY, behind your own
 * reverse proxy — the address that proxy appended last to X-Forwarded-For (entries before it
 * are whatever the client claimed, so they are never trusted).
 */
export function clientIp(peer: string | undefined, forwardedFor: string | null | undefined, trustProxy: boolean): string {
  if (trustProxy) {
    const last = forwardedFor?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  return peer ?? "unknown";
}

/**
 * The key a client is counted under: its IPv4 address, or the /64 of its IPv6 address (one
 * IPv6 host usually holds a whole /64, so counting single addresses would let it walk around
 * every per-client limit).
 */
export function clientKey(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!ip.includes(":")) return ip;
  const groups = expandIpv6(ip);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : ip;
}

function expandIpv6(ip: string): string[] | null {
  const [head = "", tail] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  if (tail === undefined && left.length !== 8) return null;
  const zeros = Array(8 - left.length - right.length).fill("0");
  return [...left, ...zeros, ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
}

// The client of each request, worked out once by the first hook (the rate limit) and read by
// the others (the refusal log), so they all count the same client.
const clients = new WeakMap<Request, string>();

export function rememberClient(request: Request, ip: string): void {
  clients.set(request, ip);
}

export function clientOf(request: Request): string {
  return clients.get(request) ?? "unknown";
}
