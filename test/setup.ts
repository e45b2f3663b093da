// Preloaded by bun test (bunfig.toml): whatever the run shares is torn down here, once.
import { afterAll } from "bun:test";
import { stopSharedPgCluster } from "./helpers/postgres.ts";

afterAll(async () => {
  await stopSharedPgCluster();
});
