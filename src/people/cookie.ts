// The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page makes
// the browser send it), Path=/, and Secure when the dashboard is served over HTTPS (directly, or
// behind a TRUST_PROXY proxy that says X-Forwarded-Proto: https).
import { SESSION_COOKIE } from "./identity.ts";

function overHttps(request: Request, trustProxy: boolean): boolean {
  if (request.url.startsWith("https:")) return true;
  return trustProxy && request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https";
}

function cookie(value: string, maxAgeS: number, request: Request, trustProxy: boolean): string {
  const secure = overHttps(request, trustProxy) ? "; Secure" : "";
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}

export const sessionCookie = (secret: string, request: Request, s: { sessionLifetimeMs: number; trustProxy: boolean }) =>
  cookie(secret, Math.floor(s.sessionLifetimeMs / 1000), request, s.trustProxy);

export const clearCookie = (request: Request, s: { trustProxy: boolean }) => cookie("", 0, request, s.trustProxy);
