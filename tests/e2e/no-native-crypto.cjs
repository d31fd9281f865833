// Stands in for @matrix-org/matrix-sdk-crypto-nodejs while the bridge SDKs are loaded in
// the end-to-end tests. Its native binary is downloaded by an install script from outside
// the package registry, which these machines cannot reach; matrix-bot-sdk requires the
// package at import time (lib/e2ee/CryptoClient.js) although only its encryption code
// uses it. The tests use no encryption through the SDKs, so any use of this module is a
// bug in the test: every property read throws, naming the property.
"use strict";
module.exports = new Proxy(
  {},
  {
    get(_target, property) {
      // What module loaders and interop helpers probe for without using the module.
      if (typeof property === "symbol" || property === "__esModule" || property === "then" || property === "default") return undefined;
      throw new Error(`@matrix-org/matrix-sdk-crypto-nodejs.${String(property)} used, but its native binary is not installed (see docs/appservices.md)`);
    },
  },
);
