// Rejected uploads are logged once each at warn, rate-limited per producer with a summary line.
import { describe, expect, it } from 'vitest';
import { RejectionLog } from '../../src/ingest/rejection-log.js';

function recorder() {
  const lines: Array<{ obj: any; msg?: string }> = [];
  const log = { debug() {}, info() {}, error() {}, warn: (obj: unknown, msg?: string) => lines.push({ obj, msg }) };
  return { lines, log };
}

describe('rejected-upload log', () => {
  it('logs each rejection with who, where, what and why, up to the limit per producer, then one summary per window', async () => {
    const { lines, log } = recorder();
    const r = new RejectionLog(log, { perWindow: 3, windowMs: 200 });
    try {
      for (let i = 0; i < 10; i++) r.record({ user: 'cam-1', address: '10.0.0.1', via: 'POST /frames', label: 'north', key: `k${i}`, code: 'VALIDATION', detail: 'label is required' });
      r.record({ user: null, address: '10.0.0.9', via: 'WS /ws/frames', label: 'x'.repeat(500), code: 'INVALID_TOKEN', detail: 'Invalid token' });
      expect(lines).toHaveLength(4);
      expect(lines[0]).toEqual({ msg: 'upload rejected', obj: { user: 'cam-1', address: '10.0.0.1', via: 'POST /frames', label: 'north', key: 'k0', code: 'VALIDATION', detail: 'label is required' } });
      expect(lines[3]!.obj).toMatchObject({ user: null, address: '10.0.0.9', code: 'INVALID_TOKEN' });
      expect(lines[3]!.obj.label.length).toBeLessThan(130); // long labels are clipped
      await new Promise((res) => setTimeout(res, 300));
      expect(lines).toHaveLength(5);
      expect(lines[4]).toEqual({ obj: { user: 'cam-1', address: '10.0.0.1', suppressed: 7 }, msg: '7 more uploads rejected from cam-1 in the last 0.2 s, not logged one by one' });
      // A new window logs again.
      r.record({ user: 'cam-1', address: '10.0.0.1', via: 'POST /frames', code: 'NOT_AN_IMAGE', detail: 'file is not an image' });
      expect(lines).toHaveLength(6);
    } finally {
      r.close();
    }
  });
});
