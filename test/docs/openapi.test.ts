// The OpenAPI document (GET /openapi.json) against the service it describes: named schemas, every
// $ref resolvable, /metrics listed, and POST /frames's multipart form being what the route accepts
// (an upload built from the document alone, as /docs's "Try it out" builds it, is stored).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, jpeg, postFrame, uniqueLabel } from '../helpers/frames.js';
import { Errors } from '../../src/errors.js';

type Json = any;

/** Every `$ref` value in a document. */
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

function resolve(doc: Json, ref: string): Json {
  expect(ref.startsWith('#/'), `local $ref ${ref}`).toBe(true);
  return ref.slice(2).split('/').reduce((n: Json, part) => (n === undefined ? undefined : n[part]), doc);
}

/** The multipart fields "Try it out" would send: each string's example, integers' defaults, a JPEG for the binary. */
function formFromSchema(schema: Json, image: Buffer, only?: (name: string) => boolean): { fields: Record<string, string>; image: Buffer | null } {
  const fields: Record<string, string> = {};
  let file: Buffer | null = null;
  for (const [name, prop] of Object.entries<Json>(schema.properties)) {
    if (only && !only(name)) continue;
    if (prop.format === 'binary') file = image;
    else if (prop.example !== undefined) fields[name] = String(prop.example);
    else if (prop.default !== undefined) fields[name] = String(prop.default);
  }
  return { fields, image: file };
}

describe('OpenAPI document', () => {
  let svc: TestService;
  let doc: Json;
  let producer: string;
  beforeAll(async () => {
    svc = await startService();
    const res = await fetch(`${svc.url}/openapi.json`);
    expect(res.status).toBe(200);
    doc = await res.json();
    producer = await svc.token('docs-producer', 'model_manager', ['north-gate']);
  });
  afterAll(async () => svc?.stop());

  it('names its component schemas and every $ref resolves', () => {
    const names = Object.keys(doc.components.schemas);
    for (const n of ['Error', 'FrameUpload', 'UploadOk', 'Labels', 'Health', 'User', 'Site', 'TokenPair', 'LoginReply']) expect(names).toContain(n);
    expect(names.filter((n) => /^def-\d+$/.test(n))).toEqual([]);
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const r of refs) expect(resolve(doc, r), r).toBeTypeOf('object');
    expect(doc.paths['/users'].get.responses['200'].content['application/json'].schema.properties.users.items).toEqual({ $ref: '#/components/schemas/User' });
  });

  it('lists /metrics as Prometheus text and /asyncapi.json, and /metrics answers that', async () => {
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
    expect(doc.paths['/asyncapi.json'].get).toBeDefined();
    const res = await fetch(`${svc.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toContain('# TYPE frames_stored_total counter');
  });

  it('error codes in replies are among those the Error schema lists', async () => {
    const codes = doc.components.schemas.Error.properties.code.enum;
    expect(codes).toEqual(Object.keys(Errors));
    const noToken = await postFrame(svc.url, null, { label: 'north-gate', key: 'cam' }, jpeg(1));
    expect(noToken.status).toBe(401);
    expect(codes).toContain(noToken.body.code);
  });

  it('describes POST /frames as a multipart form with the file as binary, and an upload built from it is stored', async () => {
    const op = doc.paths['/frames'].post;
    expect(Object.keys(op.requestBody.content)).toEqual(['multipart/form-data']);
    const form = resolve(doc, op.requestBody.content['multipart/form-data'].schema.$ref);
    expect(form.properties.file).toMatchObject({ type: 'string', format: 'binary' });
    expect(op.security).toEqual([{ bearerAuth: [] }]);

    // The document's example label is a site this producer may upload to.
    const label: string = form.properties.label.example;
    const viewer = await connect(svc.url, `/ws/stream/${encodeURIComponent(label)}/${encodeURIComponent(form.properties.key.example)}`, producer);
    const { fields, image } = formFromSchema(form, jpeg(7));
    const res = await postFrame(svc.url, producer, fields, image);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ status: doc.components.schemas.UploadOk.properties.status.enum[0], message: doc.components.schemas.UploadOk.properties.message.enum[0] });
    viewer.send('{"action":"pull"}');
    await viewer.until(() => viewer.frames.length === 1);
    expect(viewer.frames[0]!.header.warnings).toBe(form.properties.warnings_json.example);
    expect(viewer.frames[0]!.header.detection_items).toBe(form.properties.detection_items_json.example);
    viewer.close();
  });

  it('its required fields are the ones the route requires, and the others are optional', async () => {
    const form = doc.components.schemas.FrameUpload;
    const label = uniqueLabel();
    const admin = await svc.token('docs-admin');
    for (const name of Object.keys(form.properties)) {
      const { fields, image } = formFromSchema(form, jpeg(1), (n) => n !== name);
      if (fields.label !== undefined) fields.label = label;
      const res = await postFrame(svc.url, admin, fields, image);
      if (form.required.includes(name)) {
        expect(res.status, `without ${name}`).toBe(422);
        expect(res.body.detail).toContain(name);
      } else {
        expect(res.status, `without ${name}: ${JSON.stringify(res.body)}`).toBe(200);
      }
    }
  });
});
