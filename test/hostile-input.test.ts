// Hostile and broken input, table-driven, across every endpoint and on both frame stores: each
// request gets the documented 4xx JSON {detail, code} (or the documented socket reply or close),
// nothing is stored, and the server stays healthy after each group.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, STORES, type TestService } from './helpers/service.js';
import { call } from './helpers/http.js';
import { head, rawRequest } from './helpers/raw-http.js';
import {
  connect, defaultMeta, jpeg, multipart, postBody, postFrame, seqOf, uniqueLabel, uploadParts,
  type Client, type FormPart, type UploadFields,
} from './helpers/frames.js';

const MAX = 64 * 1024;
const DELIM = Buffer.from('--IMG--');
const FILE = `hostile-${process.pid}-`;

interface Ctx {
  svc: TestService;
  url: string;
  admin: string;
  mm: string;
  user: string;
  guest: string;
  refresh: string;
  /** The model manager's (and user's, and guest's) own site, with one camera `cam`. */
  own: string;
}

/** Where a case may try to store a frame: nothing may be there afterwards. */
interface Target {
  label: string;
  key: string;
}

type Observed = { status: number; body: any; continued?: boolean; closedByServer?: boolean } | { texts: any[]; closed: { code: number; reason: string } | null };

type Expected =
  | { http: number; code: string; problems?: number; continued?: false; closes?: true }
  | { reply: Record<string, unknown> }
  | { close: number }
  | { silent: true };

interface Case {
  name: string;
  run(ctx: Ctx, t: Target): Promise<Observed>;
  expect: Expected;
}

const fields = (t: Target, over: UploadFields = {}): UploadFields => ({ label: t.label, key: t.key, ...defaultMeta, ...over });
const post = (ctx: Ctx, parts: FormPart[], token = ctx.admin) => {
  const m = multipart(parts);
  return postBody(ctx.url, token, m.body, m.contentType);
};
const without = (t: Target, name: keyof UploadFields) => uploadParts({ ...fields(t), [name]: undefined });
const utf8Bad = (bytes: number[]) => Buffer.concat([Buffer.from('x'), Buffer.from(bytes), Buffer.from('y')]);

/** Sends socket messages, waits for `replies` text replies or a close, and proves the socket still answers pings. */
async function exchange(c: Client, messages: Array<string | Buffer>, replies: number): Promise<Observed> {
  for (const m of messages) c.send(m);
  if (replies > 0) await c.until(() => c.texts.length >= replies || c.closed !== null, 5000, 'replies');
  else await c.until(() => c.closed !== null, 500).catch(() => {}); // a close, or nothing, may come back
  if (c.closed === null) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('socket stopped answering pings')), 3000);
      c.ws.once('pong', () => { clearTimeout(t); resolve(); });
      c.ws.ping();
    });
  }
  const seen = { texts: [...c.texts], closed: c.closed };
  c.close();
  return seen;
}

const producer = async (ctx: Ctx, messages: Array<string | Buffer>, token = ctx.admin) =>
  exchange(await connect(ctx.url, '/ws/frames', token, 'header'), messages, messages.length);
const header = (t: Target, over: Record<string, unknown> = {}) => ({ ...fields(t), ...over });

// ------------------------------------------------------------------ POST /frames

const DUPLICABLE = ['label', 'key', 'warnings_json', 'cone_polygons_json', 'pole_polygons_json', 'detection_items_json', 'width', 'height', 'file'] as const;

