// Token attacks, refused on HTTP and on every socket (token in the header and in the query): forged
// algorithms, wrong keys, bad times, ended sessions, gone users, mixed claims, a refresh token, a
// 100 KB token. Tokens sent in query strings never reach the logs.
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_REDIS, SECRET, SQLITE, startService, type TestService } from '../helpers/service.js';
import { call, payloadOf } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, postFrame, uniqueLabel } from '../helpers/frames.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();

type Signer = (data: string) => string;
const hmac = (alg: 'sha256' | 'sha512', key: string): Signer => (data) => createHmac(alg, key).update(data).digest('base64url');

function forge(alg: string, payload: Record<string, unknown>, signer: Signer | null): string {
  const data = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  return `${data}.${signer ? signer(data) : ''}`;
}

const now = () => Math.floor(Date.now() / 1000);

interface Ctx {
  svc: TestService;
  site: string;
  /** A model manager of `site` with a live session: its access token and that token's payload. */
  fresh(): Promise<{ token: string; payload: any; id: number; username: string }>;
}

interface Attack {
  name: string;
  token(ctx: Ctx): Promise<string>;
  /** HTTP code, or 'HEADER_TOO_LARGE' for a token the HTTP parser refuses. */
  code: 'INVALID_TOKEN' | 'TOKEN_EXPIRED' | 'TOKEN_NOT_ACTIVE' | 'HEADER_TOO_LARGE';
}

const withPayload = (over: (p: any) => Record<string, unknown>, alg = 'HS256', signer: Signer = hmac('sha256', SECRET)) =>
  async (ctx: Ctx) => forge(alg, over((await ctx.fresh()).payload), signer);

const ATTACKS: Attack[] = [
  { name: 'alg: none', token: async (ctx) => forge('none', (await ctx.fresh()).payload, null), code: 'INVALID_TOKEN' },
  { name: 'alg: none with the HS256 signature kept', token: async (ctx) => { const { token } = await ctx.fresh(); const [, p, s] = token.split('.'); return `${b64({ alg: 'none', typ: 'JWT' })}.${p}.${s}`; }, code: 'INVALID_TOKEN' },
  { name: 'RS256 signed with a private key', token: withPayload((p) => p, 'RS256', (d) => sign('sha256', Buffer.from(d), privateKey).toString('base64url')), code: 'INVALID_TOKEN' },
  { name: 'HS256 keyed with an RSA public key (algorithm confusion)', token: withPayload((p) => p, 'HS256', hmac('sha256', PUBLIC_PEM)), code: 'INVALID_TOKEN' },
  { name: 'HS256 with another secret', token: withPayload((p) => p, 'HS256', hmac('sha256', 'another-secret-0123456789abcdef')), code: 'INVALID_TOKEN' },
  { name: 'HS512 with the right secret', token: withPayload((p) => p, 'HS512', hmac('sha512', SECRET)), code: 'INVALID_TOKEN' },
  { name: 'a tampered payload (role added)', token: async (ctx) => { const { token, payload } = await ctx.fresh(); const [h, , s] = token.split('.'); return `${h}.${b64({ ...payload, role: 'admin' })}.${s}`; }, code: 'INVALID_TOKEN' },
  { name: 'a truncated signature', token: async (ctx) => (await ctx.fresh()).token.slice(0, -6), code: 'INVALID_TOKEN' },
  { name: 'not a JWT at all', token: async () => 'not-a-jwt', code: 'INVALID_TOKEN' },
  { name: 'expired', token: withPayload((p) => ({ ...p, iat: now() - 7200, exp: now() - 3600 })), code: 'TOKEN_EXPIRED' },
  { name: 'not valid yet (nbf)', token: withPayload((p) => ({ ...p, nbf: now() + 3600 })), code: 'TOKEN_NOT_ACTIVE' },
  { name: 'issued in the future', token: withPayload((p) => ({ ...p, iat: now() + 3600, exp: now() + 7200 })), code: 'TOKEN_NOT_ACTIVE' },
  { name: 'without exp', token: withPayload(({ exp: _exp, ...p }) => p), code: 'INVALID_TOKEN' },
  { name: 'without a type claim (old tokens)', token: withPayload(({ type: _type, ...p }) => p), code: 'INVALID_TOKEN' },
  { name: 'a refresh token as an access token', token: async (ctx) => (await ctx.svc.accounts.issueTokens((await ctx.fresh()).username)).refresh_token, code: 'INVALID_TOKEN' },
  { name: "another user's name on this session", token: withPayload((p) => ({ ...p, subject: { ...p.subject, username: 'admin' } })), code: 'INVALID_TOKEN' },
  { name: 'an unknown session id', token: withPayload((p) => ({ ...p, subject: { ...p.subject, jti: '00000000-0000-4000-8000-000000000000' } })), code: 'TOKEN_NOT_ACTIVE' },
  {
    name: 'an ended session (logged out)',
    token: async (ctx) => {
      const { token } = await ctx.fresh();
      expect((await call(ctx.svc.url, 'POST', '/logout', { token })).status).toBe(200);
      return token;
    },
    code: 'TOKEN_NOT_ACTIVE',
  },
  {
    name: 'a deactivated user',
    token: async (ctx) => {
      const { token, id } = await ctx.fresh();
      await ctx.svc.accounts.users.updateUser(null, id, { is_active: false });
      return token;
    },
    code: 'TOKEN_NOT_ACTIVE',
  },
  {
    name: 'a deleted user',
    token: async (ctx) => {
      const { token, id } = await ctx.fresh();
      await ctx.svc.accounts.users.deleteUser(null, id);
      return token;
    },
    code: 'TOKEN_NOT_ACTIVE',
  },
  { name: 'a 100 KB token', token: async (ctx) => `${(await ctx.fresh()).token}${'A'.repeat(100 * 1024)}`, code: 'HEADER_TOO_LARGE' },
];

