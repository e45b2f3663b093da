// Who this running vxman is, for the instances table, the database's application_name (so an
// operator sees which instance holds which connection in pg_stat_activity) and the leases.
import { randomBytes } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import { COMMIT, VERSION } from "../version.ts";

export interface InstanceIdentity {
  /** host name and a random suffix: unique per start, readable in logs and pg_stat_activity. */
  id: string;
  host: string;
  pid: number;
  /** The kernel's boot id and this process's pid namespace: two instances that share both can
   *  tell whether the other's pid is still alive (a restart after kill -9 on the same host). */
  bootId: string;
  pidNamespace: string;
  version: string;
}

export function newInstanceIdentity(): InstanceIdentity {
  const host = hostname().slice(0, 40) || "vxman";
  return {
    id: `${host}-${randomBytes(3).toString("hex")}`,
    host,
    pid: process.pid,
    bootId: readOrEmpty(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()),
    pidNamespace: readOrEmpty(() => readlinkSync("/proc/self/ns/pid")),
    version: `${VERSION} (${COMMIT})`,
  };
}

/** The database connection's application_name: the events trigger names the writer with it. */
export const applicationName = (identity: Pick<InstanceIdentity, "id">) => `vxman ${identity.id}`;

function readOrEmpty(read: () => string): string {
  try {
    return read();
  } catch {
    return ""; // not Linux, or /proc hidden: peers are then never judged dead by pid, only by heartbeat
  }
}
