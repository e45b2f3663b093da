// Routes of fleet jobs: credentials, SSH defaults and host keys (admins), jobs (admins write,
// everyone reads), runs (operators start and cancel, everyone reads) and the live log. Who may
// call each is in the access table (src/people/access.ts).
import { Elysia, t } from "elysia";
import { existing } from "../api/machines/index.ts";
import { MachineRef } from "../api/machines/model.ts";
import type { MachineService } from "../api/machines/service.ts";
import { notFound } from "../http/errors.ts";
import type { LiveHub } from "../live/hub.ts";
import type { Logger } from "../log.ts";
import type { accessControl } from "../people/access.ts";
import type { FleetJobs } from "./fleet.ts";
import { AcceptHostKey, Credential, CredentialList, HostKeyList, HostKeyQuery, IdParam, MachineSsh, NewCredential, NewSshDefault, SshDefault, SshDefaultList } from "./model.ts";
import { Job, JobList, JobPatch, JobQuery, NewJob, Run, RunGetQuery, RunIdParam, RunList, RunQuery, StartRun } from "./run-model.ts";
import { runLiveRoutes } from "./run-live.ts";
import { effectiveSettings } from "./ssh-settings.ts";

export interface JobsDeps {
  access: ReturnType<typeof accessControl>;
  fleet: FleetJobs;
  machines: MachineService;
  /** The live sockets (src/live): the same per-IP cap, backpressure and access re-checks. */
  live: Pick<LiveHub, "sockets" | "watchAccess">;
  trustProxy: boolean;
  log: Logger;
}

export function jobsApi(deps: JobsDeps) {
  return new Elysia({ name: "jobs-api" }).use(loginApi(deps)).use(runsApi(deps)).use(runLiveRoutes({ ...deps, runs: deps.fleet.runs, store: deps.fleet.store }));
}

/** How vxman logs in: credentials, defaults by label, each machine's settings and host key. */
function loginApi({ access, fleet, machines }: JobsDeps) {
  const { credentials, settings, hostKeys } = fleet;
  return new Elysia({ name: "jobs-login-api", detail: { tags: ["jobs"] } })
    .use(access)
    .get("/api/credentials", async () => ({ items: await credentials.list() }), { response: CredentialList, detail: { summary: "SSH credentials (admin)" } })
    .post("/api/credentials", async ({ body, actor, status }) => status(201, await credentials.create(body, actor)), {
      body: NewCredential,
      response: { 201: Credential },
      detail: {
        summary: "Add an SSH credential (admin)",
        description: 'kind "ssh-key" with private_key (OpenSSH or PEM; ed25519, ECDSA, RSA) and passphrase if it has one, or kind "password" with password. Sealed at rest; never returned.',
      },
    })
    .delete("/api/credentials/:id", async ({ params, actor, status }) => {
      await credentials.remove(Number(params.id), actor);
      return status(204, undefined);
    }, { params: IdParam, detail: { summary: "Delete a credential (admin)", description: "Refused (409) while a machine or an SSH default uses it." } })
    .get("/api/ssh-defaults", async () => ({ items: await settings.defaults() }), { response: SshDefaultList, detail: { summary: "SSH settings by label (admin)" } })
    .post("/api/ssh-defaults", async ({ body, actor, status }) => status(201, await settings.addDefault(body, actor)), {
      body: NewSshDefault,
      response: { 201: SshDefault },
      detail: {
        summary: "Add SSH settings for the machines with these labels (admin)",
        description: "Per setting: the machine's own value wins, then the default with the most labels (the oldest of equals); labels [] is every machine.",
      },
    })
    .delete("/api/ssh-defaults/:id", async ({ params, actor, status }) => {
      await settings.removeDefault(Number(params.id), actor);
      return status(204, undefined);
    }, { params: IdParam, detail: { summary: "Delete SSH defaults (admin)" } })
    .get("/api/machines/:machine/ssh", async ({ params }) => {
      const machine = await existing(machines, params.machine);
      const own = await settings.own(machine.id);
      return { machine_id: machine.id, own, effective: effectiveSettings(machine.labels, own, await settings.rules()), ...(await hostKeys.view(machine.id)) };
    }, { params: MachineRef, response: MachineSsh, detail: { summary: "How vxman logs in to a machine, and its host key" } })
    .post("/api/machines/:machine/host-key", async ({ params, body, actor }) => {
      const machine = await existing(machines, params.machine);
      const { host_key, offered_host_key } = await hostKeys.accept(machine, body.fingerprint, actor);
      return { machine_id: machine.id, hostname: machine.hostname, ip_address: machine.ip_address, host_key, offered_host_key };
    }, {
      params: MachineRef,
      body: AcceptHostKey,
      response: HostKeyList.properties.items.items,
      detail: { summary: "Trust the machine's new host key (admin)", description: "Send the new key's fingerprint as shown (offered_host_key): only that key is accepted." },
    })
    .get("/api/host-keys", async ({ query }) => ({ items: await hostKeys.list(query.changed ?? false) }), {
      query: HostKeyQuery,
      response: HostKeyList,
      detail: { summary: "Host keys of the machines", description: "?changed=true: the machines whose key changed, refused until an admin accepts the new one." },
    });
}

