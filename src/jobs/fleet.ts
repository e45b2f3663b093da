// Fleet jobs, put together: credentials, SSH settings and host keys (how vxman logs in), jobs,
// runs and their live logs, and the schedules. server.ts starts and stops it.
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import { groupOptions } from "../outages/pipeline.ts";
import type { SecretBox } from "../secrets/box.ts";
import { CredentialStore } from "./credentials.ts";
import { HostKeys } from "./host-keys.ts";
import { JobStore } from "./job-store.ts";
import { RunService } from "./run-service.ts";
import { RunStore } from "./run-store.ts";
import { JobSchedules } from "./schedules.ts";
import { SshSettings } from "./ssh-settings.ts";

export type FleetConfig = { instanceId: string } & Pick<Config, "jobOutputMax" | "jobConnectTimeout" | "jobCatchUp" | "groupBy" | "subnetPrefixV4" | "subnetPrefixV6">;

export class FleetJobs {
  readonly credentials: CredentialStore;
  readonly settings: SshSettings;
  readonly hostKeys: HostKeys;
  readonly jobs: JobStore;
  readonly store: RunStore;
  readonly runs: RunService;
  readonly schedules: JobSchedules;

  /** @param onRunFailed a run_failed event was written: the notification pipeline's wake. */
  constructor(db: Database, box: SecretBox, config: FleetConfig, log: Logger, onRunFailed: () => void) {
    this.credentials = new CredentialStore(db, box);
    this.settings = new SshSettings(db, this.credentials);
    this.hostKeys = new HostKeys(db);
    this.jobs = new JobStore(db);
    this.store = new RunStore(db);
    this.runs = new RunService({
      db, store: this.store, credentials: this.credentials, settings: this.settings, hostKeys: this.hostKeys, log,
      groups: groupOptions(config), maxOutputBytes: config.jobOutputMax, connectTimeoutMs: config.jobConnectTimeout, onRunFailed, instanceId: config.instanceId,
    });
    this.schedules = new JobSchedules(db, this.jobs, this.runs, config.jobCatchUp, log);
  }

  /** Orphaned runs marked interrupted, then the schedules run. */
  async start(): Promise<void> {
    await this.runs.start();
    this.schedules.start();
  }

  /** No new scheduled runs; runs in progress are stopped and recorded as interrupted. */
  async stop(): Promise<void> {
    await this.schedules.stop();
    await this.runs.stop();
  }
}
