// People's routes: logging in and out, who am I, one's own password, sessions and API tokens;
// users for admins. Who may call each is in the access table (access.ts); what is checked here
// is ownership (your own sessions and tokens, or anyone's for an admin).
import { Elysia } from "elysia";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { accessControl } from "./access.ts";
import type { Identity } from "./identity.ts";
import {
  ApiTokenList, CreatedApiToken, IdRef, LoginBody, NewApiToken, NewUser, PasswordChange, SessionList, SessionQuery, User, UserList,
  UserPatch, UserRef, WhoAmI,
} from "./model.ts";
import { clearCookie, sessionCookie } from "./cookie.ts";
import { SESSION_COOKIE, cookieValue } from "./identity.ts";
import type { SessionService, SessionUser } from "./sessions.ts";
import type { LoginThrottle } from "./throttle.ts";
import type { TokenService } from "./tokens.ts";
import type { UserService } from "./users.ts";

export interface PeopleDeps {
  access: ReturnType<typeof accessControl>;
  users: UserService;
  sessions: SessionService;
  tokens: TokenService;
  throttle: LoginThrottle;
  log: Logger;
  metrics: Metrics;
  settings: { anonymousRead: boolean; sessionLifetimeMs: number; trustProxy: boolean };
  /** A session ended, a token was revoked, a user changed: connections that outlive their
   *  request (dashboards' sockets) check their credentials again. */
  onAccessChanged: () => void;
}

/** The user behind a session or a personal token; the shared tokens are nobody. */
function userOf(identity: Identity): SessionUser {
  if (identity.via === "session" || identity.via === "api-token") return identity.user;
  throw new ApiError(403, "not_a_user", `This is for a user account; ${identity.actor} is not one (log in as a user, or use a personal API token).`);
}

/** Whose sessions or tokens a request may see: its own; an admin may name anyone (or all). */
function scopeOf(identity: Identity, askedFor: number | undefined): number | null {
  if (identity.role === "admin") return askedFor ?? (identity.via === "session" || identity.via === "api-token" ? identity.user.id : null);
  const me = userOf(identity);
  if (askedFor !== undefined && askedFor !== me.id) throw new ApiError(403, "forbidden", "Only an admin can see other users' sessions and tokens.");
  return me.id;
}

const WRONG_LOGIN = "Wrong user name or password.";

