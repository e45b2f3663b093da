-- Outages that reach people: labels on machines, outage history, notification channels,
-- silences, and the pipeline from a state change to a delivered message (alert_changes →
-- alerts and alert_groups → notifications), every step in the database so that nothing is
-- lost or sent twice, across restarts and instances.

-- Short key=value strings a machine sends or operators set; channels, silences and jobs select by them.
ALTER TABLE machines ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
CREATE INDEX machines_labels_idx ON machines USING gin (labels);

-- Each unreachable → recovered period of a machine. Kept after the machine is deleted (ended_by 'deleted').
CREATE TABLE outages (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  machine_id  integer     NOT NULL,
  hostname    text        NOT NULL,
  ip_address  inet        NOT NULL,
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz,
  ended_by    text        CHECK (ended_by IN ('recovered', 'deleted')),
  -- The unreachable event that opened it: a retried write cannot open it twice.
  start_event bigint      NOT NULL UNIQUE
);
CREATE UNIQUE INDEX outages_open_idx ON outages (machine_id) WHERE ended_at IS NULL;
CREATE INDEX outages_machine_idx ON outages (machine_id, started_at);
CREATE INDEX outages_time_idx ON outages (started_at, ended_at);

-- Where messages go. Secret settings (webhook secrets, bot tokens, passwords, webhook URLs that
-- are secrets themselves) are sealed with AES-256-GCM (src/secrets) in `secrets`; `settings`
-- holds the rest.
CREATE TABLE channels (
  id             integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name           text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  kind           text        NOT NULL,
  settings       jsonb       NOT NULL DEFAULT '{}',
  secrets        text,
  -- Which changes it is told about: unreachable, recovered, registered, deleted, mac_changed.
  events         text[]      NOT NULL,
  -- {labels?: ["k=v", …] (all must match), groups?: ["vni 4096", …] (any)}; {} = every machine.
  filter         jsonb       NOT NULL DEFAULT '{}',
  enabled        boolean     NOT NULL DEFAULT true,
  max_per_minute integer     NOT NULL DEFAULT 20 CHECK (max_per_minute BETWEEN 1 AND 10000),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Muting: machines (by id, labels, groups) for a while, or on a schedule (cron + time zone +
-- duration). Messages are held while muted, never dropped.
CREATE TABLE silences (
  id          integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  machine_ids integer[]   NOT NULL DEFAULT '{}',
  labels      text[]      NOT NULL DEFAULT '{}',
  groups      text[]      NOT NULL DEFAULT '{}',
  starts_at   timestamptz NOT NULL,
  -- A one-off silence ends here; a scheduled one stops recurring here (null: never).
  ends_at     timestamptz,
  cron        text,
  timezone    text,
  duration_ms bigint,
  comment     text        NOT NULL DEFAULT '' CHECK (length(comment) <= 500),
  created_by  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- Deleted silences are kept (expired now), so the log of who muted what stays whole.
  expired_at  timestamptz,
  CHECK ((cron IS NULL) = (duration_ms IS NULL) AND (cron IS NOT NULL OR ends_at IS NOT NULL))
);

-- The outbox of facts: an event a channel may have to hear about, written in the same
-- transaction as the event (by the trigger below), taken by the dispatcher.
CREATE TABLE alert_changes (
  event_id bigint PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE
);

-- What each channel has been told, per machine: down (firing) since when, and whether that was
-- announced; a recovery of an announced outage waits here until it is sent.
CREATE TABLE alerts (
  channel_id  integer     NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  machine_id  integer     NOT NULL,
  group_key   text        NOT NULL,
  firing      boolean     NOT NULL,
  since       timestamptz NOT NULL,
  resolved_at timestamptz,
  announced   boolean     NOT NULL DEFAULT false,
  -- The machine as the message shows it (NotifiedMachine).
  machine     jsonb       NOT NULL,
  PRIMARY KEY (channel_id, machine_id)
);
CREATE INDEX alerts_group_idx ON alerts (channel_id, group_key);

-- Registrations, deletions and MAC changes waiting for their group's next message.
CREATE TABLE alert_notices (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel_id integer     NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  group_key  text        NOT NULL,
  kind       text        NOT NULL,
  machine    jsonb       NOT NULL,
  at         timestamptz NOT NULL
);
CREATE INDEX alert_notices_group_idx ON alert_notices (channel_id, group_key);

-- Alertmanager's aggregation groups, per channel: when the group's next message is due.
CREATE TABLE alert_groups (
  channel_id     integer     NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  group_key      text        NOT NULL,
  next_flush_at  timestamptz,
  last_flush_at  timestamptz,
  last_repeat_at timestamptz,
  PRIMARY KEY (channel_id, group_key)
);
CREATE INDEX alert_groups_due_idx ON alert_groups (next_flush_at) WHERE next_flush_at IS NOT NULL;

-- The outbox of messages: claimed by one sender at a time, retried with backoff, kept as the
-- delivery log.
CREATE TABLE notifications (
  id              uuid        PRIMARY KEY,
  channel_id      integer     REFERENCES channels (id) ON DELETE SET NULL,
  channel_name    text        NOT NULL,
  kind            text        NOT NULL,
  group_key       text        NOT NULL,
  title           text        NOT NULL,
  payload         jsonb       NOT NULL,
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  claimed_until   timestamptz,
  claimed_by      text,
  last_status     text,
  last_detail     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_channel_idx ON notifications (channel_id, created_at);

ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN (
  'registered', 'updated', 'unreachable', 'recovered', 'deleted', 'notes_changed', 'labels_changed',
  'user_created', 'user_changed', 'password_changed', 'token_created', 'token_revoked', 'sessions_revoked',
  'channel_created', 'channel_changed', 'channel_deleted', 'silence_created', 'silence_expired'
));

-- Every event that is an outage's start or end opens or closes it, and every event a channel may
-- hear about goes to the outbox of facts, in the transaction that wrote the event: whichever code
-- path wrote it (the monitor's batches, registrations, deletions), none can forget.
CREATE FUNCTION events_follow_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.kind = 'unreachable' THEN
    INSERT INTO outages (machine_id, hostname, ip_address, started_at, start_event)
    VALUES (NEW.machine_id, NEW.hostname, NEW.ip_address, NEW.at, NEW.id)
    ON CONFLICT DO NOTHING;
  ELSIF NEW.kind IN ('recovered', 'deleted') THEN
    UPDATE outages SET ended_at = NEW.at, ended_by = NEW.kind
    WHERE machine_id = NEW.machine_id AND ended_at IS NULL;
  END IF;
  IF NEW.kind IN ('unreachable', 'recovered', 'registered', 'deleted')
     OR (NEW.kind = 'updated' AND NEW.details ? 'mac_address') THEN
    INSERT INTO alert_changes (event_id) VALUES (NEW.id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER events_follow_up AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_follow_up();

-- Machines already down when this migration runs: their outage is open since their last
-- unreachable event.
INSERT INTO outages (machine_id, hostname, ip_address, started_at, start_event)
SELECT m.id, m.hostname, m.ip_address, e.at, e.id
FROM machines m
JOIN LATERAL (SELECT id, at FROM events WHERE machine_id = m.id AND kind = 'unreachable' ORDER BY id DESC LIMIT 1) e ON true
WHERE m.status = 'unreachable'
ON CONFLICT DO NOTHING;
