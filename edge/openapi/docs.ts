/**
 * `/openapi.json` (gen/openapi.json, generated from the contracts by
 * scripts/openapi.ts) and `/docs`, which renders it with Swagger UI served from the
 * installed swagger-ui-dist package: no CDN, no network.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { EdgeRoute } from "../app.ts";
import type { Reply } from "../reply.ts";

const require = createRequire(import.meta.url);
const assets: Record<string, string> = {
  "/docs/swagger-ui.css": "text/css; charset=utf-8",
  "/docs/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "/docs/swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
};

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Oasis API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", deepLinking: true });</script>
</body></html>
`;

export function docsRoutes(openApiPath = join(import.meta.dir, "..", "..", "gen", "openapi.json")): EdgeRoute[] {
  const spec = new Uint8Array(readFileSync(openApiPath));
  const dist = dirname(require.resolve("swagger-ui-dist/package.json"));
  const files = new Map(Object.keys(assets).map((p) => [p, new Uint8Array(readFileSync(join(dist, p.slice("/docs/".length))))]));
  return [
    (ctx): { reply: Reply; route: string } | undefined => {
      const path = ctx.url.pathname;
      if (path === "/openapi.json") {
        return { reply: { status: 200, headers: { "content-type": "application/json", "cache-control": "public, max-age=300" }, body: spec, compressible: true }, route: path };
      }
      if (path === "/docs" || path === "/docs/") {
        return { reply: { status: 200, headers: { "content-type": "text/html; charset=utf-8" }, body: page }, route: "/docs" };
      }
      const file = files.get(path);
      if (file) return { reply: { status: 200, headers: { "content-type": assets[path]!, "cache-control": "public, max-age=86400" }, body: file, compressible: true }, route: "/docs/*" };
      return undefined;
    },
  ];
}
