// HTTP routes of the machine registry. Routes only: validation comes from the model, logic
// from the service.
import { Elysia } from "elysia";
import { ApiError, notFound } from "../../http/errors.ts";
import { jsonResponse } from "../../http/json-response.ts";
import { MonitoringOffError, type Monitor } from "../../monitor/scheduler.ts";
import type { accessControl } from "../../people/access.ts";
import { extraDataProblem, ipProblem } from "./address.ts";
import type { MachineSshPatch } from "../../jobs/model.ts";
import type { Actor } from "../events/record.ts";
import { CheckResult, ListQuery, Machine, MachineList, MachinePatch, MachineRef, RegisterBody, SampleList, SamplesQuery } from "./model.ts";
import type { MachineDirectory } from "./directory.ts";
import type { MachineService } from "./service.ts";

const invalid = (field: string, message: string) =>
  new ApiError(422, "invalid_request", `Invalid ${field}: ${message}.`, [{ field, message }]);

/** The path segment as a registration key: a pingable IP address. */
function registrationIp(ref: string): string {
  const problem = ipProblem(ref);
  if (problem) throw invalid("ip_address", problem);
  return ref;
}

/** The path segment as a reference to an existing machine: an id or an IP. */
function machineRef(ref: string): string {
  if (/^\d{1,9}$/.test(ref)) return ref;
  if (ipProblem(ref)) throw invalid("machine", "must be a machine id (a number) or the machine's IP address");
  return ref;
}

/** A `since` the database can compare with: a real calendar day (no February 30) from year 1 on;
 *  the format check alone lets those through, and PostgreSQL would fail on them. */
function sinceTime(since: string | undefined): string | undefined {
  if (since === undefined) return undefined;
  const [, y = 0, m = 0, d = 0] = (/^(\d{4})-(\d{2})-(\d{2})/.exec(since) ?? []).map(Number);
  // The month's last day, worked out in a year of the same leap cycle (Date.UTC reads 0–99 as 19xx).
  const daysInMonth = new Date(Date.UTC(2000 + (y % 400), m, 0)).getUTCDate();
  const time = Date.parse(since);
  if (y < 1 || d > daysInMonth || Number.isNaN(time)) {
    throw invalid("since", "must be an ISO 8601 time on a real calendar day, e.g. 2024-05-01T12:00:00Z");
  }
  // Checked again in UTC, where the database compares it: 0001-01-01T00:00+01:00 is in year 0,
  // and 9999-12-31T23:59-01:00 in year 10000, neither of which PostgreSQL reads as text.
  const utc = new Date(time);
  if (utc.getUTCFullYear() < 1 || utc.getUTCFullYear() > 9999) {
    throw invalid("since", "must be a time from year 1 to year 9999 (in UTC)");
  }
  return utc.toISOString();
}

/** The machine a reference (an id or an IP) names, or 404. */
export async function existing(service: MachineService, ref: string): Promise<Machine> {
  const machine = await service.get(machineRef(ref));
  if (!machine) throw notFound(`Machine ${ref}`);
  return machine;
}

export interface MachinesDeps {
  access: ReturnType<typeof accessControl>;
  service: MachineService;
  directory: MachineDirectory;
  monitor: Monitor;
  /** A machine's SSH settings for jobs (src/jobs/ssh-settings.ts). */
  ssh: { setOwn(machine: Machine, patch: MachineSshPatch, actor: Actor): Promise<void> };
}