/** Jobs and their runs. */
function runsApi({ access, fleet }: JobsDeps) {
  const { jobs, runs, store, schedules } = fleet;
  return new Elysia({ name: "jobs-runs-api", detail: { tags: ["jobs"] } })
    .use(access)
    .get("/api/jobs", async ({ query }) => ({ items: await jobs.list(query.name) }), { query: JobQuery, response: JobList, detail: { summary: "Jobs", description: "?name= finds one by name." } })
    .post("/api/jobs", async ({ body, actor, status }) => {
      const job = await jobs.create(body, actor);
      schedules.poke();
      return status(201, job);
    }, {
      body: NewJob,
      response: { 201: Job },
      detail: {
        summary: "Define a job (admin)",
        description: "A shell script run on the machines its targets select ({} is every machine), timeout seconds per host, parallelism, stop_on_failure, parameters, schedule {cron, timezone}.",
      },
    })
    .get("/api/jobs/:id", ({ params }) => jobs.get(Number(params.id)), {
      params: IdParam,
      response: Job,
      detail: { summary: "One job" },
    })
    .patch("/api/jobs/:id", async ({ params, body, actor }) => {
      const job = await jobs.update(Number(params.id), body, actor);
      schedules.poke();
      return job;
    }, { params: IdParam, body: JobPatch, response: Job, detail: { summary: "Change a job (admin)", description: "Fields given replace the job's; schedule: null removes the schedule." } })
    .delete("/api/jobs/:id", async ({ params, actor, status }) => {
      await jobs.remove(Number(params.id), actor);
      return status(204, undefined);
    }, { params: IdParam, detail: { summary: "Delete a job (admin)", description: "Its runs are kept as records." } })
    .post("/api/jobs/:id/runs", async ({ params, body, actor, status }) => {
      const run = await runs.startRun({ job: await jobs.row(Number(params.id)), parameters: body?.parameters, actor, trigger: "manual" });
      return status(201, run!);
    }, {
      params: IdParam,
      body: t.Union([StartRun, t.Null(), t.Undefined()], { error: "must be {parameters?: {NAME: value}}, or no body" }), // null: an empty body (json-body.ts)
      response: { 201: Run },
      detail: { summary: "Run a job now (operator)", description: "parameters: {NAME: value} for the job's parameters. Follow it on WS /ws/runs/{id}." },
    })
    .get("/api/runs", async ({ query }) => ({ items: await store.list(query) }), {
      query: RunQuery,
      response: RunList,
      detail: { summary: "Runs, newest first", description: "Filter by job_id and status; page back with before=<run id>." },
    })
    .get("/api/runs/:id", async ({ params, query }) => {
      const run = await store.get(Number(params.id), query.output ?? true);
      if (!run) throw notFound(`Run ${params.id}`);
      return run;
    }, {
      params: RunIdParam,
      query: RunGetQuery,
      response: Run,
      detail: { summary: "One run with its hosts and their output", description: "?output=false leaves the output out." },
    })
    .post("/api/runs/:id/cancel", async ({ params, actor, status }) => status(202, await runs.cancel(Number(params.id), actor)), {
      params: RunIdParam,
      response: { 202: Run },
      detail: { summary: "Cancel a run (operator)", description: "Running scripts get TERM (KILL after 2 s) over their channel; hosts not started are cancelled." },
    });
}
