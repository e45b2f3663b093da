// Prometheus metrics (prom-client), every name prefixed vxman_. Counters kept elsewhere (the
// ICMP engine's, the state writer's) are read at scrape time instead of being counted twice.
import client from "prom-client";
import gc from "prom-client/lib/metrics/gc";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed";
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed";
import osMemoryHeap from "prom-client/lib/metrics/osMemoryHeap";
import processCpuTotal from "prom-client/lib/metrics/processCpuTotal";
import processHandles from "prom-client/lib/metrics/processHandles";
import processMaxFileDescriptors from "prom-client/lib/metrics/processMaxFileDescriptors";
import processOpenFileDescriptors from "prom-client/lib/metrics/processOpenFileDescriptors";
import processRequests from "prom-client/lib/metrics/processRequests";
import processResources from "prom-client/lib/metrics/processResources";
import processStartTime from "prom-client/lib/metrics/processStartTime";
import version from "prom-client/lib/metrics/version";
import { loopLag } from "./loop-lag.ts";

export interface MetricSources {
  machinesByStatus(): { active: number; unreachable: number };
  pingStats(): { sent: number; replies: number; timeouts: number; unreachable: number; errors: number } | null;
  writerStats(): { flushes: number; failedFlushes: number; droppedSamples: number; droppedEvents: number; pending: number };
  wsClients(): number;
  /** This instance among those on the database (cluster/). */
  instance(): { id: string; leases_held: number; machines_watched: number; live_instances: number };
}

/** A counter whose value lives elsewhere: scraped as the difference since the last scrape. */
function mirroredCounter(registry: client.Registry, name: string, help: string, read: () => number | undefined) {
  let last = 0;
  return new client.Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read() ?? last;
      if (now > last) this.inc(now - last);
      last = now;
    },
  });
}

/** The names and meaning prom-client gives them (vxman_nodejs_eventloop_lag_p99_seconds, …), over
 *  the lateness of the timers that did work since the last scrape (0 when none ran). */
