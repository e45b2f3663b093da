// WS /ws/runs/{id}: a run's live log (run-protocol.ts). The sockets are the status stream's (one
// per-IP cap, one backpressure rule, re-checked credentials, closed first on shutdown: see
// src/live); a socket that stops reading its live messages is cut and comes back with ?after=.
import type { ServerWebSocket } from "bun";
import { Elysia, t } from "elysia";
import { clientIp } from "../http/client.ts";
import { notFound } from "../http/errors.ts";
import { BACKPRESSURE_LIMIT, type Clients } from "../live/clients.ts";
import type { LiveHub } from "../live/hub.ts";
import { CLOSE_POLICY, negotiateProtocol } from "../live/index.ts";
import type { Logger } from "../log.ts";
import { RunIdParam } from "./run-model.ts";
import type { RunMessage } from "./run-protocol.ts";
import type { RunService } from "./run-service.ts";
import type { RunStore } from "./run-store.ts";
import { RunWatch, type WatchSocket } from "./run-watch.ts";

export interface RunLiveDeps {
  runs: RunService;
  store: RunStore;
  /** The status stream's hub: its sockets (caps, backpressure) and its access re-checks. */
  live: Pick<LiveHub, "sockets" | "watchAccess">;
  trustProxy: boolean;
  log: Logger;
}

/** A catch-up page waits until the socket holds less than this unsent. */
const PACE_BELOW_BYTES = BACKPRESSURE_LIMIT / 4;
/** A client that takes nothing for this long while catching up is cut. */
const PACE_GIVE_UP_MS = 30_000;

const AfterQuery = t.Object({
  after: t.Optional(t.Integer({ minimum: 0, maximum: 2_147_483_647, error: "must be the last seq received (a whole number)" })),
});

function watchSocket(raw: ServerWebSocket<unknown>, sockets: Clients): WatchSocket {
  const open = () => raw.readyState === 1;
  const send = (msg: RunMessage) => {
    if (!open() || sockets.cutIfLagging(raw)) return false;
    raw.send(JSON.stringify(msg));
    return true;
  };
  return {
    send,
    async sendPaced(msg) {
      const deadline = Date.now() + PACE_GIVE_UP_MS;
      while (open() && raw.getBufferedAmount() > PACE_BELOW_BYTES && Date.now() < deadline) await Bun.sleep(10);
      return send(msg);
    },
    close: (code, reason) => open() && raw.close(code, reason),
  };
}

export function runLiveRoutes({ runs, store, live, trustProxy, log }: RunLiveDeps) {
  const { sockets } = live;
  const watches = new Map<ServerWebSocket<unknown>, RunWatch>();
  return new Elysia({ name: "run-live" }).ws("/ws/runs/:id", {
    detail: { hide: true },
    params: RunIdParam,
    query: AfterQuery,
    beforeHandle: async ({ params }) => {
      if (!(await store.row(Number(params.id)))) throw notFound(`Run ${params.id}`);
    },
    upgrade: (ctx) => negotiateProtocol(ctx),
    open: (ws) => {
      const raw = ws.raw as ServerWebSocket<unknown>;
      const refused = sockets.admit(raw, clientIp(raw.remoteAddress, ws.data.headers["x-forwarded-for"], trustProxy), ws.data.headers);
      if (refused) return void raw.close(CLOSE_POLICY, refused);
      live.watchAccess();
      const runId = Number(ws.data.params.id);
      const watch = new RunWatch(runId, ws.data.query.after ?? 0, watchSocket(raw, sockets), store);
      watches.set(raw, watch);
      watch.follow(runs.local(runId)).catch((err) => {
        log.warn({ err, run_id: runId }, "live run log failed");
        if (raw.readyState === 1) raw.close(1011, "the live log failed; reconnect with ?after=");
      });
    },
    close: (ws) => {
      const raw = ws.raw as ServerWebSocket<unknown>;
      watches.get(raw)?.stop();
      watches.delete(raw);
      sockets.remove(raw);
    },
  });
}
