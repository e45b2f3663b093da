// PLACEHOLDER (issue 4 replaces this): the interface server.ts wires. Sends hello + snapshot and
// forwards each change unbatched.
import { Elysia } from "elysia";
import type { Credentials } from "../api/auth.ts";
import type { MonitoringState } from "../api/health/index.ts";
import type { Machine } from "../api/machines/model.ts";
import type { ChangeFeed } from "../changes.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";

export interface LiveHubDeps {
  feed: ChangeFeed;
  loadMachines: () => Promise<Machine[]>;
  creds: Credentials;
  config: Pick<Config, "wsMaxPerIp" | "trustProxy">;
  log: Logger;
  monitoring: () => MonitoringState;
}

export class LiveHub {
  #seq = 0;
  #machines = new Map<number, Machine>();
  #clients = new Set<{ send(data: string): unknown; close(code?: number, reason?: string): void }>();

  private constructor(private readonly deps: LiveHubDeps) {}

  static async start(deps: LiveHubDeps): Promise<LiveHub> {
    const hub = new LiveHub(deps);
    for (const m of await deps.loadMachines()) hub.#machines.set(m.id, m);
    deps.feed.subscribe((change) => {
      if (change.type === "machine_seen") return;
      if (change.type === "machine_deleted") hub.#machines.delete(change.machine_id);
      if (change.type === "machine_registered" || change.type === "machine_updated") hub.#machines.set(change.machine.id, change.machine);
      const msg = JSON.stringify({ ...change, seq: ++hub.#seq });
      for (const c of hub.#clients) c.send(msg);
    });
    return hub;
  }

  get clients(): number {
    return this.#clients.size;
  }

  routes() {
    return new Elysia({ name: "live" }).ws("/ws/status", {
      open: (ws) => {
        ws.send(JSON.stringify({ type: "hello", version: VERSION, monitoring: this.deps.monitoring().monitoring }));
        ws.send(JSON.stringify({ type: "snapshot", machines: [...this.#machines.values()], seq: this.#seq }));
        this.#clients.add(ws);
      },
      close: (ws) => {
        this.#clients.delete(ws);
      },
    });
  }

  close(code = 1001, reason = "server shutting down") {
    for (const c of this.#clients) c.close(code, reason);
    this.#clients.clear();
  }
}
