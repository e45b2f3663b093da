// How a run logs in to each of its machines: the machine's effective SSH settings (own, else label
// defaults), its credential opened once per run, its trusted host key. Loaded once for all the
// run's machines; a machine vxman cannot log in to gets a reason instead, in words, never a secret.
import { SealedSecretError } from "../secrets/box.ts";
import type { CredentialStore } from "./credentials.ts";
import type { HostKeys } from "./host-keys.ts";
import { effectiveSettings, type OwnSettings, type SshSettings } from "./ssh-settings.ts";
import type { SshAuth, SshTarget } from "./ssh.ts";

export interface RunTarget {
  machine_id: number;
  hostname: string;
  ip_address: string;
  labels: readonly string[];
}

export type Login = { target: SshTarget } | { problem: string };

export class RunLogins {
  readonly #auth = new Map<number, Promise<SshAuth | string>>();

  private constructor(
    private readonly credentials: CredentialStore,
    private readonly settings: Map<number, ReturnType<typeof effectiveSettings>>,
    private readonly hostKeys: Awaited<ReturnType<HostKeys["known"]>>,
    private readonly connectTimeoutMs: number,
  ) {}

  static async load(
    targets: readonly RunTarget[],
    deps: { credentials: CredentialStore; settings: SshSettings; hostKeys: HostKeys; connectTimeoutMs: number },
  ): Promise<RunLogins> {
    const ids = targets.map((t) => t.machine_id);
    const [rules, own, known] = await Promise.all([deps.settings.rules(), deps.settings.ownOf(ids), deps.hostKeys.known(ids)]);
    const none: OwnSettings = { user: null, port: null, credential_id: null };
    const settings = new Map(targets.map((t) => [t.machine_id, effectiveSettings(t.labels, own.get(t.machine_id) ?? none, rules)]));
    return new RunLogins(deps.credentials, settings, known, deps.connectTimeoutMs);
  }

  async for(t: RunTarget): Promise<Login> {
    const s = this.settings.get(t.machine_id)!;
    const howToSet = "set it on the machine (PATCH /api/machines/{id} with ssh) or for its labels (POST /api/ssh-defaults)";
    if (s.user === null) return { problem: `no SSH user for this machine: ${howToSet}` };
    if (s.credential_id === null) return { problem: `no SSH credential for this machine: ${howToSet}` };
    const auth = await this.#open(s.credential_id);
    if (typeof auth === "string") return { problem: auth };
    return {
      target: {
        host: t.ip_address,
        port: s.port,
        username: s.user,
        auth,
        knownHostKey: this.hostKeys.get(t.machine_id) ?? null,
        connectTimeoutMs: this.connectTimeoutMs,
      },
    };
  }

  knownHostKey(machineId: number) {
    return this.hostKeys.get(machineId) ?? null;
  }

  /** Each credential opened once per run; a reason when it cannot be. */
  #open(id: number): Promise<SshAuth | string> {
    let auth = this.#auth.get(id);
    if (!auth) {
      auth = this.credentials.openForLogin(id).then(
        (a) => a ?? `credential ${id} no longer exists`,
        (err) => {
          if (err instanceof SealedSecretError) return `credential ${id} cannot be opened: ${err.message}`;
          throw err;
        },
      );
      this.#auth.set(id, auth);
    }
    return auth;
  }
}
