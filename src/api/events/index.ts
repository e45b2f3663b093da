import { Elysia } from "elysia";
import type { accessControl } from "../../people/access.ts";
import { EventList, EventQuery } from "./model.ts";
import type { EventService } from "./service.ts";

export function eventsApi(access: ReturnType<typeof accessControl>, service: EventService) {
  return new Elysia({ name: "events-api", detail: { tags: ["events"] } })
    .use(access)
    .get("/api/events", ({ query, identity }) => service.list(query, identity.role === "admin"), {
      query: EventQuery,
      response: EventList,
      detail: {
        summary: "The event log (audit), newest first",
        description: "Filter by machine, kind and actor; page back with `before`. Changes to people (users, tokens, sessions) are shown to admins only.",
      },
    });
}
