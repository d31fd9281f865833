import { describe, expect, it } from "vitest";
import { readAtMost } from "../../lib/read-limited.ts";

function stream(chunks: number[][], onCancel?: () => void): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(new Uint8Array(chunks[i++]!));
      else c.close();
    },
    cancel: () => onCancel?.(),
  });
}

describe("reading a body within a byte limit", () => {
  it("[limits] a body up to the limit is read whole, chunks joined in order", async () => {
    expect([...(await readAtMost(stream([[1, 2], [3], [4, 5]]), 5, () => new Error("big")))]).toEqual([1, 2, 3, 4, 5]);
    expect(await readAtMost(stream([]), 0, () => new Error("big"))).toHaveLength(0);
  });

  it("[limits] one byte past the limit throws the caller's error and cancels the rest unread", async () => {
    let cancelled = false;
    await expect(readAtMost(stream([[1, 2], [3, 4], [5]], () => (cancelled = true)), 3, () => new Error("too big"))).rejects.toThrow("too big");
    expect(cancelled).toBe(true);
  });
});
