-- vxman schema, version 1. Applied by src/db/migrate.ts inside one transaction.

-- The machines of the overlay. The IP is the identity a machine registers under (the upsert
-- key); the id is what admins and URLs use once it exists.
CREATE TABLE machines (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  hostname    text        NOT NULL CHECK (length(hostname) BETWEEN 1 AND 255),
  ip_address  inet        NOT NULL UNIQUE,
  mac_address macaddr     NOT NULL,
  status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unreachable')),
  extra_data  jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(extra_data) = 'object'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- Last registration or heartbeat. The API's last_seen is the later of this and
  -- ping_state.last_reply_at, so echo replies never rewrite this (indexed, wider) row.
  last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX machines_status_idx ON machines (status);

-- The monitor's schedule per machine, apart from machines so the frequent writes from ping
-- batches touch a narrow row and not the machine's indexed one.
CREATE TABLE ping_state (
  machine_id           integer     PRIMARY KEY REFERENCES machines (id) ON DELETE CASCADE,
  consecutive_failures integer     NOT NULL DEFAULT 0,
  interval_ms          integer     NOT NULL,
  next_check_at        timestamptz NOT NULL,
  last_checked_at      timestamptz,
  last_reply_at        timestamptz,
  last_rtt_ms          real
);
CREATE INDEX ping_state_next_check_idx ON ping_state (next_check_at);

-- RTT history for charts: one row per check; rtt_ms NULL when the check failed.
CREATE TABLE ping_samples (
  machine_id integer     NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
  checked_at timestamptz NOT NULL,
  rtt_ms     real
);
CREATE INDEX ping_samples_machine_time_idx ON ping_samples (machine_id, checked_at);
CREATE INDEX ping_samples_time_idx ON ping_samples (checked_at);

-- The audit log. Rows outlive their machine (no foreign key): a deleted machine's record is
-- kept here in details.
CREATE TABLE events (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Set by the monitor: a retried batch (its commit acknowledgement lost to an outage) must not
  -- log the same unreachable/recovered twice.
  event_key   uuid        UNIQUE,
  at          timestamptz NOT NULL DEFAULT now(),
  kind        text        NOT NULL CHECK (kind IN ('registered', 'updated', 'unreachable', 'recovered', 'deleted')),
  machine_id  integer,
  ip_address  inet,
  hostname    text,
  details     jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_machine_idx ON events (machine_id, id);
CREATE INDEX events_kind_idx ON events (kind, id);

-- Server-side settings vxman keeps for itself (the generated admin token's hash).
CREATE TABLE settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);
