/**
 * WebCrypto Ed25519 and SHA-256 cost per operation in this runtime, plus the whole
 * build-an-event path. Run: npx tsx bench/crypto.ts
 */
import { buildEvent } from "../lib/event-build.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import { sha256 } from "../lib/hashes.ts";
import { roomVersionRules } from "../lib/room-versions.ts";
import { Ed25519Key, verifyEd25519, verifyJsonSignatureSync, signJson } from "../lib/signing.ts";
import { encodeBase64 } from "../lib/base64.ts";

async function time(label: string, n: number, f: () => Promise<unknown> | unknown): Promise<void> {
  for (let i = 0; i < Math.min(200, n); i++) await f(); // warm up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${label.padEnd(44)} ${us.toFixed(1).padStart(8)} µs/op`);
}

const key = await Ed25519Key.generate("ed25519:bench");
const msg = new TextEncoder().encode(JSON.stringify({ type: "m.room.message", content: { body: "x".repeat(200) } }));
const sig = encodeBase64(await key.sign(msg));
const event = { type: "m.room.message", content: { body: "hello", msgtype: "m.text" }, sender: "@a:example.org", room_id: "!r:example.org", origin_server_ts: 1, depth: 5, prev_events: ["$" + "a".repeat(43)], auth_events: ["$" + "b".repeat(43), "$" + "c".repeat(43), "$" + "d".repeat(43)], hashes: { sha256: "x" } };
const signedObj = await signJson(event, "example.org", key);
const rules = roomVersionRules("12")!;

console.log(`node ${process.version}`);
await time("Ed25519 sign (WebCrypto)", 5000, () => key.sign(msg));
await time("Ed25519 verify (WebCrypto, cached key)", 5000, () => verifyEd25519(key.publicKeyBase64, msg, sig));
await time("Ed25519 verify (tweetnacl, sync)", 500, () => verifyJsonSignatureSync(signedObj, "example.org", "ed25519:bench", key.publicKeyBase64));
await time("SHA-256 of ~300 bytes (WebCrypto)", 5000, () => sha256(msg));
await time("canonical JSON of a small event", 20000, () => canonicalJson(event));
await time("buildEvent v12 (hash+sign+ID)", 2000, () =>
  buildEvent({ rules, roomId: "!" + "r".repeat(43), sender: "@a:example.org", type: "m.room.message", content: { body: "hi" }, prevEvents: event.prev_events, authEvents: event.auth_events, depth: 5, originServerTs: 1, origin: "example.org" }, key, "example.org"),
);
