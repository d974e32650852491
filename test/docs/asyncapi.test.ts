// The AsyncAPI document (GET /asyncapi.json) against the service: its channels are exactly the
// WebSocket routes the app registered, its header schemas list the fields that real viewers receive
// (in wire.ts's order) and that a real producer socket requires, its fixed replies are the ones the
// sockets send, and its close codes cover every code and reason of the catalogue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, frameMessage, jpeg, postFrame, uniqueLabel } from '../helpers/frames.js';
import { Close, CloseReason } from '../../src/errors.js';

type Json = any;

function resolve(doc: Json, ref: string): Json {
  return ref.slice(2).split('/').reduce((n: Json, part) => (n === undefined ? undefined : n[part]), doc);
}

function refsIn(node: Json, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) refsIn(v, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

/** `/ws/labels/{label}` → `/ws/labels/:label` (Fastify's route syntax). */
const asRoute = (address: string) => address.replace(/\{(\w+)\}/g, ':$1');

describe('AsyncAPI document', () => {
  let svc: TestService;
  let doc: Json;
  let admin: string;
  const schema = (name: string) => doc.components.schemas[name];
  const message = (name: string) => doc.components.messages[name];

  beforeAll(async () => {
    svc = await startService({ env: { PULL_IDLE_TIMEOUT_MS: '60000' } });
    admin = await svc.token('asyncapi-admin');
    const res = await fetch(`${svc.url}/asyncapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = await res.json();
  });
  afterAll(async () => svc?.stop());

  it('is an AsyncAPI 3.0 document whose server is this service and whose every $ref resolves', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.servers.service).toMatchObject({ host: new URL(svc.url).host, protocol: 'ws' });
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(30);
    for (const r of refs) expect(resolve(doc, r), r).toBeTypeOf('object');
    // Operations only use messages of their own channel (AsyncAPI 3 requires it).
    for (const [name, op] of Object.entries<Json>(doc.operations)) {
      const channel = op.channel.$ref;
      for (const m of [...op.messages, ...(op.reply?.messages ?? [])]) expect(m.$ref.startsWith(`${channel}/messages/`), `${name}: ${m.$ref}`).toBe(true);
    }
  });

  it('has a channel for every WebSocket route of the app, and a route for every channel', async () => {
    const addresses = Object.values<Json>(doc.channels).map((c) => asRoute(c.address)).sort();
    expect(svc.socketRoutes.length).toBeGreaterThan(0);
    expect(addresses).toEqual([...svc.socketRoutes].sort());
    // And each is a real socket endpoint: a plain request is told to upgrade.
    for (const c of Object.values<Json>(doc.channels)) {
      const path = c.address.replace(/\{(\w+)\}/g, 'x');
      expect((await fetch(`${svc.url}${path}`)).status, path).toBe(426);
    }
  });

  it('lists the push and pull headers as real viewers receive them, field by field and in order', async () => {
    const label = uniqueLabel();
    expect((await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
    const push = await connect(svc.url, `/ws/labels/${label}`, admin);
    const pull = await connect(svc.url, `/ws/stream/${label}/cam`, admin);
    pull.send('{"action":"pull"}');
    await push.until(() => push.frames.length === 1);
    await pull.until(() => pull.frames.length === 1);
    for (const [received, name] of [[push.frames[0]!, 'PushFrameHeader'], [pull.frames[0]!, 'PullFrameHeader']] as const) {
      const s = schema(name);
      expect(Object.keys(received.header), name).toEqual(Object.keys(s.properties));
      expect(s.required).toEqual(Object.keys(s.properties));
      for (const [field, value] of Object.entries(received.header)) {
        expect(typeof value, `${name}.${field}`).toBe(s.properties[field].type);
        if (s.properties[field].pattern) expect(value).toMatch(new RegExp(s.properties[field].pattern));
      }
    }
    expect(push.frames[0]!.header.key).toBe('cam');
    expect(message('PushFrame').headers.$ref).toBe('#/components/schemas/PushFrameHeader');
    expect(message('PullFrame').headers.$ref).toBe('#/components/schemas/PullFrameHeader');
    push.close();
    pull.close();
  });

  it('lists the producer header: each required field is required by /ws/frames, each optional one is used', async () => {
    const s = schema('ProducerFrameHeader');
    const label = uniqueLabel();
    const full: Record<string, unknown> = { label, key: 'cam', ...defaultMeta, width: 640, height: '480' };
    expect(Object.keys(full).sort()).toEqual(Object.keys(s.properties).sort());
    const producer = await connect(svc.url, '/ws/frames', admin);
    const viewer = await connect(svc.url, `/ws/stream/${label}/cam`, admin);
    let replies = 0;
    const send = async (header: object) => {
      producer.send(frameMessage(header, jpeg(replies)));
      replies++;
      await producer.until(() => producer.texts.length === replies);
      return producer.texts[replies - 1];
    };
    expect(await send(full)).toEqual(message('UploadOk').examples[0].payload);
    viewer.send('{"action":"pull"}');
    await viewer.until(() => viewer.frames.length === 1);
    expect(viewer.frames[0]!.header).toMatchObject({ detection_items: defaultMeta.detection_items_json, width: '640', height: '480' });
    for (const field of Object.keys(s.properties)) {
      const { [field]: _dropped, ...rest } = full;
      const reply = await send(rest);
      if (s.required.includes(field)) expect(reply, field).toEqual({ status: 'error', message: `${field} is required`, code: 'VALIDATION' });
      else expect(reply, field).toEqual({ status: 'ok', message: 'Frame stored successfully.' });
    }
    // What a newcomer sends by mistake: the viewer's field names.
    const { warnings_json: w, ...withoutSuffix } = full;
    expect(await send({ ...withoutSuffix, warnings: w })).toEqual({ status: 'error', message: 'warnings_json is required', code: 'VALIDATION' });
    expect(producer.closed).toBeNull();
    producer.close();
    viewer.close();
  });

  it('its fixed replies are the ones the sockets send', async () => {
    const label = uniqueLabel();
    const pull = await connect(svc.url, `/ws/stream/${label}/cam`, admin);
    pull.send('{"action":"ping"}');
    pull.send('{"action":"dance"}');
    pull.send('not json');
    await pull.until(() => pull.texts.length === 3);
    expect(pull.texts).toEqual([message('Pong').examples[0].payload, message('UnknownAction').examples[0].payload, message('InvalidJson').examples[0].payload]);
    pull.close();
    const empty = await connect(svc.url, `/ws/labels/${label}`, admin);
    const closed = await empty.waitClose();
    expect(empty.texts[0].error).toMatch(new RegExp(message('NoKeys').payload.properties.error.pattern));
    expect(doc.channels.labelFrames['x-close-codes']).toContainEqual(expect.objectContaining({ code: closed.code, reason: closed.reason }));
  });

  it('lists every close code and reason of the catalogue, and the ones real refusals use', async () => {
    const closes = Object.values<Json>(doc.channels).flatMap((c) => c['x-close-codes']);
    const codes = new Set(closes.map((c: Json) => c.code));
    const reasons = new Set(closes.map((c: Json) => c.reason));
    for (const code of Object.values(Close)) expect(codes, String(code)).toContain(code);
    for (const reason of Object.values(CloseReason)) expect(reasons, reason).toContain(reason);

    const user = await svc.token('asyncapi-user', 'user', ['elsewhere']);
    const refusals: Array<[string, string | null, string]> = [
      ['/ws/frames', null, 'producerFrames'],
      ['/ws/frames', 'not-a-token', 'producerFrames'],
      [`/ws/labels/${uniqueLabel()}`, user, 'labelFrames'],
      [`/ws/stream/${uniqueLabel()}/cam`, user, 'cameraPull'],
    ];
    for (const [path, token, channel] of refusals) {
      const c = await connect(svc.url, path, token);
      const closed = await c.waitClose();
      expect(doc.channels[channel]['x-close-codes'], `${path}: ${JSON.stringify(closed)}`).toContainEqual(expect.objectContaining(closed));
    }
  });
});
