// A live run log's client for tests (what the dashboard's run page and `vxman run --wait` do): a
// real WebSocket on /ws/runs/{id}, authenticated with a bearer token as a subprotocol, recording
// every message and checking nothing itself.
import type { OutputMessageChunk, RunMessage } from "../../src/jobs/run-protocol.ts";
import { encodeTokenProtocol, LIVE_PROTOCOL } from "../../src/live/protocol.ts";

export class RunClient {
  readonly messages: RunMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeEvent: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (ev) => this.messages.push(JSON.parse(String(ev.data)) as RunMessage);
    this.closed = new Promise((resolve) => ws.addEventListener("close", (ev) => resolve((this.closeEvent = { code: ev.code, reason: ev.reason }))));
  }

  static async open(base: string, runId: number, token: string, after?: number): Promise<RunClient> {
    const url = `${base.replace(/^http/, "ws")}/ws/runs/${runId}${after === undefined ? "" : `?after=${after}`}`;
    const client = new RunClient(new WebSocket(url, [LIVE_PROTOCOL, encodeTokenProtocol(token)]));
    await Promise.race([new Promise((resolve) => client.ws.addEventListener("open", resolve)), client.closed]);
    return client;
  }

  /** Every output chunk received, in the order received. */
  chunks(): OutputMessageChunk[] {
    return this.messages.flatMap((m) => (m.type === "output" ? m.chunks : []));
  }

  /** Each host's text, joined from its chunks. */
  textOf(machineId: number): string {
    return this.chunks().filter((c) => c.machine_id === machineId).map((c) => c.text).join("");
  }

  async waitFor(done: () => boolean, what: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (this.closeEvent) throw new Error(`socket closed (${this.closeEvent.code} ${this.closeEvent.reason}) while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms (${this.messages.length} messages)`);
      await Bun.sleep(10);
    }
  }

  close(): void {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, "test done");
  }
}
