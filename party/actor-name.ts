/**
 * Actors reached only by RPC must record their own name.
 *
 * partyserver answers `this.name` from `ctx.id.name`, or, when the runtime did not set it,
 * from a `__ps_name` storage record — which it writes only on its fetch, alarm and
 * WebSocket entry points, never on an RPC call. An alarm scheduled before a restart of
 * local workerd starts the actor without `ctx.id.name`; an actor that had only ever been
 * called by RPC then had no record, its alarm handler could not learn which room, user or
 * appservice it is, and its outbox or delivery queue stalled until a named call came.
 * Each actor with an alarm calls this from its constructor: one read per start, one write
 * the first time.
 */
const NAME_KEY = "__ps_name"; // partyserver's key (NAME_STORAGE_KEY in its source)

export function recordActorName(ctx: DurableObjectState): void {
  const name = ctx.id.name;
  if (name === undefined) return;
  void ctx.blockConcurrencyWhile(async () => {
    if ((await ctx.storage.get<string>(NAME_KEY)) !== name) await ctx.storage.put(NAME_KEY, name);
  });
}
