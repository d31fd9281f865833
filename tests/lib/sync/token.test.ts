import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeView, encodeView, type RoomView } from "../../../lib/sync/position.ts";
import { decodeSyncToken, encodeSyncToken, MAX_INLINE_ROOMS, nextInline, tokenViews, type SyncToken } from "../../../lib/sync/token.ts";

const view = (s: number, m: RoomView["m"] = "join", ms = 1): RoomView => ({ m, ms, s, r: 0, t: 0 });

const arbView = fc.record({
  m: fc.constantFrom("join", "invite", "knock", "leave", "ban") as fc.Arbitrary<RoomView["m"]>,
  ms: fc.nat({ max: 2 ** 40 }),
  s: fc.nat({ max: 2 ** 40 }),
  r: fc.nat({ max: 2 ** 40 }),
  t: fc.nat({ max: 2 ** 45 }),
});

describe("sync tokens", () => {
  it("[sync: next_batch] a token decodes to exactly what was encoded", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 2 ** 40 }),
        fc.array(fc.tuple(fc.nat({ max: 100000 }), arbView), { maxLength: MAX_INLINE_ROOMS }),
        (checkpoint, accountData, toDevice, deviceLists, entries) => {
          const t: SyncToken = { checkpoint, accountData, toDevice, deviceLists, inline: new Map(entries) };
          expect(decodeSyncToken(encodeSyncToken(t))).toEqual(t);
        },
      ),
    );
  });

  it("[sync: since] foreign, truncated or altered tokens are refused, not misread", () => {
    const good = encodeSyncToken({ checkpoint: 5, accountData: 3, toDevice: 0, deviceLists: 9, inline: new Map([[2, view(40)]]) });
    expect(decodeSyncToken(good)).toBeDefined();
    for (const bad of ["", "s72594_4483_1934", "y1_2_3", "y1_2_3_4_5_6", "y1_2_3_4_0", "y1_2_3_4~", "y1_2_3_4~1.x.1.1.1.1", "yA_1_1_1", good + "-", good.replace("~", "~~"), "y1_2_3_4~1.j.1.1.1.1-1.j.2.2.2.2"]) {
      expect(decodeSyncToken(bad), bad).toBeUndefined();
    }
  });

  it("[sync: since] presence positions survive encoding: the own serial in the token, the room's p in its view", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), arbView, (presence, d, p, v) => {
        const withStreams: RoomView = { ...v };
        if (d > 0) withStreams.d = d;
        if (p > 0) withStreams.p = p;
        const t: SyncToken = { checkpoint: 1, accountData: 2, toDevice: 3, deviceLists: 4, inline: new Map([[7, withStreams]]) };
        if (presence > 0) t.presence = presence;
        expect(decodeSyncToken(encodeSyncToken(t))).toEqual(t);
      }),
    );
    // A view with p but no d writes d as 0; 0 alone (no p after it) is an altered text.
    expect(decodeView(encodeView(3, { ...view(5), p: 2 }))).toEqual({ idx: 3, view: { ...view(5), p: 2 } });
    expect(decodeView("3.j.1.5.0.0.0")).toBeUndefined();
    expect(decodeView("3.j.1.5.0.0.0.0")).toBeUndefined();
  });

  it("[sync: since] a room view survives encoding", () => {
    fc.assert(fc.property(fc.nat({ max: 1e6 }), arbView, (idx, v) => {
      expect(decodeView(encodeView(idx, v))).toEqual({ idx, view: v });
    }));
  });

  it("[sync: next_batch] the token's views are the checkpoint's overridden by the inline ones", () => {
    const base = new Map([[1, view(10)], [2, view(20)]]);
    const all = tokenViews(base, new Map([[2, view(25)], [3, view(1, "invite")]]));
    expect([...all]).toEqual([[1, view(10)], [2, view(25)], [3, view(1, "invite")]]);
  });

  it("[sync: next_batch] only rooms that differ from the checkpoint go inline; too many → a new checkpoint", () => {
    const base = new Map<number, RoomView>();
    for (let i = 0; i < 40; i++) base.set(i, view(i));
    const views = new Map(base);
    views.set(3, view(100));
    expect([...nextInline(base, views)!]).toEqual([[3, view(100)]]);
    for (let i = 0; i <= MAX_INLINE_ROOMS; i++) views.set(i, view(1000 + i));
    expect(nextInline(base, views)).toBeUndefined();
    const dropped = new Map(base);
    dropped.delete(7);
    expect(nextInline(base, dropped)).toBeUndefined();
  });
});
