import { describe, expect, it } from 'vitest';
import { MemoryFrameStore } from '../../src/frames/memory-store.js';

describe('memory store bounds', () => {
  it('forgets the least recently updated cameras past its byte and stream limits', async () => {
    const store = new MemoryFrameStore({ maxStreams: 3, maxBytes: 2500, idleMs: 60_000 });
    const f = (n: number) => ({ frame: Buffer.alloc(n, 1), warnings: '', conePolygons: '', polePolygons: '', detectionItems: '', width: '0', height: '0' });
    await store.append('s', 'a', f(1000));
    await store.append('s', 'b', f(1000));
    await store.append('s', 'a', f(1000)); // a is now the most recent
    await store.append('s', 'c', f(1000)); // 3000 bytes > 2500: b goes
    expect(await store.keys('s')).toEqual(['a', 'c']);
    await store.append('t', 'd', f(10));
    await store.append('t', 'e', f(10)); // 4 streams > 3: a goes
    expect(await store.keys('s')).toEqual(['c']);
    expect(await store.labels()).toEqual(['s', 't']);
    await store.append('u', 'huge', f(5000)); // alone over the budget: kept, everything else goes
    expect(await store.labels()).toEqual(['u']);
  });

  it('forgets cameras idle past the idle time', async () => {
    let now = 1_000_000;
    const store = new MemoryFrameStore({ maxStreams: 10, maxBytes: 1e6, idleMs: 1000, now: () => now });
    const f = { frame: Buffer.alloc(4), warnings: '', conePolygons: '', polePolygons: '', detectionItems: '', width: '0', height: '0' };
    await store.append('s', 'old', f);
    now += 600;
    await store.append('s', 'new', f);
    now += 600;
    expect(await store.keys('s')).toEqual(['new']);
    now += 600;
    expect(await store.labels()).toEqual([]);
  });
});
