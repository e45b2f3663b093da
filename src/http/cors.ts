// Cross-origin calls only from CORS_ORIGINS; with none configured, no CORS headers at all, so
// browsers keep other sites' pages from reading the API's answers.
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";

export function corsPolicy(origins: string[]) {
  if (origins.length === 0) return new Elysia({ name: "cors-off" });
  return cors({
    origin: origins.includes("*") ? "*" : origins,
    methods: ["GET", "PUT", "POST", "PATCH", "DELETE"],
    allowedHeaders: ["content-type", "authorization"],
    // Bearer tokens only: a session cookie never works from another origin.
    credentials: false,
    maxAge: 600,
  });
}
