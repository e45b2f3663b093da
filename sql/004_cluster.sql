-- Several vxman instances on one PostgreSQL: who is running, who checks which machines, and
-- how a change made through one instance reaches the others.

-- Each running vxman, renewed every third of LEASE_PERIOD; one whose heartbeat is older than
-- LEASE_PERIOD is dead. boot_id and pid_namespace tell whether its pid can be checked from here
-- (same kernel, same pid namespace): a restarted instance reclaims a crashed one's work at once.
CREATE TABLE instances (
  id               text        PRIMARY KEY,
  host             text        NOT NULL,
  pid              integer     NOT NULL,
  boot_id          text        NOT NULL DEFAULT '',
  pid_namespace    text        NOT NULL DEFAULT '',
  version          text        NOT NULL,
  url              text,
  started_at       timestamptz NOT NULL DEFAULT now(),
  heartbeat_at     timestamptz NOT NULL DEFAULT now(),
  stopped_at       timestamptz,
  lease_period_ms  integer     NOT NULL,
  -- false: no ICMP socket (no CAP_NET_RAW). Such an instance takes no share of the machines
  -- while any instance that can ping is live.
  monitoring       boolean     NOT NULL DEFAULT true,
  -- The id of the key that seals secrets (src/secrets): instances must share one key.
  key_id           text        NOT NULL DEFAULT '',
  leases_held      integer     NOT NULL DEFAULT 0,
  machines_watched integer     NOT NULL DEFAULT 0
);

-- Machines are divided into 256 shards (machine id mod 256); an instance checks the machines of
-- the shards it holds a lease on. A lease is renewed while held and is free once expired. All
-- times are the database's, so the instances' clocks never matter.
CREATE TABLE leases (
  shard      integer     PRIMARY KEY CHECK (shard BETWEEN 0 AND 255),
  holder     text,
  expires_at timestamptz NOT NULL DEFAULT '-infinity',
  taken_at   timestamptz
);
INSERT INTO leases (shard) SELECT generate_series(0, 255);

-- Every change of a machine or of who may do what writes an event, in the transaction that makes
-- the change: so one notification per statement that writes events tells the other instances
-- (LISTEN vxman_changes, cluster/bridge.ts) exactly what committed, and only what committed. Payloads carry event
-- ids, kinds and machine ids (the receivers read the rows), in chunks well under NOTIFY's 8000
-- bytes; `o` is the writer's application_name, so an instance skips its own.
CREATE FUNCTION events_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  chunk jsonb;
BEGIN
  FOR chunk IN
    SELECT jsonb_agg(jsonb_build_array(id, kind, machine_id) ORDER BY id)
    FROM (SELECT id, kind, machine_id, (row_number() OVER (ORDER BY id) - 1) / 150 AS part FROM new_events) e
    GROUP BY part ORDER BY part
  LOOP
    PERFORM pg_notify('vxman_changes', jsonb_build_object('o', current_setting('application_name'), 'e', chunk)::text);
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER events_announce AFTER INSERT ON events REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION events_announce();
