import { Elysia } from "elysia";
import { accessControl, type Credentials } from "../auth.ts";
import { EventList, EventQuery } from "./model.ts";
import type { EventService } from "./service.ts";

export function eventsApi(service: EventService, creds: Credentials) {
  return new Elysia({ name: "events-api", detail: { tags: ["events"] } })
    .use(accessControl(creds))
    .get("/api/events", ({ query }) => service.list(query), {
      access: "read",
      query: EventQuery,
      response: EventList,
      detail: { summary: "The event log (audit), newest first", description: "Filter by machine and kind; page back with `before`." },
    });
}
