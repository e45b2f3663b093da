-- Fleet jobs: SSH credentials (sealed), SSH settings per machine and per label, host keys
-- trusted on first use, jobs (a script and the machines it runs on), runs with each host's
-- state and output, and the run_failed fact for notification channels.

-- What vxman logs in with. `sealed` holds the secret ({private_key, passphrase?} or {password})
-- as JSON sealed with AES-256-GCM (src/secrets), bound to the row ("credential:<id>"). It is set
-- in the transaction that inserts the row (the AAD needs the id), hence nullable.
CREATE TABLE credentials (
  id           integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  kind         text        NOT NULL CHECK (kind IN ('ssh-key', 'password')),
  -- Of the public key, for ssh-key credentials: ssh-ed25519 and SHA256:… as OpenSSH prints them.
  algorithm    text,
  fingerprint  text,
  sealed       text,
  created_by   text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);

-- SSH settings for machines by label: a rule applies to the machines that carry all its labels
-- (none: every machine). Per setting, a machine's own value wins, then the most specific rule
-- (most labels) that sets it, then the oldest such rule.
CREATE TABLE ssh_defaults (
  id            integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  labels        text[]      NOT NULL DEFAULT '{}',
  username      text        CHECK (length(username) BETWEEN 1 AND 64),
  port          integer     CHECK (port BETWEEN 1 AND 65535),
  credential_id integer     REFERENCES credentials (id),
  created_by    text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (username IS NOT NULL OR port IS NOT NULL OR credential_id IS NOT NULL)
);

-- A machine's own SSH settings and its host key: recorded the first time vxman connects (trust on
-- first use); a different key later is refused and kept in offered_host_key until an admin
-- accepts it. Keys are {algorithm, fingerprint, key} (key: base64 of the wire format).
CREATE TABLE machine_ssh (
  machine_id           integer     PRIMARY KEY REFERENCES machines (id) ON DELETE CASCADE,
  username             text        CHECK (length(username) BETWEEN 1 AND 64),
  port                 integer     CHECK (port BETWEEN 1 AND 65535),
  credential_id        integer     REFERENCES credentials (id),
  host_key             jsonb,
  host_key_recorded_at timestamptz,
  offered_host_key     jsonb,
  offered_at           timestamptz
);
CREATE INDEX machine_ssh_offered_idx ON machine_ssh (machine_id) WHERE offered_host_key IS NOT NULL;

-- A named script and the machines it runs on ({machine_ids?, labels?, groups?, status?, q?}).
CREATE TABLE jobs (
  id              integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name            text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  description     text        NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  script          text        NOT NULL CHECK (length(script) BETWEEN 1 AND 65536),
  targets         jsonb       NOT NULL,
  timeout_seconds integer     NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 86400),
  parallelism     integer     NOT NULL CHECK (parallelism BETWEEN 1 AND 1000),
  stop_on_failure boolean     NOT NULL DEFAULT false,
  -- [{name, default?, required?}]: passed to the script as environment variables.
  parameters      jsonb       NOT NULL DEFAULT '[]',
  cron            text,
  timezone        text,
  -- When the schedule was last set: slots before it are not missed runs.
  schedule_since  timestamptz,
  created_by      text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((cron IS NULL) = (timezone IS NULL))
);

-- One run of a job: what ran (the script and settings as they were), who started it, which
-- vxman instance runs it (gone with that instance: src/jobs/instance.ts), and how it ended.
CREATE TABLE runs (
  id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id              integer     REFERENCES jobs (id) ON DELETE SET NULL,
  job_name            text        NOT NULL,
  script              text        NOT NULL,
  parameters          jsonb       NOT NULL DEFAULT '{}',
  timeout_seconds     integer     NOT NULL,
  parallelism         integer     NOT NULL,
  stop_on_failure     boolean     NOT NULL,
  status              text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  message             text,
  started_by          text        NOT NULL,
  started_by_address  text,
  trigger             text        NOT NULL CHECK (trigger IN ('manual', 'schedule')),
  -- The schedule's slot this run is for: one run per slot, whichever instance gets there first.
  scheduled_for       timestamptz,
  instance_id         text        NOT NULL,
  cancel_requested_at timestamptz,
  cancelled_by        text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  ended_at            timestamptz
);
CREATE UNIQUE INDEX runs_schedule_slot_idx ON runs (job_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX runs_job_idx ON runs (job_id, id);
CREATE INDEX runs_running_idx ON runs (instance_id) WHERE status = 'running';

-- Each machine of a run, as it was when the run started (the record outlives the machine).
CREATE TABLE run_hosts (
  run_id       bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  machine_id   integer     NOT NULL,
  position     integer     NOT NULL,
  hostname     text        NOT NULL,
  ip_address   inet        NOT NULL,
  state        text        NOT NULL DEFAULT 'queued' CHECK (state IN (
    'queued', 'connecting', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'unreachable',
    'auth_failed', 'host_key_changed', 'error', 'skipped', 'interrupted')),
  exit_code    integer,
  signal       text,
  message      text,
  started_at   timestamptz,
  ended_at     timestamptz,
  output_bytes bigint      NOT NULL DEFAULT 0,
  truncated    boolean     NOT NULL DEFAULT false,
  PRIMARY KEY (run_id, machine_id)
);

-- What the hosts printed, in the order it arrived, in chunks written every few hundred ms while
-- the run goes on (so it survives a crash and any instance can read it). seq orders the whole
-- run; stdout and stderr stay apart per chunk. Raw bytes: colour codes are removed on the way out.
CREATE TABLE run_output (
  run_id     bigint  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq        integer NOT NULL,
  machine_id integer NOT NULL,
  stream     text    NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  data       bytea   NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX run_output_host_idx ON run_output (run_id, machine_id, seq);

ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN (
  'registered', 'updated', 'unreachable', 'recovered', 'deleted', 'notes_changed', 'labels_changed',
  'user_created', 'user_changed', 'password_changed', 'token_created', 'token_revoked', 'sessions_revoked',
  'channel_created', 'channel_changed', 'channel_deleted', 'silence_created', 'silence_expired',
  'credential_created', 'credential_deleted', 'ssh_defaults_changed', 'ssh_settings_changed', 'host_key_changed', 'host_key_accepted',
  'job_created', 'job_changed', 'job_deleted', 'run_started', 'run_cancelled', 'run_failed'
));

-- As in 003, plus: a failed run is a fact channels may hear about (it names no machine).
CREATE OR REPLACE FUNCTION events_follow_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.kind = 'unreachable' THEN
    INSERT INTO outages (machine_id, hostname, ip_address, started_at, start_event)
    VALUES (NEW.machine_id, NEW.hostname, NEW.ip_address, NEW.at, NEW.id)
    ON CONFLICT DO NOTHING;
  ELSIF NEW.kind IN ('recovered', 'deleted') THEN
    UPDATE outages SET ended_at = NEW.at, ended_by = NEW.kind
    WHERE machine_id = NEW.machine_id AND ended_at IS NULL;
  END IF;
  IF NEW.kind IN ('unreachable', 'recovered', 'registered', 'deleted', 'run_failed')
     OR (NEW.kind = 'updated' AND NEW.details ? 'mac_address') THEN
    INSERT INTO alert_changes (event_id) VALUES (NEW.id);
  END IF;
  RETURN NULL;
END $$;
