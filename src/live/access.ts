// Who may open /ws/status. A browser cannot set headers on a WebSocket and a
// token in the URL would land in access logs, so besides "Authorization: Bearer" the token may
// come as a subprotocol: `Sec-WebSocket-Protocol: vxman, bearer.<base64url(token)>`. The server
// then answers with the plain `vxman` protocol, never echoing the token back.
import { accessError, type Credentials } from "../api/auth.ts";
import type { ApiError } from "../http/errors.ts";
import { TOKEN_PROTOCOL_PREFIX } from "./protocol.ts";

type Headers = Record<string, string | undefined>;

export function offeredProtocols(headers: Headers): string[] {
  return (headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
}

/** The Authorization value to check: the header, else the token carried as a subprotocol. */
function authorization(headers: Headers): string | undefined {
  if (headers.authorization) return headers.authorization;
  const carried = offeredProtocols(headers).find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  if (!carried) return undefined;
  const token = Buffer.from(carried.slice(TOKEN_PROTOCOL_PREFIX.length), "base64url").toString("utf8");
  return `Bearer ${token}`;
}

/** Null when the upgrade may proceed; else the 401/403 to answer (READ_TOKEN or the admin token). */
export function liveAccessError(headers: Headers, creds: Credentials): ApiError | null {
  return accessError("read", authorization(headers), creds);
}
