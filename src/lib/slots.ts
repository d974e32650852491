// Counted holdings with a bound per key: connections per address, sockets per user, uploads per
// user and per address. Keys at zero are not kept, so a map holds at most what is held.
/** At most `max` held per key (0: no limit); every key is counted either way (metrics, leak checks). */
export class Slots<K> {
  private readonly held = new Map<K, number>();
  private count = 0;

  constructor(private readonly max: number) {}

  /** A release function (calling it again does nothing), or null when `key` holds `max` already. */
  acquire(key: K): (() => void) | null {
    const n = this.held.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) return null;
    this.held.set(key, n + 1);
    this.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }

  /** Slots held, all keys together. */
  get total(): number {
    return this.count;
  }

  /** Keys holding at least one slot. */
  get keys(): number {
    return this.held.size;
  }
}
