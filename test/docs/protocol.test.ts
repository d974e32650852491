// docs/protocol.md against the service: its push-header example is, byte for byte, what a real viewer
// receives for the upload it shows; its close-code table names every close reason of the catalogue;
// the fixed replies it quotes are the ones the sockets send.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, postFrame } from '../helpers/frames.js';
import { CloseReason } from '../../src/errors.js';
import { OK_REPLY } from '../../src/frames/wire.js';

const DOC = fs.readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const IMAGE = fs.readFileSync(new URL('../../examples/frame.png', import.meta.url));

/** The ```json blocks of the document, in order. */
const jsonBlocks = [...DOC.matchAll(/```json\n(.*?)\n```/gs)].map((m) => m[1]!);

describe('docs/protocol.md', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.stop());

  it('shows the push header and message size a real viewer gets for its example upload', async () => {
    const token = await svc.token('protocol-admin');
    const field = (name: string) => new RegExp(`name="${name}"\\n\\n(.*)\\n`).exec(DOC)![1]!;
    const upload = Object.fromEntries(
      ['label', 'key', 'warnings_json', 'cone_polygons_json', 'pole_polygons_json', 'detection_items_json', 'width', 'height'].map((n) => [n, field(n)]),
    );
    expect((await postFrame(svc.url, token, upload, IMAGE, 'frame.png')).status).toBe(200);
    const viewer = await connect(svc.url, `/ws/labels/${upload.label}`, token);
    await viewer.until(() => viewer.frames.length === 1);
    const raw = viewer.frames[0]!.raw;
    const header = raw.subarray(0, raw.indexOf('--IMG--')).toString('utf8');
    expect(jsonBlocks).toContain(header);
    expect(DOC.replace(/\s+/g, ' ')).toContain(`(${raw.length} bytes: a ${header.length}-byte header, the 7 delimiter bytes, the ${IMAGE.length}-byte PNG)`);
    // The hex sketch's first line is the message's first 16 bytes.
    const hex = [...raw.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    expect(DOC).toContain(`000000  ${hex}   ${raw.subarray(0, 16).toString('latin1')}`);
    viewer.close();
  });

  it('quotes the replies the sockets send', () => {
    expect(jsonBlocks).toContain(JSON.stringify(OK_REPLY));
    for (const reply of ['{"action":"pong"}', '{"error":"unknown action"}', '{"error":"Invalid JSON format"}']) expect(DOC).toContain(`← ${reply}`);
  });

  it('lists every close reason in its close-code table', () => {
    const table = DOC.slice(DOC.indexOf('## 7. Close codes'));
    for (const reason of Object.values(CloseReason)) expect(table, reason).toContain(`| \`${reason}\` |`);
  });
});
