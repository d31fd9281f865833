// Configuration parsing: defaults, validation (docs/configuration.md is the reference).
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, parseConfig } from "../../party/env.ts";

describe("[config] wrangler vars", () => {
  it("[config] defaults are the documented safe ones", () => {
    expect(parseConfig({})).toEqual({
      serverName: "localhost:8787",
      publicBaseUrl: "http://127.0.0.1:8787",
      registrationMode: "closed",
      registrationSharedSecret: undefined,
      rateLimitsEnabled: true,
      maxRequestBytes: 1048576,
      rateLimits: {
        login: { burst: 10, perSecond: 0.1 },
        register: { burst: 5, perSecond: 0.05 },
        report: { burst: 10, perSecond: 0.05 },
        message: { burst: 10, perSecond: 0.2 },
      },
      maxUploadBytes: 52428800,
      mediaMaxPendingUploads: 10,
      maxThumbnailPixels: 6000000,
      legacyMediaEnabled: false,
      urlPreview: expect.objectContaining({
        maxBytes: 10485760,
        maxPageBytes: 1048576,
        timeoutMs: 10000,
        maxRedirects: 5,
        cacheTtlSeconds: 3600,
        maxTags: 50,
        maxValueLength: 1000,
        urlBlocklist: [],
        allowedRanges: [],
      }),
      pushAllowInsecureGateways: false,
      reportReasonMaxLength: 1000,
      spaceHierarchyMaxLimit: 100,
      spaceHierarchyMaxDepth: 10,
      mutualRoomsPageSize: 100,
      openidTokenLifetimeSeconds: 3600,
      searchScanLimit: 1000,
      searchIndexBudget: 5000,
      presence: { enabled: true, idleMs: 300000, syncOfflineMs: 30000, activeMs: 60000, statusMaxLength: 512, syncLimit: 100 },
      turn: null,
    });
    expect(DEFAULTS.registrationMode).toBe("closed");
  });

  it("[config] values are read and a trailing slash on the base URL is dropped", () => {
    const c = parseConfig({
      SERVER_NAME: "example.org",
      PUBLIC_BASEURL: "https://matrix.example.org/",
      REGISTRATION_MODE: "token",
      MAX_REQUEST_BYTES: "2048",
      RATE_REGISTER_PER_SECOND: "0.5",
    });
    expect(c.serverName).toBe("example.org");
    expect(c.publicBaseUrl).toBe("https://matrix.example.org");
    expect(c.registrationMode).toBe("token");
    expect(c.maxRequestBytes).toBe(2048);
    expect(c.rateLimits.register).toEqual({ burst: 5, perSecond: 0.5 });
  });

  it("[config] invalid values fail loudly instead of falling back", () => {
    for (const bad of [
      { REGISTRATION_MODE: "everyone" },
      { SERVER_NAME: "bad name" },
      { PUBLIC_BASEURL: "ftp://x" },
      { PUBLIC_BASEURL: "https://x/path" },
      { RATE_LIMITS_ENABLED: "yes please" },
      { MAX_REQUEST_BYTES: "-1" },
      { MAX_REQUEST_BYTES: "1.5" },
      { RATE_LOGIN_PER_SECOND: "0" },
    ]) {
      expect(() => parseConfig(bad), JSON.stringify(bad)).toThrow(ConfigError);
    }
  });

  it("[config] presence settings (docs/design/presence.md): PRESENCE_ENABLED=false turns it off; timers must be positive integers", () => {
    expect(parseConfig({ PRESENCE_ENABLED: "false", PRESENCE_IDLE_MS: "1000" }).presence).toMatchObject({ enabled: false, idleMs: 1000 });
    for (const bad of [{ PRESENCE_ENABLED: "maybe" }, { PRESENCE_SYNC_OFFLINE_MS: "0" }, { PRESENCE_STATUS_MAX_LENGTH: "1.5" }]) {
      expect(() => parseConfig(bad), JSON.stringify(bad)).toThrow(ConfigError);
    }
  });
});