export function machinesApi({ access, service, directory, monitor, ssh }: MachinesDeps) {
  return new Elysia({ name: "machines-api", prefix: "/api/machines", detail: { tags: ["machines"] } })
    .use(access)
    .put(
      "/:machine",
      async ({ params, body, status, actor }) => {
        const ip = registrationIp(params.machine);
        const extraProblem = body.extra_data && extraDataProblem(body.extra_data);
        if (extraProblem) throw invalid("extra_data", extraProblem);
        const { machine, created } = await service.register(ip, body, actor);
        return jsonResponse(JSON.stringify(machine), created ? 201 : 200);
      },
      {
        params: MachineRef,
        body: RegisterBody,
        response: { 200: Machine, 201: Machine },
        detail: {
          summary: "Register a machine (upsert by IP)",
          description:
            "Creates the machine (201) or updates the one with this IP (200); never a duplicate. " +
            "A MAC change is recorded in the event log. Needs the registration token when REGISTRATION_TOKEN is set.",
        },
      },
    )
    .post(
      "/:machine/heartbeat",
      async ({ params, status }) => {
        if (!(await service.heartbeat(registrationIp(params.machine)))) throw notFound(`Machine ${params.machine}`);
        return status(204, undefined);
      },
      {
        params: MachineRef,
        detail: { summary: "Heartbeat: the machine says it is alive", description: "Counts as a successful check." },
      },
    )
    .get(
      "/",
      ({ query }) => {
        // JSON from the directory's cache rather than Elysia's serialiser: see directory.ts.
        return jsonResponse(directory.listJson(query));
      },
      {
        query: ListQuery,
        response: MachineList,
        detail: { summary: "List machines", description: "Filter by status, search hostname/IP/MAC, page with limit/offset." },
      },
    )
    .get("/:machine", ({ params }) => existing(service, params.machine), { params: MachineRef, response: Machine, detail: { summary: "One machine, by id or IP" } })
    .patch(
      "/:machine",
      async ({ params, body, actor, identity }) => {
        const machine = await existing(service, params.machine);
        const { ssh: sshPatch, ...rest } = body;
        if (sshPatch !== undefined) {
          // How vxman logs in (and where it sends a password) is the admins' to set, like credentials.
          if (identity.role !== "admin") throw new ApiError(403, "forbidden", `Changing ssh needs the admin role; you are signed in as ${identity.actor}${identity.role ? ` (${identity.role})` : ""}.`);
          await ssh.setOwn(machine, sshPatch, actor);
        }
        if (rest.notes === undefined && rest.labels === undefined) return existing(service, params.machine);
        return (await service.edit(machine.id, rest, actor)) ?? existing(service, params.machine);
      },
      {
        params: MachineRef,
        body: MachinePatch,
        response: Machine,
        detail: {
          summary: "Change a machine's notes, labels (operator) or SSH settings (admin)",
          description:
            'Labels given replace the machine\'s labels. ssh: {user?, port?, credential_id?} for jobs (null clears a setting, "ssh": null all of them; admin only). Each change is logged with who made it.',
        },
      },
    )
    .post(
      "/:machine/check",
      async ({ params }) => {
        const machine = await existing(service, params.machine);
        try {
          const { result, status, recorded } = await monitor.checkNow(machine.id, machine.ip_address);
          return {
            machine_id: machine.id, is_alive: result.outcome === "reply", rtt_ms: result.rttMs, outcome: result.outcome, detail: result.detail ?? null,
            status: status ?? machine.status, recorded,
          };
        } catch (err) {
          if (err instanceof MonitoringOffError) throw new ApiError(503, "monitoring_off", `Monitoring is off, so nothing can be checked: ${err.message}.`);
          throw err;
        }
      },
      {
        params: MachineRef,
        response: CheckResult,
        detail: { summary: "Check a machine now (operator)", description: "Pings it at once, as a scheduled check would, and answers with the result." },
      },
    )
    .get(
      "/:machine/samples",
      async ({ params, query }) => {
        const items = await service.samples(machineRef(params.machine), sinceTime(query.since), query.limit ?? 1000);
        if (!items) throw notFound(`Machine ${params.machine}`);
        return { items };
      },
      {
        params: MachineRef,
        query: SamplesQuery,
        response: SampleList,
        detail: { summary: "RTT history of one machine", description: "Oldest first; rtt_ms is null for a failed check." },
      },
    )
    .delete(
      "/:machine",
      async ({ params, status, actor }) => {
        const machine = await existing(service, params.machine);
        if (!(await service.remove(machine.id, actor))) throw notFound(`Machine ${params.machine}`);
        return status(204, undefined);
      },
      {
        params: MachineRef,
        detail: {
          summary: "Delete a machine (admin)",
          description: "Writes the machine's full record to the event log, stops monitoring it and tells every dashboard.",
        },
      },
    );
}
