import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyDeadlines, collectBody } from '../../src/ingest/body.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('collectBody', () => {
  let deadlines: BodyDeadlines;
  afterEach(() => deadlines?.close());

  it('gives the whole body as one copy and forgets its deadline', async () => {
    deadlines = new BodyDeadlines(200);
    const payload = new PassThrough();
    const got = new Promise<Buffer>((resolve, reject) =>
      collectBody(payload, 6, { maxBytes: 100, deadlines }, (err, body) => (err ? reject(err) : resolve(body!))));
    payload.write('abc');
    payload.end('def');
    expect((await got).toString()).toBe('abcdef');
    expect(deadlines.size).toBe(0);
  });

  it('refuses a body still arriving after the timeout with 408, and only that one', async () => {
    deadlines = new BodyDeadlines(100);
    const slow = new PassThrough();
    const results: string[] = [];
    collectBody(slow, undefined, { maxBytes: 100, deadlines }, (err) => results.push(`slow ${(err as { statusCode?: number })?.statusCode}`));
    slow.write('a');
    await sleep(60);
    const quick = new PassThrough();
    collectBody(quick, undefined, { maxBytes: 100, deadlines }, (err, body) => results.push(`quick ${err ? 'failed' : body!.length}`));
    quick.end('bb');
    await sleep(110);
    expect(results).toEqual(['quick 2', 'slow 408']);
    expect(deadlines.size).toBe(0);
  });

  it('refuses a body over the size limit with 413', async () => {
    deadlines = new BodyDeadlines(1000);
    const payload = new PassThrough();
    const got = new Promise<unknown>((resolve) => collectBody(payload, undefined, { maxBytes: 4, deadlines }, (e) => resolve(e)));
    payload.end('12345');
    expect(await got).toMatchObject({ statusCode: 413 });
    expect(deadlines.size).toBe(0);
  });
});
