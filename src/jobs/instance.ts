// When a run's vxman instance counts as gone: the cluster's instances table decides (see
// src/cluster/instances.ts), so runs and machines are taken over by one rule.
import { LIVE } from "../cluster/instances.ts";

/**
 * SQL condition on a runs row `r`: its instance is gone. On the embedded database there is only
 * ever one instance (the data folder is locked), so any run not in this process is orphaned.
 * Otherwise: its instance is this one (a restart under the same id: the run's process is gone),
 * or it has no live row in `instances` (stopped, heartbeat older than its lease period, or
 * forgotten). `me` is the placeholder for this instance's id.
 */
export function ownerGone(me: string, singleInstance: boolean): string {
  if (singleInstance) return "true";
  return `(r.instance_id = ${me} OR NOT EXISTS (SELECT 1 FROM instances WHERE id = r.instance_id AND ${LIVE}))`;
}
