// URL previews end to end: a real server (npm start, with the loopback range
// allowlisted by URL_PREVIEW_IP_RANGE_ALLOWLIST) previews a page served by a plain
// HTTP server in this process; matrix-js-sdk's getUrlPreview (the deprecated v3 path)
// and the authenticated v1 path, answers checked against the spec's OpenAPI.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PhotonImage } from "@cf-wasm/photon/node";
import { createClient } from "matrix-js-sdk";
import { afterAll, describe, expect, it } from "vitest";
import { imageInfo } from "../../lib/media/image-info.ts";
import { specJson } from "./openapi.ts";
import { quietLogger } from "./sdk.ts";
import { startServer, type RunningServer } from "./setup.ts";

function png(width: number, height: number): Uint8Array {
  const img = new PhotonImage(new Uint8Array(width * height * 4).fill(120), width, height);
  const out = img.get_bytes();
  img.free();
  return out;
}

let web: Server | undefined;
let server: RunningServer | undefined;
afterAll(async () => {
  await server?.stop();
  await new Promise((r) => (web ? web.close(r) : r(undefined)));
});

describe("[e2e: preview_url] a page on a local web server", () => {
  it("[preview_url: e2e] OpenGraph and the page's image, through matrix-js-sdk and the v1 path; localhost stays refused", { timeout: 180_000 }, async () => {
    const image = png(30, 20);
    let pageHits = 0;
    web = createServer((req, res) => {
      if (req.url === "/cover.png") {
        res.setHeader("content-type", "image/png");
        res.end(image);
        return;
      }
      pageHits++;
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(`<!doctype html><html><head><title>Ignored</title>
        <meta property="og:title" content="Local page"><meta property="og:description" content="Served by the test">
        <meta property="og:image" content="/cover.png"></head><body></body></html>`);
    });
    await new Promise<void>((r) => web!.listen(0, "127.0.0.1", r));
    const pageUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/post`;
    server = await startServer({ env: { URL_PREVIEW_IP_RANGE_ALLOWLIST: "127.0.0.0/8" } });

    const reg = await fetch(`${server.baseUrl}/_matrix/client/v3/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: `pv${Date.now().toString(36)}`, password: "a sufficiently long password", auth: { type: "m.login.dummy" } }),
    });
    const me = await specJson<{ access_token: string; user_id: string; device_id: string }>(reg, "POST", "/_matrix/client/v3/register");
    const client = createClient({ baseUrl: server.baseUrl, accessToken: me.access_token, userId: me.user_id, deviceId: me.device_id, logger: quietLogger() });

    const og = await client.getUrlPreview(pageUrl, Date.now());
    expect(og["og:title"]).toBe("Local page");
    expect(og["og:description"]).toBe("Served by the test");
    expect(og["og:image:width"]).toBe(30);
    expect(og["og:image:height"]).toBe(20);
    expect(og["matrix:image:size"]).toBe(image.length);
    const mxc = og["og:image"] as string;
    expect(mxc).toMatch(new RegExp(`^mxc://${server.serverName}/`));

    // The v1 path answers from the cache (same URL, same hour), valid per the spec.
    const auth = { Authorization: `Bearer ${me.access_token}` };
    const v1 = await fetch(`${server.baseUrl}/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(pageUrl)}`, { headers: auth });
    expect(await specJson(v1, "GET", "/_matrix/client/v1/media/preview_url")).toEqual(og);
    expect(pageHits).toBe(1);

    // The stored image downloads as the same bytes.
    const dl = await fetch(`${server.baseUrl}/_matrix/client/v1/media/download/${mxc.slice("mxc://".length)}`, { headers: auth });
    const bytes = new Uint8Array(await dl.arrayBuffer());
    expect(bytes).toEqual(image);
    expect(imageInfo(bytes)?.width).toBe(30);

    // The allowlist opens the range, not local names.
    const named = await fetch(`${server.baseUrl}/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(pageUrl.replace("127.0.0.1", "localhost"))}`, { headers: auth });
    expect(named.status).toBe(403);
    expect(((await specJson(named, "GET", "/_matrix/client/v1/media/preview_url")) as { errcode: string }).errcode).toBe("M_FORBIDDEN");
    expect(pageHits).toBe(1);
  });
});
