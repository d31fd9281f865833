/**
 * URL preview benchmark on a fresh `npm start` server (loopback allowlisted with
 * URL_PREVIEW_IP_RANGE_ALLOWLIST) against a web server in this process: previews of
 * a small page with an og:image (page + image fetched, image stored in R2), of pages
 * of 1 MiB and 10 MiB (streamed through HTMLRewriter; 10 MiB is the default read
 * limit), each with a fresh URL (cache miss), then the same URL again (KV hit).
 * p50/p99 of the whole request as the client sees it.
 *
 *   npm run -s bench:preview [-- --runs 20]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PhotonImage } from "@cf-wasm/photon/node";
import { startServer } from "../tests/e2e/setup.ts";

const i = process.argv.indexOf("--runs");
const RUNS = i >= 0 ? Number(process.argv[i + 1]) : 20;
if (!Number.isInteger(RUNS) || RUNS <= 0) throw new Error("--runs needs a positive integer");

const image = (() => {
  const px = new Uint8Array(400 * 300 * 4);
  for (let p = 0; p < 400 * 300; p++) px.set([p % 251, (p * 7) % 253, 90, 255], p * 4);
  const img = new PhotonImage(px, 400, 300);
  const out = img.get_bytes_jpeg(80);
  img.free();
  return out;
})();
const head = `<!doctype html><html><head><title>Bench</title><meta property="og:title" content="Benchmark page">
<meta property="og:description" content="A page for the URL preview benchmark"><meta property="og:image" content="/cover.jpg"></head><body>`;
const filler = `<p>${"lorem ipsum dolor sit amet ".repeat(40)}</p>\n`;
function page(bytes: number): string {
  let s = head;
  while (s.length < bytes) s += filler;
  return `${s}</body></html>`;
}
const pages: Record<string, string> = { "/small": page(5_000), "/1mib": page(1 << 20), "/10mib": page(10 << 20) };

const web = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (path === "/cover.jpg") {
    res.setHeader("content-type", "image/jpeg");
    res.end(image);
    return;
  }
  const body = pages[path];
  if (body === undefined) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.end(body);
});
await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
const server = await startServer({ env: { URL_PREVIEW_IP_RANGE_ALLOWLIST: "127.0.0.0/8" } });

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const pct = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(1);
  return `p50 ${pct(50)} ms, p99 ${pct(99)} ms`;
}

try {
  const reg = await fetch(`${server.baseUrl}/_matrix/client/v3/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "benchpreview", password: "correct horse battery", auth: { type: "m.login.dummy" } }),
  });
  const token = ((await reg.json()) as { access_token: string }).access_token;
  const preview = async (url: string): Promise<number> => {
    const t = performance.now();
    const res = await fetch(`${server.baseUrl}/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as Record<string, unknown>;
    const ms = performance.now() - t;
    if (res.status !== 200 || body["og:title"] !== "Benchmark page") throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
    return ms;
  };
  console.log(`URL preview, ${RUNS} runs each (server on ${server.baseUrl}, pages from ${origin})`);
  for (const path of Object.keys(pages)) {
    await preview(`${origin}${path}?warm`); // first-use costs (isolate, photon import) out of the figures
    const miss: number[] = [];
    for (let r = 0; r < RUNS; r++) miss.push(await preview(`${origin}${path}?run=${r}`));
    const hit: number[] = [];
    for (let r = 0; r < RUNS; r++) hit.push(await preview(`${origin}${path}?run=0`));
    console.log(`${path.padEnd(7)} uncached ${summary(miss)} | cached ${summary(hit)}`);
  }
} finally {
  await server.stop();
  web.close();
}
