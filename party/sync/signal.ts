/**
 * Wake-ups for the User actor's waiting long-polls. A generation counter closes the gap
 * between "looked, found nothing" and "started waiting": a waiter that passes the
 * generation it looked at returns at once if anything fired since.
 */
export class Signal {
  #generation = 0;
  readonly #waiters = new Set<() => void>();
  readonly #listeners = new Set<() => void>();

  get generation(): number {
    return this.#generation;
  }

  /** Something a sync may want happened: every waiter looks again. */
  fire(): void {
    this.#generation++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
    for (const l of [...this.#listeners]) l();
  }

  /** Calls `listener` on every fire until the returned function is called (push transports). */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves when fired after `generation`, or at `deadline` (epoch ms). */
  wait(generation: number, deadline: number): Promise<void> {
    if (generation !== this.#generation) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.#waiters.add(done);
    });
  }

  /** Long-polls waiting now (tests, stats). */
  get waiting(): number {
    return this.#waiters.size;
  }
}