export function peopleApi({ access, users, sessions, tokens, throttle, log, metrics, settings, onAccessChanged }: PeopleDeps) {
  const loginFailed = (reason: string, username: string, client: string) => {
    metrics.loginFailures.inc({ reason });
    log.warn({ username: username.slice(0, 64), client, reason }, "login failed");
  };

  return new Elysia({ name: "people-api", detail: { tags: ["people"] } })
    .use(access)
    .get(
      "/api/session",
      async ({ identity }) => {
        const user = identity.via === "session" || identity.via === "api-token" ? await users.get(identity.user.id) : null;
        return {
          authenticated: identity.via !== "anonymous",
          via: identity.via,
          role: identity.role,
          user,
          users_exist: (await users.count()) > 0,
          anonymous_read: settings.anonymousRead,
          session_ended: identity.via === "anonymous" && identity.sessionEnded === true,
        };
      },
      { response: WhoAmI, detail: { summary: "Who am I", description: "What the request's cookie or token opens; whether any user exists yet." } },
    )
    .post(
      "/api/session",
      async ({ body, actor, request, set }) => {
        const client = actor.address ?? "unknown";
        const wait = throttle.waitFor(body.username, client);
        if (wait > 0) {
          loginFailed("throttled", body.username, client);
          throw new ApiError(429, "too_many_logins", "Too many failed logins; wait before trying again.", undefined, { "retry-after": String(Math.ceil(wait / 1000)) });
        }
        const { user, reason } = await users.authenticate(body.username, body.password);
        if (!user) {
          throttle.failed(body.username, client);
          loginFailed(reason, body.username, client);
          throw new ApiError(401, "unauthorized", WRONG_LOGIN);
        }
        throttle.succeeded(body.username, client);
        const session = await sessions.create(user.id, { address: actor.address, userAgent: request.headers.get("user-agent") });
        set.headers["set-cookie"] = sessionCookie(session.secret, request, settings);
        set.headers["cache-control"] = "no-store";
        log.info({ username: user.username, client, session_id: session.id }, "logged in");
        return { user, expires_at: session.expiresAt.toISOString() };
      },
      {
        body: LoginBody,
        detail: { summary: "Log in", description: "Sets the session cookie (HttpOnly, SameSite=Strict). Throttled per account and per client after 5 failures." },
      },
    )
    .delete(
      "/api/session",
      async ({ request, set, status }) => {
        const secret = cookieValue(request.headers.get("cookie"), SESSION_COOKIE);
        if (secret) await sessions.end(secret);
        set.headers["set-cookie"] = clearCookie(request, settings);
        onAccessChanged();
        return status(204, undefined);
      },
      { detail: { summary: "Log out", description: "Ends this session and clears the cookie." } },
    )
    .put(
      "/api/session/password",
      async ({ identity, actor, body, status }) => {
        const me = userOf(identity);
        await users.changeOwnPassword(me.id, body.current_password, body.new_password, actor, identity.via === "session" ? identity.sessionId : null);
        onAccessChanged();
        return status(204, undefined);
      },
      { body: PasswordChange, detail: { summary: "Change my password", description: "Needs the current one; ends your other sessions." } },
    )
    .get(
      "/api/sessions",
      async ({ identity, query }) => ({ items: await sessions.list(scopeOf(identity, query.user_id), identity.via === "session" ? identity.sessionId : null) }),
      { query: SessionQuery, response: SessionList, detail: { summary: "Sessions", description: "Your own; an admin's view may name a user_id, or all (admin tokens)." } },
    )
    .delete(
      "/api/sessions/:id",
      async ({ identity, actor, params, status }) => {
        const owner = identity.role === "admin" ? null : userOf(identity).id;
        const ended = await sessions.revoke(Number(params.id), owner, actor);
        if (!ended) throw notFound(`Session ${params.id}`);
        log.info({ session_id: Number(params.id), username: ended.username, by: actor.name }, "session revoked");
        onAccessChanged();
        return status(204, undefined);
      },
      { params: IdRef, detail: { summary: "End a session", description: "Your own, or anyone's for an admin." } },
    )
    .get(
      "/api/tokens",
      async ({ identity, query }) => ({ items: await tokens.list(scopeOf(identity, query.user_id)) }),
      { query: SessionQuery, response: ApiTokenList, detail: { summary: "Personal API tokens", description: "Your own; an admin may name a user_id, or see all." } },
    )
    .post(
      "/api/tokens",
      async ({ identity, actor, body, status }) => status(201, await tokens.create(userOf(identity), body, actor)),
      {
        body: NewApiToken,
        response: { 201: CreatedApiToken },
        detail: { summary: "Create a personal API token", description: "Shown once. Its role is yours or lower; use it as `Authorization: Bearer vxm_…`." },
      },
    )
    .delete(
      "/api/tokens/:id",
      async ({ identity, actor, params, status }) => {
        await tokens.revoke(Number(params.id), identity.role === "admin" ? null : userOf(identity).id, actor);
        onAccessChanged();
        return status(204, undefined);
      },
      { params: IdRef, detail: { summary: "Revoke a personal API token", description: "Your own, or anyone's for an admin." } },
    )
    .get("/api/users", async () => ({ items: await users.list() }), { response: UserList, detail: { summary: "Users (admin)" } })
    .post("/api/users", async ({ body, actor, status }) => status(201, await users.create(body, actor)), {
      body: NewUser,
      response: { 201: User },
      detail: { summary: "Add a user (admin)", description: "Passwords: at least 10 characters, not a common one, not containing the user name." },
    })
    .get(
      "/api/users/:user",
      async ({ params }) => {
        const user = await users.get(Number(params.user));
        if (!user) throw notFound(`User ${params.user}`);
        return user;
      },
      { params: UserRef, response: User, detail: { summary: "One user (admin)" } },
    )
    .patch(
      "/api/users/:user",
      async ({ identity, actor, params, body }) => {
        const by = identity.via === "session" || identity.via === "api-token" ? identity.user.id : null;
        const { user } = await users.update(Number(params.user), body, actor, by);
        onAccessChanged(); // a new role, a disabled user or a reset password changes what their sockets may see
        return user;
      },
      {
        params: UserRef,
        body: UserPatch,
        response: User,
        detail: { summary: "Change a user (admin)", description: "Role, display name, disabled, or a new password (a reset: the user's sessions end)." },
      },
    );
}

