// The notification pipeline, put together: channels and silences (what admins and operators
// manage), the outage history, and the two background workers — the dispatcher (facts →
// grouped messages) and the sender (messages → channels). server.ts starts and stops it.
import type { ChangeFeed } from "../changes.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { SecretBox } from "../secrets/box.ts";
import { ChannelStore } from "./channel-store.ts";
import { Dispatcher } from "./dispatcher.ts";
import type { GroupOptions } from "./groups.ts";
import { OutageHistory } from "./history.ts";
import { Sender } from "./sender.ts";
import { SilenceService } from "./silences.ts";

export type PipelineConfig = Pick<
  Config,
  "groupBy" | "subnetPrefixV4" | "subnetPrefixV6" | "groupWait" | "groupInterval" | "repeatInterval" | "publicUrl" | "notifyRetryBase" | "notifyMaxAttempts"
>;

export const groupOptions = (c: Pick<Config, "groupBy" | "subnetPrefixV4" | "subnetPrefixV6">): GroupOptions => ({
  groupBy: c.groupBy,
  subnetPrefixV4: c.subnetPrefixV4,
  subnetPrefixV6: c.subnetPrefixV6,
});

/** Registrations, edits and deletions wake the dispatcher within a second, not 20 ms: their
 *  messages wait GROUP_WAIT anyway, and an enrolment storm (thousands a second) then costs one
 *  pass a second instead of one per 20 ms, each holding a database connection the registrations
 *  need (measured with `npm run bench -- storm`). Transitions still wake it at once. */
const CHANGE_POKE_DELAY_MS = 1_000;

export class NotificationPipeline {
  readonly channels: ChannelStore;
  readonly silences: SilenceService;
  readonly history: OutageHistory;
  readonly dispatcher: Dispatcher;
  readonly sender: Sender;
  #unsubscribe: () => void = () => {};

  constructor(db: Database, box: SecretBox, config: PipelineConfig, log: Logger, metrics: Metrics) {
    const group = groupOptions(config);
    this.channels = new ChannelStore(db, box);
    this.silences = new SilenceService(db);
    this.history = new OutageHistory(db, group);
    this.sender = new Sender(db, this.channels, { retryBaseMs: config.notifyRetryBase, maxAttempts: config.notifyMaxAttempts }, log, metrics);
    this.dispatcher = new Dispatcher(
      db,
      this.channels,
      this.silences,
      { groupWaitMs: config.groupWait, groupIntervalMs: config.groupInterval, repeatIntervalMs: config.repeatInterval, group, publicUrl: config.publicUrl ?? null },
      log,
      () => this.sender.poke(),
    );
  }

  /** Runs the workers; the feed's registrations, deletions and changes wake the dispatcher (the
   *  monitor's transitions wake it through `poke` once they are written). */
  start(feed: ChangeFeed): void {
    this.#unsubscribe = feed.subscribe((c) => {
      if (c.type === "machine_registered" || c.type === "machine_updated" || c.type === "machine_deleted") this.dispatcher.poke(CHANGE_POKE_DELAY_MS);
    });
    this.dispatcher.start();
    this.sender.start();
  }

  /** A state change was written: there may be facts to dispatch. */
  poke(): void {
    this.dispatcher.poke();
  }

  async stop(): Promise<void> {
    this.#unsubscribe();
    await this.dispatcher.stop();
    await this.sender.stop();
  }
}
