// The viewer's small pieces of logic: routes, backoff, the server clock and the wire format.
import { describe, expect, it } from 'vitest';
import { parseRoute, routeHash, type Route } from '../../web/src/routes.js';
import { backoffDelay } from '../../web/src/backoff.js';
import { entryIdTime, ServerClock } from '../../web/src/server-clock.js';
import { splitFrame } from '../../web/src/wire.js';

describe('viewer routes', () => {
  it('round-trips every route, names with slashes, spaces and non-ASCII included', () => {
    const routes: Route[] = [
      { name: 'sites' },
      { name: 'login' },
      { name: 'wall', site: '工地 A/north' },
      { name: 'camera', site: 'site 1', camera: 'cam/2 東' },
      { name: 'users' },
      { name: 'admin-sites' },
      { name: 'events', site: '工地 A/north', filters: {} },
      { name: 'events', site: 's', filters: { camera: 'cam ?&=2', code: 'warning_no_hardhat', status: 'false_positive', since: '2026-01-02T03:04:05.000Z', q: '50% done' } },
    ];
    for (const r of routes) expect(parseRoute(routeHash(r))).toEqual(r);
  });

  it('never uses an API path and treats anything else as not found', () => {
    for (const r of ['#/sites', '#/users', '#/labels', '#/site', '#/site/a/cam/b', '#/site/%E0%A4%A']) expect(parseRoute(r)).toEqual({ name: 'not-found' });
    expect(parseRoute('')).toEqual({ name: 'sites' });
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially with jitter in the upper half, capped', () => {
    expect(backoffDelay(0, { baseMs: 500, maxMs: 15_000 }, () => 0)).toBe(250);
    expect(backoffDelay(0, { baseMs: 500, maxMs: 15_000 }, () => 1)).toBe(500);
    expect(backoffDelay(3, { baseMs: 500, maxMs: 15_000 }, () => 0.5)).toBe(3000);
    expect(backoffDelay(20, { baseMs: 500, maxMs: 15_000 }, () => 1)).toBe(15_000);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
    expect(spread.size).toBeGreaterThan(10);
  });
});

describe('server clock', () => {
  it('keeps the tightest bound on how far the browser is ahead', () => {
    let now = 1_000_000;
    const c = new ServerClock(() => now);
    expect(c.serverNow()).toBe(now);
    // The browser is 5.4 s ahead. A Date header is truncated to the second: a bound within a second.
    c.observeDateHeader(new Date(now - 5400).toUTCString());
    expect(c.serverNow()).toBe(now - 6000);
    c.observeFrame(now - 5400 - 30); // a live frame that took 30 ms to arrive: a tighter bound
    c.observeFrame(now - 5400 - 60_000); // a snapshot frame a minute old changes nothing
    expect(c.serverNow()).toBe(now - 5430);
    now += 1000;
    expect(c.serverNow()).toBe(now - 5430);
  });

  it('reads the store time from an entry id', () => {
    expect(entryIdTime('1764680000123-4')).toBe(1764680000123);
    expect(entryIdTime('12-0')).toBeNaN();
    expect(entryIdTime(undefined)).toBeNaN();
  });
});

describe('viewer wire format', () => {
  const msg = (header: string, image: number[]) => {
    const bytes = new Uint8Array([...new TextEncoder().encode(header), ...new TextEncoder().encode('--IMG--'), ...image]);
    return bytes.buffer;
  };

  it('splits the header from the image', () => {
    const f = splitFrame(msg('{"key": "cam", "width": "64"}', [0xff, 0xd8, 1, 2]))!;
    expect(f.header).toEqual({ key: 'cam', width: '64' });
    expect([...f.image]).toEqual([0xff, 0xd8, 1, 2]);
  });

  it('refuses a message without a delimiter or with a header that is not a JSON object', () => {
    expect(splitFrame(new TextEncoder().encode('{"key":"cam"}').buffer)).toBeNull();
    expect(splitFrame(msg('[1, 2]', [1]))).toBeNull();
    expect(splitFrame(msg('{oops', [1]))).toBeNull();
  });
});