const frameCases: Case[] = [
  { name: 'no label', run: (c, t) => post(c, without(t, 'label')), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'no key', run: (c, t) => post(c, without(t, 'key')), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'no warnings_json', run: (c, t) => post(c, without(t, 'warnings_json')), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'no file', run: (c, t) => post(c, uploadParts(fields(t), null)), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'an empty form', run: (c) => post(c, []), expect: { http: 422, code: 'VALIDATION', problems: 6 } },
  {
    name: 'every field wrong at once',
    run: (c, t) => post(c, uploadParts({ label: '', key: 'a\u0001b', warnings_json: '{', cone_polygons_json: '[', pole_polygons_json: 'x', width: 'w', height: '-1' }, Buffer.from('GIF89a'))),
    expect: { http: 422, code: 'VALIDATION', problems: 8 },
  },
  ...DUPLICABLE.map((name): Case => ({
    name: `a duplicated ${name}`,
    run: (c, t) => {
      const parts = uploadParts(fields(t));
      parts.push(name === 'file' ? { name, filename: 'b.jpg', value: jpeg(2) } : { name, value: name === 'label' ? c.own : '0' });
      return post(c, parts, c.mm);
    },
    expect: { http: 422, code: 'VALIDATION' },
  })),
  {
    name: 'its own site as label, then another (a model manager)',
    run: (c, t) => post(c, [{ name: 'label', value: c.own }, { name: 'label', value: t.label }, ...uploadParts({ ...fields(t), label: undefined })], c.mm),
    expect: { http: 422, code: 'VALIDATION' },
  },
  { name: 'a width that is a word', run: (c, t) => post(c, uploadParts(fields(t, { width: 'wide' }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a negative height', run: (c, t) => post(c, uploadParts(fields(t, { height: '-3' }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a fractional width', run: (c, t) => post(c, uploadParts(fields(t, { width: '1.5' }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a height in exponent notation', run: (c, t) => post(c, uploadParts(fields(t, { height: '1e3' }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'warnings_json that is not JSON', run: (c, t) => post(c, uploadParts(fields(t, { warnings_json: '{oops' }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'unclosed nesting in detection_items_json', run: (c, t) => post(c, uploadParts(fields(t, { detection_items_json: '['.repeat(20_000) }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a 1 MB warnings_json', run: (c, t) => post(c, uploadParts(fields(t, { warnings_json: JSON.stringify(['x'.repeat(1024 * 1024)]) }))), expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' } },
  { name: 'a 100 KB cone_polygons_json', run: (c, t) => post(c, uploadParts(fields(t, { cone_polygons_json: JSON.stringify(Array(20_000).fill([1, 2])) }))), expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' } },
  { name: 'a 2 MB cone_polygons_json', run: (c, t) => post(c, uploadParts(fields(t, { cone_polygons_json: JSON.stringify(Array(400_000).fill([1, 2])) }))), expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' } },
  { name: 'a file one byte over the limit', run: (c, t) => postFrame(c.url, c.admin, fields(t), jpeg(1, MAX + 1)), expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' } },
  { name: 'a 2 MB body (fetch, no Expect)', run: (c, t) => postFrame(c.url, c.admin, fields(t), jpeg(1, 2 * 1024 * 1024)), expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' } },
  {
    name: 'a 64 MB body written whole before reading',
    run: (c) => rawRequest(c.url, head('POST', '/frames', { authorization: `Bearer ${c.admin}`, 'content-type': 'multipart/form-data; boundary=b', 'content-length': 64 * 1024 * 1024 }), { thenBody: 64 * 1024 * 1024, timeoutMs: 15_000 }),
    expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  {
    name: 'a 64 MB body announced with Expect: 100-continue',
    run: (c) => rawRequest(c.url, head('POST', '/frames', { authorization: `Bearer ${c.admin}`, expect: '100-continue', 'content-type': 'multipart/form-data; boundary=b', 'content-length': 64 * 1024 * 1024 })),
    expect: { http: 413, code: 'PAYLOAD_TOO_LARGE', continued: false },
  },
  {
    name: 'a bad token with Expect: 100-continue',
    run: (c) => rawRequest(c.url, head('POST', '/frames', { authorization: 'Bearer nope', expect: '100-continue', 'content-type': 'multipart/form-data; boundary=b', 'content-length': 5000 })),
    expect: { http: 401, code: 'INVALID_TOKEN', continued: false },
  },
  { name: 'a file that is not an image', run: (c, t) => postFrame(c.url, c.admin, fields(t), Buffer.from('just some text')), expect: { http: 415, code: 'NOT_AN_IMAGE' } },
  { name: 'a GIF', run: (c, t) => postFrame(c.url, c.admin, fields(t), Buffer.from('GIF89a\x01\x00\x01\x00')), expect: { http: 415, code: 'NOT_AN_IMAGE' } },
  { name: 'an empty file', run: (c, t) => postFrame(c.url, c.admin, fields(t), Buffer.alloc(0)), expect: { http: 422, code: 'VALIDATION' } },
  ...['..', '../x', 'a/b', '%2F', `/../`].map((label): Case => ({
    name: `label ${JSON.stringify(label)} from a model manager`,
    run: (c, t) => post(c, uploadParts(fields({ ...t, label: label === 'a/b' ? `${c.own}/b` : label })), c.mm),
    expect: { http: 403, code: 'SITE_FORBIDDEN' },
  })),
  { name: 'a NUL in the label', run: (c, t) => post(c, uploadParts(fields(t, { label: `${t.label}\u0000` }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a NUL in the key', run: (c, t) => post(c, uploadParts(fields(t, { key: `cam\u0000${t.key}` }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a 10,000-character label', run: (c, t) => post(c, uploadParts(fields(t, { label: t.label + 'x'.repeat(10_000) }))), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a 10,000-character key', run: (c, t) => post(c, uploadParts(fields(t, { key: t.key + 'k'.repeat(10_000) }))), expect: { http: 422, code: 'VALIDATION' } },
  ...(
    [
      ['label', [0xff, 0xfe]],
      ['key', [0xc0, 0xaf]],
      ['warnings_json', [0xed, 0xa0, 0x80]],
      ['detection_items_json', [0xe2, 0x82]],
    ] as const
  ).map(([name, bytes]): Case => ({
    name: `invalid UTF-8 in ${name}`,
    run: (c, t) => post(c, [...without(t, name), { name, value: name.endsWith('_json') ? Buffer.concat([Buffer.from('"'), utf8Bad([...bytes]), Buffer.from('"')]) : utf8Bad([...bytes]) }]),
    expect: { http: 422, code: 'VALIDATION' },
  })),
  { name: 'a body without its boundary', run: (c) => postBody(c.url, c.admin, 'label=a&key=b', 'multipart/form-data; boundary=nothere'), expect: { http: 400, code: 'BAD_REQUEST' } },
  {
    name: 'a truncated body',
    run: (c, t) => {
      const m = multipart(uploadParts(fields(t)));
      return postBody(c.url, c.admin, m.body.subarray(0, m.body.length - 40), m.contentType);
    },
    expect: { http: 400, code: 'BAD_REQUEST' },
  },
  { name: 'garbage after a boundary', run: (c) => postBody(c.url, c.admin, '--b\r\nContent-Disposition: form-data; name="label"\r\n\r\nx\r\n--bXYZ', 'multipart/form-data; boundary=b'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'no boundary in the content type', run: (c, t) => postBody(c.url, c.admin, multipart(uploadParts(fields(t))).body, 'multipart/form-data'), expect: { http: 415, code: 'UNSUPPORTED_MEDIA_TYPE' } },
  {
    name: 'five thousand parts',
    run: (c, t) => post(c, [...uploadParts(fields(t)), ...Array.from({ length: 5000 }, (_, i) => ({ name: `extra${i}`, value: 'x' }))]),
    expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  { name: 'a 100 KB part header', run: (c, t) => post(c, [...uploadParts(fields(t)), { name: 'x', value: 'y', headers: [`X-Pad: ${'p'.repeat(100 * 1024)}`] }]), expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' } },
  { name: 'a 100 KB filename', run: (c, t) => post(c, [...uploadParts(fields(t), null), { name: 'file', filename: 'f'.repeat(100 * 1024), value: jpeg(1) }]), expect: { http: 413, code: 'PAYLOAD_TOO_LARGE' } },
  { name: 'the file sent as a text field', run: (c, t) => post(c, [...uploadParts(fields(t), null), { name: 'file', value: jpeg(1) }]), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'the label sent as a file', run: (c, t) => post(c, [...without(t, 'label'), { name: 'label', filename: 'l.txt', value: t.label }]), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a JSON body', run: (c, t) => postBody(c.url, c.admin, JSON.stringify(fields(t)), 'application/json'), expect: { http: 415, code: 'UNSUPPORTED_MEDIA_TYPE' } },
  { name: 'a urlencoded body', run: (c, t) => postBody(c.url, c.admin, new URLSearchParams(fields(t) as Record<string, string>).toString(), 'application/x-www-form-urlencoded'), expect: { http: 415, code: 'UNSUPPORTED_MEDIA_TYPE' } },
  { name: 'a user uploading to a site it watches', run: (c, t) => post(c, uploadParts(fields({ ...t, label: c.own })), c.user), expect: { http: 403, code: 'UPLOAD_FORBIDDEN' } },
  { name: 'a guest uploading to a site it watches', run: (c, t) => post(c, uploadParts(fields({ ...t, label: c.own })), c.guest), expect: { http: 403, code: 'UPLOAD_FORBIDDEN' } },
  { name: 'a model manager uploading to another site', run: (c, t) => post(c, uploadParts(fields(t)), c.mm), expect: { http: 403, code: 'SITE_FORBIDDEN' } },
  { name: 'no token', run: (c, t) => postFrame(c.url, null, fields(t), jpeg(1)), expect: { http: 401, code: 'MISSING_TOKEN' } },
  { name: 'a refresh token as the access token', run: (c, t) => postFrame(c.url, c.refresh, fields(t), jpeg(1)), expect: { http: 401, code: 'INVALID_TOKEN' } },
  { name: 'the wrong method (PUT)', run: (c) => call(c.url, 'PUT', '/frames', { token: c.admin, body: {} }), expect: { http: 404, code: 'NOT_FOUND' } },
];

// ------------------------------------------------------------------ WS /ws/frames

const msg = (h: unknown, image = jpeg(1)) => Buffer.concat([Buffer.from(typeof h === 'string' ? h : JSON.stringify(h)), DELIM, image]);

const producerCases: Case[] = [
  { name: 'a text message', run: (c, t) => producer(c, [JSON.stringify(header(t))]), expect: { reply: { status: 'error', code: 'BAD_REQUEST' } } },
  { name: 'no --IMG-- delimiter', run: (c, t) => producer(c, [Buffer.concat([Buffer.from(JSON.stringify(header(t))), jpeg(1)])]), expect: { reply: { status: 'error', code: 'BAD_REQUEST' } } },
  { name: 'a header that is not JSON', run: (c) => producer(c, [msg('{label: x')]), expect: { reply: { status: 'error', code: 'BAD_REQUEST' } } },
  { name: 'a header that is a JSON array', run: (c, t) => producer(c, [msg([t.label, t.key])]), expect: { reply: { status: 'error', code: 'BAD_REQUEST' } } },
  {
    name: 'a header with invalid UTF-8 bytes',
    run: (c, t) => producer(c, [Buffer.concat([Buffer.from(`{"label":"${t.label}","key":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}'), DELIM, jpeg(1)])]),
    expect: { reply: { status: 'error', code: 'BAD_REQUEST', message: 'header is not valid UTF-8' } },
  },
  { name: 'an empty header object', run: (c) => producer(c, [msg({})]), expect: { reply: { status: 'error', code: 'VALIDATION' } } },
  { name: 'deeply nested JSON', run: (c) => producer(c, [msg('['.repeat(50_000) + ']'.repeat(50_000))]), expect: { reply: { status: 'error', code: 'BAD_REQUEST' } } },
  {
    name: 'prototype-pollution keys',
    run: (c, t) => producer(c, [msg(`{"__proto__":{"label":"${t.label}","key":"${t.key}"},"constructor":{"prototype":{"label":"x"}},"warnings_json":"","cone_polygons_json":"[]","pole_polygons_json":"[]"}`)]),
    expect: { reply: { status: 'error', code: 'VALIDATION' } },
  },
  { name: 'metadata as JSON values instead of strings', run: (c, t) => producer(c, [msg(header(t, { warnings_json: { a: 1 }, cone_polygons_json: [[1, 2]] }))]), expect: { reply: { status: 'error', code: 'VALIDATION' } } },
  { name: 'a 100 KB warnings_json', run: (c, t) => producer(c, [msg(header(t, { warnings_json: JSON.stringify('w'.repeat(100 * 1024)) }))]), expect: { reply: { status: 'error', code: 'PAYLOAD_TOO_LARGE' } } },
  { name: 'bytes that are not an image', run: (c, t) => producer(c, [msg(header(t), Buffer.from('not an image'))]), expect: { reply: { status: 'error', code: 'NOT_AN_IMAGE' } } },
  { name: 'an empty message', run: (c) => producer(c, [Buffer.alloc(0)]), expect: { reply: { status: 'error', code: 'BAD_REQUEST' } } },
  { name: 'a 10,000-character key', run: (c, t) => producer(c, [msg(header(t, { key: 'k'.repeat(10_000) }))]), expect: { reply: { status: 'error', code: 'VALIDATION' } } },
  { name: 'label ".." from a model manager', run: (c, t) => producer(c, [msg(header(t, { label: '..' }))], c.mm), expect: { reply: { status: 'error', code: 'SITE_FORBIDDEN' } } },
  { name: 'a user, to a site it watches', run: (c, t) => producer(c, [msg(header({ ...t, label: c.own }))], c.user), expect: { reply: { status: 'error', code: 'UPLOAD_FORBIDDEN' } } },
  { name: 'a message over the size limit', run: (c, t) => producer(c, [msg(header(t), jpeg(1, 2 * 1024 * 1024))]), expect: { close: 1009 } },
];

// ------------------------------------------------------------------ viewer sockets

const pullSocket = async (c: Ctx, messages: Array<string | Buffer>, replies = messages.length) =>
  exchange(await connect(c.url, `/ws/stream/${encodeURIComponent(c.own)}/cam`, c.user, 'header'), messages, replies);
const pushSocket = async (c: Ctx, messages: Array<string | Buffer>) => {
  const client = await connect(c.url, `/ws/labels/${encodeURIComponent(c.own)}`, c.user);
  await client.until(() => client.frames.length === 1);
  return exchange(client, messages, 0);
};

const viewerCases: Case[] = [
  { name: 'pull: an unknown action', run: (c) => pullSocket(c, ['{"action":"delete"}']), expect: { reply: { error: 'unknown action' } } },
  { name: 'pull: text that is not JSON', run: (c) => pullSocket(c, ['pull please']), expect: { reply: { error: 'Invalid JSON format' } } },
  { name: 'pull: an empty text message', run: (c) => pullSocket(c, ['']), expect: { reply: { error: 'Invalid JSON format' } } },
  { name: 'pull: binary where text is expected', run: (c) => pullSocket(c, [Buffer.from('{"action":"ping"}')]), expect: { reply: { error: 'unknown action' } } },
  { name: 'pull: JSON that is not an object', run: (c) => pullSocket(c, ['"pull"']), expect: { reply: { error: 'unknown action' } } },
  { name: 'pull: deeply nested JSON', run: (c) => pullSocket(c, ['['.repeat(20_000) + ']'.repeat(20_000)]), expect: { reply: { error: 'unknown action' } } },
  { name: 'pull: the action hidden in __proto__', run: (c) => pullSocket(c, ['{"__proto__":{"action":"pull"}}']), expect: { reply: { error: 'unknown action' } } },
  { name: 'pull: a 100 KB command', run: (c) => pullSocket(c, [JSON.stringify({ action: 'x'.repeat(100 * 1024) })]), expect: { close: 1009 } },
  { name: 'push: text garbage (ignored)', run: (c) => pushSocket(c, ['\u0000\u0001 not a command']), expect: { silent: true } },
  { name: 'push: a 100 KB message', run: (c) => pushSocket(c, [Buffer.alloc(100 * 1024, 1)]), expect: { close: 1009 } },
  { name: 'push: a message over the socket limit', run: (c) => pushSocket(c, [Buffer.alloc(2 * 1024 * 1024, 1)]), expect: { close: 1009 } },
];

// ------------------------------------------------------------------ accounts and management API

const raw = async (c: Ctx, method: string, route: string, body: string, type = 'application/json', token?: string) => {
  const res = await fetch(c.url + route, { method, headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const nested = (depth: number) => `{"username":${'['.repeat(depth)}${']'.repeat(depth)},"password":"pw-12345678"}`;

const accountCases: Case[] = [
  { name: 'login without a password', run: (c) => call(c.url, 'POST', '/login', { body: { username: 'x' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'login with a number as username', run: (c) => call(c.url, 'POST', '/login', { body: { username: 123, password: 'pw-12345678' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'login with every field wrong', run: (c) => call(c.url, 'POST', '/login', { body: { username: '', password: 7 } }), expect: { http: 422, code: 'VALIDATION', problems: 2 } },
  { name: 'login with a 10,000-character username', run: (c) => call(c.url, 'POST', '/login', { body: { username: 'u'.repeat(10_000), password: 'pw-12345678' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'login with a body that is not JSON', run: (c) => raw(c, 'POST', '/login', '{"username": "a",'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'login with an empty JSON body', run: (c) => raw(c, 'POST', '/login', ''), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'login with __proto__', run: (c) => raw(c, 'POST', '/login', '{"username":"a","password":"pw-12345678","__proto__":{"role":"admin"}}'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'login with constructor.prototype', run: (c) => raw(c, 'POST', '/login', '{"username":"a","password":"pw-12345678","constructor":{"prototype":{"role":"admin"}}}'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'login with deeply nested JSON', run: (c) => raw(c, 'POST', '/login', nested(50_000)), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'login as text/plain', run: (c) => raw(c, 'POST', '/login', 'username=a', 'text/plain'), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'login as XML', run: (c) => raw(c, 'POST', '/login', '<login/>', 'application/xml'), expect: { http: 415, code: 'UNSUPPORTED_MEDIA_TYPE' } },
  { name: 'refresh with an access token', run: (c) => call(c.url, 'POST', '/refresh', { body: { refresh_token: c.user } }), expect: { http: 401, code: 'INVALID_TOKEN' } },
  { name: 'refresh with a number', run: (c) => call(c.url, 'POST', '/refresh', { body: { refresh_token: 12 } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a password change that also sets role', run: (c) => call(c.url, 'PUT', '/me/password', { token: c.user, body: { old_password: 'x', new_password: 'new-password-1', role: 'admin' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'GET /me with the token in the query only', run: (c) => call(c.url, 'GET', `/me?token=${c.user}`), expect: { http: 401, code: 'MISSING_TOKEN' } },
  { name: 'the wrong method (PUT /login)', run: (c) => call(c.url, 'PUT', '/login', { body: {} }), expect: { http: 404, code: 'NOT_FOUND' } },
  { name: 'the wrong method (DELETE /labels)', run: (c) => call(c.url, 'DELETE', '/labels', { token: c.admin }), expect: { http: 404, code: 'NOT_FOUND' } },
];

const managementCases: Case[] = [
  ...['abc', '0', '-1', '1.5', '1e3', '%00', '1%2F2', '9'.repeat(30)].map((id): Case => ({
    name: `user id ${JSON.stringify(id)}`,
    run: (c) => call(c.url, 'GET', `/users/${id}`, { token: c.admin }),
    expect: { http: 422, code: 'VALIDATION' },
  })),
  { name: 'a user id that does not exist', run: (c) => call(c.url, 'GET', '/users/99999999', { token: c.admin }), expect: { http: 404, code: 'NOT_FOUND' } },
  { name: 'PATCH /sites/abc', run: (c) => call(c.url, 'PATCH', '/sites/abc', { token: c.admin, body: { name: 'x' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'DELETE /sites/0', run: (c) => call(c.url, 'DELETE', '/sites/0', { token: c.admin }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'DELETE a site that does not exist', run: (c) => call(c.url, 'DELETE', '/sites/99999999', { token: c.admin }), expect: { http: 404, code: 'NOT_FOUND' } },
  { name: 'a model manager creating an admin', run: (c) => call(c.url, 'POST', '/users', { token: c.mm, body: { username: `${FILE}boss`, password: 'password-123', role: 'admin' } }), expect: { http: 403, code: 'FORBIDDEN' } },
  {
    name: 'a user making itself admin',
    run: async (c) => call(c.url, 'PATCH', `/users/${(await call(c.url, 'GET', '/me', { token: c.user })).body.id}`, { token: c.user, body: { role: 'admin' } }),
    expect: { http: 403, code: 'FORBIDDEN' },
  },
  { name: 'a user created with an id', run: (c) => call(c.url, 'POST', '/users', { token: c.admin, body: { id: 1, username: `${FILE}withid`, password: 'password-123', role: 'user' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a user created with an unknown role', run: (c) => call(c.url, 'POST', '/users', { token: c.admin, body: { username: `${FILE}super`, password: 'password-123', role: 'superuser' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a user created with sites that are not a list', run: (c) => call(c.url, 'POST', '/users', { token: c.admin, body: { username: `${FILE}s`, password: 'password-123', role: 'user', sites: 'north' } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a user created with a NUL in a site', run: (c) => call(c.url, 'POST', '/users', { token: c.admin, body: { username: `${FILE}n`, password: 'password-123', role: 'user', sites: ['a\u0000b'] } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'a user created with everything wrong', run: (c) => call(c.url, 'POST', '/users', { token: c.admin, body: { username: '!', password: 'x', role: 'boss', sites: [1, 2], id: 3 } }), expect: { http: 422, code: 'VALIDATION', problems: 5 } },
  {
    name: 'a patch setting id and created_at',
    run: async (c) => call(c.url, 'PATCH', `/users/${(await call(c.url, 'GET', '/me', { token: c.user })).body.id}`, { token: c.admin, body: { id: 1, created_at: '2020-01-01T00:00:00Z' } }),
    expect: { http: 422, code: 'VALIDATION' },
  },
  { name: 'a site with a 10,000-character name', run: (c) => call(c.url, 'POST', '/sites', { token: c.admin, body: { name: 's'.repeat(10_000) } }), expect: { http: 422, code: 'VALIDATION' } },
  { name: 'DELETE /users without an id', run: (c) => call(c.url, 'DELETE', '/users', { token: c.admin }), expect: { http: 404, code: 'NOT_FOUND' } },
];

// ------------------------------------------------------------------ HTTP below the routes

const upgrade = (path: string, extra: Record<string, string> = {}) =>
  head('GET', path, { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...extra });

const protocolCases: Case[] = [
  { name: 'headers over 16 KB', run: (c) => rawRequest(c.url, head('GET', '/healthz', { 'x-pad': 'p'.repeat(20_000) })), expect: { http: 431, code: 'HEADER_TOO_LARGE' } },
  { name: 'a 100 KB token', run: (c) => rawRequest(c.url, head('GET', '/me', { authorization: `Bearer ${'t'.repeat(100 * 1024)}` })), expect: { http: 431, code: 'HEADER_TOO_LARGE' } },
  { name: 'a 100 KB token in a socket query', run: (c) => rawRequest(c.url, upgrade(`/ws/labels/${c.own}?token=${'t'.repeat(100 * 1024)}`), { awaitClose: true }), expect: { closes: true, http: 431, code: 'HEADER_TOO_LARGE' } },
  { name: 'an unknown method', run: (c) => rawRequest(c.url, 'FETCH /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'Content-Length with Transfer-Encoding', run: (c) => rawRequest(c.url, head('POST', '/login', { 'content-type': 'application/json', 'content-length': 5, 'transfer-encoding': 'chunked' }) + '0\r\n\r\n'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'two different Content-Lengths', run: (c) => rawRequest(c.url, 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'a bad chunk size', run: (c) => rawRequest(c.url, head('POST', '/login', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }) + 'zz\r\n{}\r\n0\r\n\r\n'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'no Host header', run: (c) => rawRequest(c.url, 'GET /healthz HTTP/1.1\r\n\r\n'), expect: { http: 400, code: 'BAD_REQUEST' } },
  { name: 'a bad percent-encoding in a socket path', run: (c) => rawRequest(c.url, upgrade('/ws/labels/%E0%A4%A'), { awaitClose: true }), expect: { closes: true, http: 400, code: 'BAD_REQUEST' } },
  { name: 'a 10,000-character label in a socket path', run: (c) => rawRequest(c.url, upgrade(`/ws/labels/${'l'.repeat(10_000)}`), { awaitClose: true }), expect: { closes: true, http: 414, code: 'URI_TOO_LONG' } },
  { name: 'a socket upgrade with a bad key', run: (c) => rawRequest(c.url, upgrade(`/ws/labels/${c.own}`, { 'sec-websocket-key': 'short' }), { awaitClose: true }), expect: { closes: true, http: 400, code: 'BAD_REQUEST' } },
  { name: 'a socket upgrade of a path that does not exist', run: (c) => rawRequest(c.url, upgrade('/ws/nothing/here'), { awaitClose: true }), expect: { closes: true, http: 404, code: 'NOT_FOUND' } },
  { name: 'a socket upgrade of an unknown version', run: (c) => rawRequest(c.url, upgrade(`/ws/labels/${c.own}`, { 'sec-websocket-version': '7' }), { awaitClose: true }), expect: { closes: true, http: 400, code: 'BAD_REQUEST' } },
];

const GROUPS: Array<[string, Case[]]> = [
  ['POST /frames', frameCases],
  ['WS /ws/frames', producerCases],
  ['viewer sockets', viewerCases],
  ['accounts API', accountCases],
  ['management API', managementCases],
  ['HTTP protocol', protocolCases],
];

function check(seen: Observed, want: Expected): void {
  if ('http' in want) {
    expect('status' in seen, JSON.stringify(seen)).toBe(true);
    const r = seen as { status: number; body: any; continued?: boolean; closedByServer?: boolean };
    expect(r.status, JSON.stringify(r.body)).toBe(want.http);
    expect(r.body).toMatchObject({ code: want.code, detail: expect.any(String) });
    expect(Object.keys(r.body).every((k) => ['detail', 'code', 'errors'].includes(k)), JSON.stringify(r.body)).toBe(true);
    if (want.problems) expect(r.body.errors?.length ?? 0, JSON.stringify(r.body)).toBeGreaterThanOrEqual(want.problems);
    if (want.continued === false) expect(r.continued).toBe(false);
    expect((r as { error?: string | null }).error ?? null, 'the client read the reply without a reset').toBeNull();
    if (want.closes) expect(r.closedByServer, 'the server closes a refused upgrade').toBe(true);
    return;
  }
  const s = seen as { texts: any[]; closed: { code: number } | null };
  if ('close' in want) {
    expect(s.closed?.code, JSON.stringify(s)).toBe(want.close);
  } else if ('reply' in want) {
    expect(s.closed, JSON.stringify(s)).toBeNull();
    expect(s.texts).toHaveLength(1);
    expect(s.texts[0]).toMatchObject(want.reply);
    if (want.reply.status === 'error') expect(s.texts[0].message).toEqual(expect.any(String));
  } else {
    expect(s.closed).toBeNull();
    expect(s.texts).toEqual([]);
  }
}

describe.each(STORES)('hostile input, %s store', (store) => {
  let ctx: Ctx;
  const accounts = async () => {
    const users = (await call(ctx.url, 'GET', '/users', { token: ctx.admin })).body.users.map((u: any) => `${u.id}:${u.username}:${u.role}:${u.is_active}:${u.sites}`);
    const sites = (await call(ctx.url, 'GET', '/sites', { token: ctx.admin })).body.sites.map((s: any) => `${s.id}:${s.name}`);
    return { users, sites };
  };
  const ourLabels = async () => (await ctx.svc.store.labels()).filter((l) => l.includes(FILE));

  beforeAll(async () => {
    const svc = await startService({ store, env: { MAX_FRAME_BYTES: String(MAX), PULL_IDLE_TIMEOUT_MS: '0' } });
    const own = `${FILE}own-${Math.random().toString(36).slice(2, 8)}`;
    const admin = await svc.token('admin');
    ctx = {
      svc,
      url: svc.url,
      admin,
      mm: await svc.token('producer', 'model_manager', [own]),
      user: await svc.token('viewer', 'user', [own]),
      guest: await svc.token('screen', 'guest', [own]),
      refresh: (await svc.accounts.issueTokens('viewer')).refresh_token,
      own,
    };
    expect((await postFrame(svc.url, admin, { label: own, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
  });
  afterAll(async () => ctx?.svc.stop());

  for (const [group, cases] of GROUPS) {
    describe(group, () => {
      it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
        const t: Target = { label: `${FILE}${Math.random().toString(36).slice(2, 10)}`, key: `cam-${Math.random().toString(36).slice(2, 8)}` };
        const before = await accounts();
        const labelsBefore = await ourLabels();
        check(await c.run(ctx, t), c.expect);
        // Nothing stored: no frame under the target (or the own site), no new label, no account change.
        expect(await ctx.svc.store.latest(t.label, t.key)).toBeNull();
        expect(await ctx.svc.store.latest(ctx.own, t.key)).toBeNull();
        expect(seqOf((await ctx.svc.store.latest(ctx.own, 'cam'))!.frame).seq).toBe(1);
        expect(await ourLabels()).toEqual(labelsBefore);
        expect(await accounts()).toEqual(before);
      });

      it('leaves the server healthy: /healthz, /readyz, and a good upload reaches a viewer', async () => {
        expect((await call(ctx.url, 'GET', '/healthz')).status).toBe(200);
        expect((await call(ctx.url, 'GET', '/readyz')).status).toBe(200);
        const label = uniqueLabel('alive');
        const viewer = await postFrame(ctx.url, ctx.admin, { label, key: 'cam', ...defaultMeta }, jpeg(7));
        expect(viewer.status).toBe(200);
        const c = await connect(ctx.url, `/ws/labels/${label}`, ctx.admin);
        await c.until(() => c.frames.length === 1);
        expect(seqOf(c.frames[0]!.image).seq).toBe(7);
        c.close();
      });
    });
  }

  it(`has at least 60 cases (${GROUPS.reduce((n, [, c]) => n + c.length, 0)})`, () => {
    expect(GROUPS.reduce((n, [, c]) => n + c.length, 0)).toBeGreaterThanOrEqual(60);
  });
});
