// The people API's contract: users, sessions, personal API tokens, and "who am I".
import { t } from "elysia";
import { MAX_PASSWORD_LENGTH } from "./passwords.ts";

export const USERNAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

const Time = t.String({ format: "date-time" });
const NullableTime = t.Union([Time, t.Null()]);

export const RoleSchema = t.Union([t.Literal("viewer"), t.Literal("operator"), t.Literal("admin")], {
  error: "must be viewer, operator or admin",
});

const Username = t.String({
  pattern: USERNAME_PATTERN,
  error: "must be 1–64 letters, digits, dots, hyphens or underscores, starting with a letter or digit",
  examples: ["alice"],
});
// Checked for length and commonness by the service (passwords.ts), which can say which rule failed.
const Password = t.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH, error: `must be a string of at most ${MAX_PASSWORD_LENGTH} characters` });
const DisplayName = t.String({ maxLength: 100, pattern: "^[^\\u0000-\\u001f]*$", error: "must be at most 100 characters, without control characters" });

export const User = t.Object({
  id: t.Integer(),
  username: t.String(),
  display_name: t.String(),
  role: RoleSchema,
  disabled: t.Boolean(),
  created_at: Time,
  updated_at: Time,
  last_login_at: NullableTime,
});
export type User = typeof User.static;

export const UserList = t.Object({ items: t.Array(User) });

export const NewUser = t.Object(
  { username: Username, display_name: t.Optional(DisplayName), role: RoleSchema, password: Password },
  { additionalProperties: false },
);
export type NewUser = typeof NewUser.static;

export const UserPatch = t.Object(
  {
    display_name: t.Optional(DisplayName),
    role: t.Optional(RoleSchema),
    disabled: t.Optional(t.Boolean({ error: "must be true or false" })),
    /** An admin setting a new password (a reset): the user's sessions end. */
    password: t.Optional(Password),
  },
  { additionalProperties: false, minProperties: 1, error: "send at least one of display_name, role, disabled, password" },
);
export type UserPatch = typeof UserPatch.static;

export const UserRef = t.Object({ user: t.String({ pattern: "^\\d{1,9}$", error: "must be a user id (a number)" }) });

export const LoginBody = t.Object({ username: t.String({ maxLength: 64, error: "must be a user name" }), password: Password }, { additionalProperties: false });

export const PasswordChange = t.Object({ current_password: Password, new_password: Password }, { additionalProperties: false });

export const Session = t.Object({
  id: t.Integer(),
  user_id: t.Integer(),
  username: t.String(),
  created_at: Time,
  last_used_at: Time,
  expires_at: Time,
  address: t.Union([t.String(), t.Null()]),
  user_agent: t.Union([t.String(), t.Null()]),
  /** The session this request came with. */
  current: t.Boolean(),
});
export type Session = typeof Session.static;
export const SessionList = t.Object({ items: t.Array(Session) });
export const SessionQuery = t.Object({ user_id: t.Optional(t.Integer({ minimum: 1, maximum: 2_147_483_647, error: "must be a user id" })) });

export const ApiToken = t.Object({
  id: t.Integer(),
  user_id: t.Integer(),
  username: t.String(),
  name: t.String(),
  role: RoleSchema,
  prefix: t.String({ description: "The token's first characters, to tell tokens apart" }),
  created_at: Time,
  expires_at: NullableTime,
  last_used_at: NullableTime,
  revoked_at: NullableTime,
});
export type ApiToken = typeof ApiToken.static;
export const ApiTokenList = t.Object({ items: t.Array(ApiToken) });
export const CreatedApiToken = t.Composite([ApiToken, t.Object({ token: t.String({ description: "Shown once: only a digest is kept" }) })]);

export const NewApiToken = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 100, pattern: "^[^\\u0000-\\u001f]+$", error: "must be 1–100 characters, without control characters" }),
    role: t.Optional(RoleSchema),
    expires_in_days: t.Optional(t.Integer({ minimum: 1, maximum: 3650, error: "must be a whole number of days from 1 to 3650" })),
  },
  { additionalProperties: false },
);
export type NewApiToken = typeof NewApiToken.static;

export const IdRef = t.Object({ id: t.String({ pattern: "^\\d{1,9}$", error: "must be an id (a number)" }) });

export const WhoAmI = t.Object({
  authenticated: t.Boolean(),
  /** user, api-token, admin-token, read-token, or anonymous */
  via: t.String(),
  role: t.Union([RoleSchema, t.Null()]),
  user: t.Union([User, t.Null()]),
  /** False until the first user exists: the dashboard then says how to create one. */
  users_exist: t.Boolean(),
  /** Reads need no login (ANONYMOUS_READ). */
  anonymous_read: t.Boolean(),
  /** A session cookie came, but its session has ended (logged out, expired, revoked). */
  session_ended: t.Boolean(),
});
export type WhoAmI = typeof WhoAmI.static;
