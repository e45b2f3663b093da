// GET /register.sh: the script a machine pipes into sh to enrol itself
// (`curl -fsS http://MANAGER:8080/register.sh | sh`). Routes only; the script is built in script.ts.
import { Elysia } from "elysia";
import { ApiError } from "../../http/errors.ts";
import { managerUrl, registerScript } from "./script.ts";

export function enrolApi({ trustProxy }: { trustProxy: boolean }) {
  return new Elysia({ name: "enrol-api", detail: { tags: ["machines"] } }).get(
    "/register.sh",
    ({ request, set }) => {
      const url = managerUrl({
        host: request.headers.get("host"),
        urlHost: new URL(request.url).host,
        forwardedHost: request.headers.get("x-forwarded-host"),
        forwardedProto: request.headers.get("x-forwarded-proto"),
        trustProxy,
      });
      if (!url) {
        throw new ApiError(
          400,
          "invalid_host",
          "The Host header is not a host name or IP address with an optional port, so no script can name this manager; " +
            "fetch it as http://ADDRESS:PORT/register.sh.",
        );
      }
      // Plain text, so a browser shows the script to read before anyone pipes it into sh.
      set.headers["content-type"] = "text/plain; charset=utf-8";
      // The script names the manager as this request reached it: never reuse it for another.
      set.headers["cache-control"] = "no-store";
      return registerScript(url);
    },
    {
      detail: {
        summary: "Enrolment script for machines",
        description:
          "A POSIX sh script that registers the machine running it: its hostname, and the IP and MAC of the interface " +
          "that routes to this manager. `curl -fsS http://MANAGER:8080/register.sh | sh`; add `-s -- --heartbeat` to " +
          "re-register every 5 minutes, `--token TOKEN` (or VXMAN_TOKEN) when REGISTRATION_TOKEN is set, `--dry-run` to " +
          "see what would be sent. The manager's address in it is taken from the request's Host header.",
        responses: {
          200: { description: "The script", content: { "text/plain": { schema: { type: "string" } } } },
          400: { description: "The Host header is not a valid host[:port]" },
        },
      },
    },
  );
}
