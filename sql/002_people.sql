-- People: users with roles, their dashboard sessions and personal API tokens; who did what in
-- the event log; an operator's notes on a machine.

CREATE TABLE users (
  id            integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username      text        NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  display_name  text        NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
  role          text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  -- argon2id, in the PHC string format Bun.password writes.
  password_hash text        NOT NULL,
  disabled      boolean     NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);
-- Unique whatever the case: "Alice" and "alice" are one person.
CREATE UNIQUE INDEX users_username_idx ON users (lower(username));

-- Dashboard sessions. Only a SHA-256 digest of the cookie's value is stored, so a copy of the
-- database opens no session; every instance on this database accepts the same cookie.
CREATE TABLE sessions (
  id           integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  secret_hash  bytea       NOT NULL UNIQUE,
  user_id      integer     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Moved forward at most once a minute while the session is used (idle timeout).
  last_used_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  address      text,
  user_agent   text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Personal API tokens: a digest of the token; its role is at most its owner's.
CREATE TABLE api_tokens (
  id           integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  secret_hash  bytea       NOT NULL UNIQUE,
  user_id      integer     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role         text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  -- The first characters of the token, to tell tokens apart in a list ("vxm_3fK9…").
  prefix       text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Who did it, from where: a user, "alice (token ci)", "admin-token", "monitor", a machine.
ALTER TABLE events ADD COLUMN actor text;
ALTER TABLE events ADD COLUMN actor_address text;
CREATE INDEX events_actor_idx ON events (actor, id);

-- The audit log now records people's actions too (users, tokens, sessions), not only machines'.
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN (
  'registered', 'updated', 'unreachable', 'recovered', 'deleted', 'notes_changed',
  'user_created', 'user_changed', 'password_changed', 'token_created', 'token_revoked', 'sessions_revoked'
));

-- What operators write about a machine (shown on its page).
ALTER TABLE machines ADD COLUMN notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000);
