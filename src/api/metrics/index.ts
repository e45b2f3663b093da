// GET /metrics (Prometheus text), and the hook that counts every HTTP request by route.
import { Elysia } from "elysia";
import type { Metrics } from "../../metrics.ts";

export function metricsApi(metrics: Metrics) {
  return new Elysia({ name: "metrics-api", detail: { tags: ["operations"] } }).get(
    "/metrics",
    async () => new Response(await metrics.text(), { headers: { "content-type": metrics.registry.contentType } }),
    {
      detail: {
        summary: "Prometheus metrics",
        description: "Needs the admin token unless METRICS_PUBLIC is set. Every name starts with vxman_.",
      },
    },
  );
}

/** Counts and times every request, labelled by the route pattern (/api/machines/:machine), never the raw URL. */
export function httpMetrics(metrics: Metrics) {
  const started = new WeakMap<Request, number>();
  return new Elysia({ name: "http-metrics" })
    .onRequest(({ request }) => {
      started.set(request, performance.now());
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const label = route || "unmatched";
      // A route that answers with a Response of its own (src/http/json-response.ts) sets its status there.
      const status = responseValue instanceof Response ? responseValue.status : set.status;
      const code = String(typeof status === "number" ? status : 200);
      metrics.httpRequests.inc({ method: request.method, route: label, code });
      const t0 = started.get(request);
      if (t0 !== undefined) metrics.httpDuration.observe({ route: label }, (performance.now() - t0) / 1000);
    });
}