function eventLoopLagGauges(registry: client.Registry): void {
  let summary = loopLag.take();
  const gauge = (name: string, help: string, read: () => number, refresh = false) =>
    new client.Gauge({
      name: `vxman_nodejs_eventloop_lag_${name}seconds`,
      help,
      registers: [registry],
      collect() {
        if (refresh) summary = loopLag.take();
        this.set(read());
      },
    });
  // Gauges are collected in the order they were registered: the first one starts the window.
  gauge("", "Lateness of the last work timer (the monitor's scheduler, background passes)", () => loopLag.latest, true);
  gauge("min_", "The minimum timer lateness since the last scrape", () => summary.min);
  gauge("max_", "The maximum timer lateness since the last scrape", () => summary.max);
  gauge("mean_", "The mean timer lateness since the last scrape", () => summary.mean);
  gauge("stddev_", "The standard deviation of timer lateness since the last scrape", () => summary.stddev);
  gauge("p50_", "The 50th percentile of timer lateness since the last scrape", () => summary.p50);
  gauge("p90_", "The 90th percentile of timer lateness since the last scrape", () => summary.p90);
  gauge("p99_", "The 99th percentile of timer lateness since the last scrape", () => summary.p99);
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly httpRequests = new client.Counter({
    name: "vxman_http_requests_total",
    help: "HTTP requests by method, route (the pattern, not the URL) and status code",
    labelNames: ["method", "route", "code"] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new client.Histogram({
    name: "vxman_http_request_duration_seconds",
    help: "HTTP request duration by route",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly rtt = new client.Histogram({
    name: "vxman_ping_rtt_seconds",
    help: "Round-trip time of successful echo checks",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly dbErrors = new client.Counter({
    name: "vxman_db_errors_total",
    help: "Requests that failed because the database could not be reached",
    registers: [this.registry],
  });
  readonly loginFailures = new client.Counter({
    name: "vxman_login_failures_total",
    help: "Failed logins by reason: unknown_user, wrong_password, disabled, throttled",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly notifications = new client.Counter({
    name: "vxman_notifications_total",
    help: "Notification delivery attempts by outcome: sent, retry (failed, tried again later), failed (for good)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly refusalsNotLogged = new client.Counter({
    name: "vxman_http_refusals_not_logged_total",
    help: "Refused requests (4xx) past the per-client log budget: answered and counted, not logged",
    registers: [this.registry],
  });

  constructor(sources: MetricSources) {
    const r = this.registry;
    // prom-client's defaults (process, heap, GC) but its event-loop lag sampler, a 10 ms timer
    // that woke an idle server 100 times a second: the lag gauges below come from loop-lag.ts.
    const defaults = [processCpuTotal, processStartTime, osMemoryHeap, processOpenFileDescriptors, processMaxFileDescriptors, processHandles, processRequests, heapSizeAndUsed, heapSpacesSizeAndUsed, version, gc];
    if (typeof process.getActiveResourcesInfo === "function") defaults.push(processResources);
    for (const register of defaults) register(r, { prefix: "vxman_" });
    eventLoopLagGauges(r);
    // Among the defaults are gauges named *_total (nodejs_active_handles_total, …), which
    // Prometheus reserves for counters (`promtool check metrics` rejects them). Each is the sum of
    // its per-type sibling (sum(vxman_nodejs_active_handles)), so nothing is lost without it.
    for (const m of r.getMetricsAsArray()) {
      if (m.name.endsWith("_total") && !(m instanceof client.Counter)) r.removeSingleMetric(m.name);
    }
    new client.Gauge({
      name: "vxman_machines",
      help: "Machines by status (the whole fleet, whichever instance checks them)",
      labelNames: ["status"] as const,
      registers: [r],
      collect() {
        const counts = sources.machinesByStatus();
        this.set({ status: "active" }, counts.active);
        this.set({ status: "unreachable" }, counts.unreachable);
      },
    });
    const ping = (key: keyof NonNullable<ReturnType<MetricSources["pingStats"]>>) => () => sources.pingStats()?.[key];
    mirroredCounter(r, "vxman_pings_sent_total", "Echo requests sent", ping("sent"));
    mirroredCounter(r, "vxman_ping_replies_total", "Echo replies received in time", ping("replies"));
    mirroredCounter(r, "vxman_ping_timeouts_total", "Echo requests that timed out", ping("timeouts"));
    mirroredCounter(r, "vxman_ping_unreachable_total", "Echo requests answered by an ICMP unreachable error", ping("unreachable"));
    mirroredCounter(r, "vxman_ping_send_errors_total", "Echo requests the kernel refused to send", ping("errors"));
    mirroredCounter(r, "vxman_monitor_flushes_total", "Batched monitor writes committed", () => sources.writerStats().flushes);
    mirroredCounter(r, "vxman_monitor_failed_flushes_total", "Batched monitor writes that failed (kept and retried)", () => sources.writerStats().failedFlushes);
    mirroredCounter(r, "vxman_monitor_dropped_samples_total", "RTT samples dropped while the database was away too long", () => sources.writerStats().droppedSamples);
    mirroredCounter(r, "vxman_monitor_dropped_events_total", "Unreachable/recovered events dropped while the database was away too long", () => sources.writerStats().droppedEvents);
    new client.Gauge({ name: "vxman_monitor_pending_writes", help: "Monitor writes waiting for the next flush", registers: [r], collect() { this.set(sources.writerStats().pending); } });
    new client.Gauge({ name: "vxman_websocket_clients", help: "Open dashboard WebSocket connections", registers: [r], collect() { this.set(sources.wsClients()); } });
    const instance = (key: "leases_held" | "machines_watched" | "live_instances") => function (this: client.Gauge) {
      this.set(sources.instance()[key]);
    };
    new client.Gauge({ name: "vxman_instance_info", help: "This instance's id (always 1)", labelNames: ["instance_id"] as const, registers: [r], collect() { this.reset(); this.set({ instance_id: sources.instance().id }, 1); } });
    new client.Gauge({ name: "vxman_leases_held", help: "Shards (of 256) whose machines this instance checks", registers: [r], collect: instance("leases_held") });
    new client.Gauge({ name: "vxman_machines_watched", help: "Machines this instance checks", registers: [r], collect: instance("machines_watched") });
    new client.Gauge({ name: "vxman_instances_live", help: "Live instances on this database, this one included", registers: [r], collect: instance("live_instances") });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
