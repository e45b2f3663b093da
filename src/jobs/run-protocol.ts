// WS /ws/runs/{id}: what a client (the dashboard's run page, `vxman run --wait`) receives. Types
// only, so the browser bundle and the CLI can import it.
//
//   {type: "run"}      first: the run and every host's state, as of now
//   {type: "output"}   chunks in order of seq (one increasing number for the whole run, so per
//                      host too); reconnect with ?after=<last seq> to get only what was missed
//   {type: "hosts"}    hosts whose state changed
//   {type: "end"}      the run ended (its final record); the server then closes with 1000
import type { RunHost, RunSummary } from "./run-model.ts";

export type HostView = Omit<RunHost, "output">;
export type RunView = RunSummary & { hosts: HostView[] };

export interface OutputMessageChunk {
  seq: number;
  machine_id: number;
  stream: "stdout" | "stderr";
  /** For display: UTF-8, terminal escape sequences removed (output-text.ts). */
  text: string;
}

export type RunMessage =
  | { type: "run"; run: RunView }
  | { type: "output"; chunks: OutputMessageChunk[] }
  | { type: "hosts"; hosts: HostView[] }
  | { type: "end"; run: RunView };
