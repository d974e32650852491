import { describe, expect, it } from 'vitest';
import { TextCache } from '../../src/lib/text-cache.js';

describe('TextCache', () => {
  it('keeps what a text came to, never a text over the length bound', () => {
    const c = new TextCache<number>(10, 5);
    c.set('abc', 1);
    c.set('abcdef', 2);
    expect(c.get('abc')).toBe(1);
    expect(c.get('abcdef')).toBeUndefined();
  });

  it('is emptied when full, so it never holds more than its bound', () => {
    const c = new TextCache<number>(2, 10);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect([c.get('a'), c.get('b'), c.get('c')]).toEqual([undefined, undefined, 3]);
  });
});
