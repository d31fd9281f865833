/**
 * A byte stream read whole, but never past `max` bytes: past it, the rest is cancelled
 * (not buffered) and `tooLarge()` is thrown. `read` lets a caller translate read errors.
 */
export async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  max: number,
  tooLarge: () => Error,
  read: (r: ReadableStreamDefaultReader<Uint8Array>) => ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> = (r) => r.read(),
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await read(reader);
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
