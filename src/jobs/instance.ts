// Which vxman instance runs a run, and when another instance counts as gone.
//
// For now each process is its own instance, with a random id. When the cluster's instances table
// lands (src/cluster/instances.ts), point INSTANCE_ID at the instance's registered id and replace
// ownerGone() with "the owner's instance row is stopped or its heartbeat is stale": these two
// are the only places that know what an instance is.
import { randomBytes } from "node:crypto";

export const INSTANCE_ID = `${process.pid}-${randomBytes(4).toString("hex")}`;

/** How often a running run's row says its instance is alive. */
export const RUN_HEARTBEAT_MS = 15_000;
/** A run whose heartbeat is older than this belongs to an instance that is gone. */
export const OWNER_GONE_AFTER_MS = 2 * 60_000;

/**
 * SQL condition on a runs row `r`: its instance is gone. On the embedded database there is only
 * ever one instance (the data folder is locked), so any run not in this process is orphaned.
 * Otherwise: its instance is this one (a restart under the same id: the run's process is gone),
 * or it has not been heard from in OWNER_GONE_AFTER_MS. `me` is the placeholder for this
 * instance's id.
 */
export function ownerGone(me: string, singleInstance: boolean): string {
  if (singleInstance) return "true";
  return `(r.instance_id = ${me} OR r.heartbeat_at < now() - interval '${OWNER_GONE_AFTER_MS} milliseconds')`;
}