const CLOSE_REASON: Record<string, string> = {
  INVALID_TOKEN: 'Invalid token',
  TOKEN_EXPIRED: 'Invalid token',
  TOKEN_NOT_ACTIVE: 'Token not active',
};

/** Opens a socket with the token; resolves to how it was refused: a close (code, reason) or an HTTP status. */
async function socketVerdict(url: string, path: string, token: string, via: 'query' | 'header'): Promise<{ code?: number; reason?: string; status?: number }> {
  try {
    const c = await connect(url, path, token, via);
    return await c.waitClose(5000);
  } catch (err) {
    const m = /Unexpected server response: (\d+)/.exec(String(err));
    if (m) return { status: Number(m[1]) };
    throw err;
  }
}

describe.each([SQLITE, POSTGRES_REDIS])('token attacks ($name)', (backend) => {
  let ctx: Ctx;
  const lines: string[] = [];
  const used: string[] = [];
  let n = 0;

  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (d) => lines.push(String(d)));
    const svc = await startService({ backend, env: { LOG_LEVEL: 'debug' }, logStream: stream });
    const site = uniqueLabel('attacked');
    const admin = await svc.token('admin');
    expect((await postFrame(svc.url, admin, { label: site, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
    ctx = {
      svc,
      site,
      async fresh() {
        const username = `victim-${++n}`;
        const token = await svc.token(username, 'model_manager', [site]);
        const id = (await svc.accounts.users.listUsers()).find((u) => u.username === username)!.id;
        return { token, payload: payloadOf(token), id, username };
      },
    };
  });
  afterAll(async () => ctx?.svc.stop());

  it.each(ATTACKS.map((a) => [a.name, a] as const))('refuses %s everywhere', async (_name, attack) => {
    const token = await attack.token(ctx);
    used.push(token);
    const { url } = ctx.svc;
    const tooLarge = attack.code === 'HEADER_TOO_LARGE';
    const httpStatus = tooLarge ? 431 : 401;
    for (const [method, route] of [['GET', '/me'], ['GET', '/labels'], ['POST', '/logout']] as const) {
      const r = await call(url, method, route, { token });
      expect([route, r.status, r.body]).toEqual([route, httpStatus, { code: attack.code, detail: expect.any(String) }]);
    }
    const upload = await postFrame(url, token, { label: ctx.site, key: `cam-${n}`, ...defaultMeta }, jpeg(2));
    expect(upload.status).toBe(httpStatus);
    expect(upload.body.code).toBe(attack.code);
    expect(await ctx.svc.store.latest(ctx.site, `cam-${n}`)).toBeNull();

    for (const path of [`/ws/labels/${ctx.site}`, `/ws/stream/${ctx.site}/cam`, '/ws/frames']) {
      for (const via of ['header', 'query'] as const) {
        const v = await socketVerdict(url, path, token, via);
        if (tooLarge) expect([path, via, v]).toEqual([path, via, { status: 431 }]);
        else expect([path, via, v]).toEqual([path, via, { code: 1008, reason: CLOSE_REASON[attack.code] }]);
      }
    }
  });

  it('refuses a good token for another site: 403 for uploads, 1008 for viewers', async () => {
    const { token } = await ctx.fresh();
    const other = uniqueLabel('elsewhere');
    const r = await postFrame(ctx.svc.url, token, { label: other, key: 'cam', ...defaultMeta }, jpeg(3));
    expect(r.body).toMatchObject({ code: 'SITE_FORBIDDEN' });
    expect(r.status).toBe(403);
    for (const path of [`/ws/labels/${other}`, `/ws/stream/${other}/cam`]) {
      expect(await socketVerdict(ctx.svc.url, path, token, 'query')).toEqual({ code: 1008, reason: 'Not allowed to view this site' });
    }
    used.push(token);
  });

  it('never logs a token, whether refused or accepted, sent in a query string or a header', async () => {
    const { token } = await ctx.fresh();
    const c = await connect(ctx.svc.url, `/ws/labels/${ctx.site}`, token);
    await c.until(() => c.frames.length === 1);
    c.close();
    await fetch(`${ctx.svc.url}/labels?token=${token}&x=1`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${ctx.svc.url.replace('http', 'ws')}/ws/nothing?token=${token}`);
      ws.on('error', () => resolve());
      ws.on('close', () => resolve());
    });
    used.push(token);
    await new Promise((r) => setTimeout(r, 200));
    const log = lines.join('');
    expect(log).toContain('token=[redacted]');
    for (const t of used) {
      for (const part of [t, ...t.split('.').filter((p) => p.length > 20 && !/^A+$/.test(p))]) {
        // The payload part of forged tokens is a real token's payload: only whole tokens and signatures are secrets.
        if (part === t.split('.')[1]) continue;
        expect(log.includes(part), `a token part is in the log: ${part.slice(0, 20)}…`).toBe(false);
      }
    }
  });
});
