// Preloaded by bun test (bunfig.toml): whatever the run shares is torn down here, once.
import { afterAll } from "bun:test";
import { guardTestRange, releaseTestRange } from "./helpers/netns.ts";
import { stopSharedPgCluster } from "./helpers/postgres.ts";

// Before any test: 198.18.0.0/15 (the test hosts' range) never leaves this machine.
guardTestRange();

afterAll(async () => {
  await stopSharedPgCluster();
  releaseTestRange();
});
