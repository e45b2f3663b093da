import { t } from "elysia";

export const Instance = t.Object({
  id: t.String({ description: "Host name and a random suffix, new at every start" }),
  host: t.String(),
  pid: t.Integer(),
  version: t.String(),
  url: t.Union([t.String(), t.Null()], { description: "Where it listens, as it sees itself" }),
  state: t.Union([t.Literal("live"), t.Literal("dead"), t.Literal("stopped")], { description: "dead: no heartbeat for a whole LEASE_PERIOD" }),
  monitoring: t.Boolean({ description: "Whether it can ping (has an ICMP socket); only those share the machines" }),
  started_at: t.String({ format: "date-time" }),
  heartbeat_at: t.String({ format: "date-time" }),
  stopped_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
  leases_held: t.Integer({ description: "Of 256 shards" }),
  machines_watched: t.Integer(),
  this_instance: t.Boolean({ description: "The instance that answered" }),
});
export type Instance = typeof Instance.static;

export const InstanceList = t.Object({ items: t.Array(Instance) });
