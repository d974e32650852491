// Uploads being received at once, bounded in total, per user and per client address: each may hold
// up to a body limit of memory, and one producer (or one address) trickling bodies must not take
// every slot from the others.
export interface SlotLimits {
  total: number;
  perUser: number;
  perAddress: number;
}

export type SlotRefusal = 'total' | 'user' | 'address';

export class UploadSlots {
  private inUse = 0;
  private readonly byUser = new Map<number, number>();
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly limits: SlotLimits) {}

  /** Takes a slot: a release function (call it once), or which limit is reached. */
  acquire(userId: number, address: string): (() => void) | SlotRefusal {
    if (this.inUse >= this.limits.total) return 'total';
    if ((this.byUser.get(userId) ?? 0) >= this.limits.perUser) return 'user';
    if ((this.byAddress.get(address) ?? 0) >= this.limits.perAddress) return 'address';
    this.inUse++;
    bump(this.byUser, userId, 1);
    bump(this.byAddress, address, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      bump(this.byUser, userId, -1);
      bump(this.byAddress, address, -1);
    };
  }

  get count(): number {
    return this.inUse;
  }
}

/** Counts per key, without keeping keys at zero (the maps hold at most `total` keys). */
function bump<K>(m: Map<K, number>, k: K, by: number): void {
  const n = (m.get(k) ?? 0) + by;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}
