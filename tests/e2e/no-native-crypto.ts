/**
 * Lets the bridge SDKs (matrix-bot-sdk, matrix-appservice-bridge) load without the native
 * binary of @matrix-org/matrix-sdk-crypto-nodejs: the package's name resolves to
 * no-native-crypto.cjs, which throws on any use. Call before importing the SDKs.
 * Why and how: docs/appservices.md ("Testing with the bridge SDKs").
 */
import Module from "node:module";
import { fileURLToPath } from "node:url";

const CRYPTO_PACKAGE = "@matrix-org/matrix-sdk-crypto-nodejs";
const STAND_IN = fileURLToPath(new URL("./no-native-crypto.cjs", import.meta.url));

type Resolve = (request: string, ...rest: unknown[]) => string;
const loader = Module as unknown as { _resolveFilename: Resolve };
let installed = false;

export function withoutNativeCrypto(): void {
  if (installed) return;
  installed = true;
  const original = loader._resolveFilename;
  loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    return request === CRYPTO_PACKAGE ? STAND_IN : original.call(this, request, ...rest);
  };
}
