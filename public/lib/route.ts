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
  if (path === "/instances") return { page: "instances" };
  const account = /^\/account\/(password|sessions|tokens)$/.exec(path);
  if (account) return { page: "account", section: account[1] as AccountSection };
  return { page: "missing" };
}

/** A link to the machine list showing only what `filter` selects. */
export function listHref(filter: ListFilter): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v) query.set(k, v);
  const text = query.toString();
  return text ? `#/?${text}` : "#/";
}
