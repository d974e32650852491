// Uploads being received at once, bounded in total, per user and per client address: each may hold
// up to a body limit of memory, and one producer (or one address) trickling bodies must not take
// every slot from the others.
import { Slots } from '../lib/slots.js';

export interface SlotLimits {
  total: number;
  perUser: number;
  perAddress: number;
}

export type SlotRefusal = 'total' | 'user' | 'address';

export class UploadSlots {
  private readonly all: Slots<null>;
  private readonly byUser: Slots<number>;
  private readonly byAddress: Slots<string>;

  constructor(limits: SlotLimits) {
    this.all = new Slots(limits.total);
    this.byUser = new Slots(limits.perUser);
    this.byAddress = new Slots(limits.perAddress);
  }

  /** Takes a slot: a release function (calling it again does nothing), or which limit is reached. */
  acquire(userId: number, address: string): (() => void) | SlotRefusal {
    const all = this.all.acquire(null);
    if (!all) return 'total';
    const user = this.byUser.acquire(userId);
    if (!user) {
      all();
      return 'user';
    }
    const addr = this.byAddress.acquire(address);
    if (!addr) {
      all();
      user();
      return 'address';
    }
    return () => {
      all();
      user();
      addr();
    };
  }

  get count(): number {
    return this.all.total;
  }
}
