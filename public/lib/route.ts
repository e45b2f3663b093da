// Which page the address names: the part after "#", so every page is a link, a bookmark and a
// place the back button returns to, without the server knowing any of them. The machine list
// also takes its filters from there ("#/?group=vni%204096&status=unreachable"), so other pages
// can link to a slice of it.
export type AccountSection = "password" | "sessions" | "tokens";

export interface ListFilter {
  label?: string;
  group?: string;
  status?: "active" | "unreachable";
}

export type Route =
  | { page: "machines"; filter: ListFilter | null }
  | { page: "machine"; id: number }
  | { page: "outages" }
  | { page: "silences"; machine?: number }
  | { page: "channels" }
  | { page: "users" }
  | { page: "audit" }
  | { page: "jobs" }
  | { page: "runs"; job?: number; status?: string }
  | { page: "run"; id: number }
  | { page: "credentials" }
  | { page: "instances" }
  | { page: "account"; section: AccountSection }
  | { page: "missing" };

function listFilter(query: URLSearchParams): ListFilter | null {
  const status = query.get("status");
  const filter: ListFilter = {
    label: query.get("label") ?? undefined,
    group: query.get("group") ?? undefined,
    status: status === "active" || status === "unreachable" ? status : undefined,
  };
  return filter.label || filter.group || filter.status ? filter : null;
}

export function routeOf(hash: string): Route {
  const [path = "/", search = ""] = (hash.replace(/^#/, "") || "/").split("?", 2);
  const query = new URLSearchParams(search);
  if (path === "/" || path === "") return { page: "machines", filter: listFilter(query) };
  const machine = /^\/machines\/(\d{1,9})$/.exec(path);
  if (machine) return { page: "machine", id: Number(machine[1]) };
  if (path === "/outages") return { page: "outages" };
  if (path === "/silences") {
    const id = Number(query.get("machine"));
    return Number.isInteger(id) && id > 0 ? { page: "silences", machine: id } : { page: "silences" };
  }
  if (path === "/channels") return { page: "channels" };
  if (path === "/users") return { page: "users" };
  if (path === "/audit") return { page: "audit" };
  if (path === "/jobs") return { page: "jobs" };
  if (path === "/credentials") return { page: "credentials" };
  if (path === "/runs") {
    const job = Number(query.get("job"));
    return { page: "runs", job: Number.isInteger(job) && job > 0 ? job : undefined, status: query.get("status") ?? undefined };
  }
  const run = /^\/runs\/(\d{1,15})$/.exec(path);
  if (run) return { page: "run", id: Number(run[1]) };
  if (path === "/instances") return { page: "instances" };
  const account = /^\/account\/(password|sessions|tokens)$/.exec(path);
  if (account) return { page: "account", section: account[1] as AccountSection };
  return { page: "missing" };
}

/** A link to the runs list, filtered by job and status. */
export function runsHref(filter: { job?: number; status?: string }): string {
  const query = new URLSearchParams();
  if (filter.job) query.set("job", String(filter.job));
  if (filter.status) query.set("status", filter.status);
  const text = query.toString();
  return text ? `#/runs?${text}` : "#/runs";
}

export const runHref = (id: number) => `#/runs/${id}`;

/** A link to the machine list showing only what `filter` selects. */
export function listHref(filter: ListFilter): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v) query.set(k, v);
  const text = query.toString();
  return text ? `#/?${text}` : "#/";
}
