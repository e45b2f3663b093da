// Version, commit and build date, baked in by scripts/build.ts with --define. From source
// they read "dev".
import pkg from "../package.json" with { type: "json" };

declare const __VXMAN_COMMIT__: string | undefined;
declare const __VXMAN_BUILD_DATE__: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof __VXMAN_COMMIT__ === "string" ? __VXMAN_COMMIT__ : "dev";
export const BUILD_DATE: string = typeof __VXMAN_BUILD_DATE__ === "string" ? __VXMAN_BUILD_DATE__ : "dev";
