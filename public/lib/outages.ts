// The shapes of the outages API as the dashboard reads them (types only: the server's model
// module would pull Elysia into the bundle).
import type {
  Channel as ChannelSchema, Delivery as DeliverySchema, Outage as OutageSchema, Silence as SilenceSchema, Uptime as UptimeSchema,
} from "../../src/outages/model.ts";

export type Uptime = typeof UptimeSchema.static;
export type Outage = typeof OutageSchema.static;
export type Silence = typeof SilenceSchema.static;
export type Channel = typeof ChannelSchema.static;
export type Delivery = typeof DeliverySchema.static;
