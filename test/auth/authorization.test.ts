// The authorization matrix of DESIGN.md §3, table-driven: every role (and no token) against every
// accounts endpoint, plus watching and uploading, asserted both ways (allowed: it happens; refused:
// 401/403 and nothing changed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../src/auth/principal.js';
import { Sandbox, POSTGRES, SQLITE, seedUsers, startService, type SeededUser, type TestService } from '../helpers/service.js';
import { call, type Reply } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, postFrame, uniqueLabel } from '../helpers/frames.js';

type Actor = Role | 'anonymous';
const ACTORS: Actor[] = [...ROLES, 'anonymous'];

interface Ctx {
  srv: TestService;
  url: string;
  admin: SeededUser;
  /** A fresh user with a session (for requests that change or end the caller's own session). */
  fresh(role: Role): Promise<SeededUser>;
  seq(): number;
}

interface Endpoint {
  name: string;
  /** Roles that may: everyone else gets 403 (and anonymous 401). */
  allowed: Role[];
  /** Uses a fresh caller per request instead of the shared one of that role. */
  freshCaller?: boolean;
  /** Sends the request as `token`; returns the reply and a check of the effect (true: it happened). */
  run(ctx: Ctx, token: string | null, caller: SeededUser | null): Promise<{ reply: Reply; happened: () => Promise<boolean> }>;
  okStatus: number;
}

const admin = (ctx: Ctx) => ctx.admin.access_token;
const userExists = async (ctx: Ctx, id: number) => (await call(ctx.url, 'GET', `/users/${id}`, { token: admin(ctx) })).status === 200;
const siteNames = async (ctx: Ctx) => ((await call(ctx.url, 'GET', '/sites', { token: admin(ctx) })).body.sites as Array<{ name: string }>).map((s) => s.name);
async function newSite(ctx: Ctx): Promise<{ id: number; name: string }> {
  return (await call(ctx.url, 'POST', '/sites', { token: admin(ctx), body: { name: `site-${ctx.seq()}` } })).body;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'GET /me',
    allowed: [...ROLES],
    okStatus: 200,
    async run(ctx, token, caller) {
      const reply = await call(ctx.url, 'GET', '/me', { token });
      return { reply, happened: async () => caller !== null && reply.body?.id === caller.id };
    },
  },
  {
    name: 'PUT /me/password',
    allowed: ['admin', 'model_manager', 'user'],
    freshCaller: true,
    okStatus: 200,
    async run(ctx, token, caller) {
      const reply = await call(ctx.url, 'PUT', '/me/password', { token, body: { old_password: caller?.password ?? 'whatever-1', new_password: 'changed-password-1' } });
      return {
        reply,
        happened: async () => caller !== null && (await call(ctx.url, 'POST', '/login', { body: { username: caller.username, password: 'changed-password-1' } })).status === 200,
      };
    },
  },
  {
    name: 'POST /logout',
    allowed: [...ROLES],
    freshCaller: true,
    okStatus: 200,
    async run(ctx, token) {
      const reply = await call(ctx.url, 'POST', '/logout', { token });
      return { reply, happened: async () => token !== null && (await call(ctx.url, 'GET', '/me', { token })).status === 401 };
    },
  },
  {
    name: 'GET /users',
    allowed: ['admin'],
    okStatus: 200,
    async run(ctx, token) {
      const reply = await call(ctx.url, 'GET', '/users', { token });
      return { reply, happened: async () => Array.isArray(reply.body?.users) && reply.body.users.some((u: { username: string }) => u.username === ctx.admin.username) };
    },
  },
  {
    name: 'GET /users/{id}',
    allowed: ['admin'],
    okStatus: 200,
    async run(ctx, token) {
      const reply = await call(ctx.url, 'GET', `/users/${ctx.admin.id}`, { token });
      return { reply, happened: async () => reply.body?.username === ctx.admin.username };
    },
  },
  {
    name: 'POST /users',
    allowed: ['admin'],
    okStatus: 201,
    async run(ctx, token) {
      const username = `made-${ctx.seq()}`;
      const reply = await call(ctx.url, 'POST', '/users', { token, body: { username, password: 'password-123', role: 'user', sites: ['made-site'] } });
      return {
        reply,
        happened: async () => ((await call(ctx.url, 'GET', '/users', { token: admin(ctx) })).body.users as Array<{ username: string }>).some((u) => u.username === username),
      };
    },
  },
  {
    name: 'PATCH /users/{id}',
    allowed: ['admin'],
    okStatus: 200,
    async run(ctx, token) {
      const target = await ctx.srv.accounts.createUser({ username: `target-${ctx.seq()}`, password: 'password-123', role: 'user' });
      const reply = await call(ctx.url, 'PATCH', `/users/${target.id}`, { token, body: { role: 'guest', sites: ['patched'] } });
      return {
        reply,
        happened: async () => {
          const u = (await call(ctx.url, 'GET', `/users/${target.id}`, { token: admin(ctx) })).body;
          return u.role === 'guest' && u.sites.includes('patched');
        },
      };
    },
  },
  {
    name: 'DELETE /users/{id}',
    allowed: ['admin'],
    okStatus: 204,
    async run(ctx, token) {
      const target = await ctx.srv.accounts.createUser({ username: `doomed-${ctx.seq()}`, password: 'password-123', role: 'user' });
      const reply = await call(ctx.url, 'DELETE', `/users/${target.id}`, { token });
      return { reply, happened: async () => !(await userExists(ctx, target.id)) };
    },
  },
  {
    name: 'GET /sites',
    allowed: ['admin'],
    okStatus: 200,
    async run(ctx, token) {
      const reply = await call(ctx.url, 'GET', '/sites', { token });
      return { reply, happened: async () => Array.isArray(reply.body?.sites) };
    },
  },
  {
    name: 'POST /sites',
    allowed: ['admin'],
    okStatus: 201,
    async run(ctx, token) {
      const name = `new-site-${ctx.seq()}`;
      const reply = await call(ctx.url, 'POST', '/sites', { token, body: { name } });
      return { reply, happened: async () => (await siteNames(ctx)).includes(name) };
    },
  },
  {
    name: 'PATCH /sites/{id}',
    allowed: ['admin'],
    okStatus: 200,
    async run(ctx, token) {
      const site = await newSite(ctx);
      const name = `renamed-${ctx.seq()}`;
      const reply = await call(ctx.url, 'PATCH', `/sites/${site.id}`, { token, body: { name } });
      return { reply, happened: async () => (await siteNames(ctx)).includes(name) };
    },
  },
  {
    name: 'DELETE /sites/{id}',
    allowed: ['admin'],
    okStatus: 204,
    async run(ctx, token) {
      const site = await newSite(ctx);
      const reply = await call(ctx.url, 'DELETE', `/sites/${site.id}`, { token });
      return { reply, happened: async () => !(await siteNames(ctx)).includes(site.name) };
    },
  },
];

describe.each([SQLITE, POSTGRES])('authorization matrix ($name)', (backend) => {
  const sandbox = new Sandbox(backend, 'authz');
  const own = uniqueLabel('own');
  const other = uniqueLabel('other');
  let ctx: Ctx;
  let shared: Record<string, SeededUser>;
  let n = 0;

  beforeAll(async () => {
    const srv = await startService({ sandbox });
    const seeded = await seedUsers(
      srv,
      ROLES.map((role) => ({ username: `the-${role}`, role, sites: [own] })),
    );
    shared = seeded.users;
    ctx = {
      srv,
      url: seeded.url,
      admin: shared['the-admin'],
      seq: () => ++n,
      async fresh(role) {
        const username = `fresh-${role}-${++n}`;
        const { users } = await seedUsers(srv, [{ username, role, sites: [own] }]);
        return users[username];
      },
    };
    // One camera on each site, so that /labels and the viewer sockets have something to show.
    for (const label of [own, other]) expect((await postFrame(ctx.url, ctx.admin.access_token, { label, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
  });
  afterAll(async () => {
    await ctx?.srv.stop();
    await sandbox.cleanup();
  });

  const rows = ENDPOINTS.flatMap((e) => ACTORS.map((a) => [e.name, a, a !== 'anonymous' && e.allowed.includes(a)] as const));

  it.each(rows)('%s as %s: allowed=%s', async (name, actor, allowed) => {
    const e = ENDPOINTS.find((x) => x.name === name)!;
    const caller = actor === 'anonymous' ? null : e.freshCaller ? await ctx.fresh(actor) : shared[`the-${actor}`];
    const { reply, happened } = await e.run(ctx, caller?.access_token ?? null, caller);
    if (allowed) {
      expect(reply.status, JSON.stringify(reply.body)).toBe(e.okStatus);
      expect(await happened()).toBe(true);
    } else {
      expect(reply.status).toBe(actor === 'anonymous' ? 401 : 403);
      expect(reply.body.code).toBe(actor === 'anonymous' ? 'MISSING_TOKEN' : 'FORBIDDEN');
      expect(await happened()).toBe(false);
    }
  });

  // The rest of the role table: watch and upload (DESIGN.md §3).
  const streamRows: Array<[Role, boolean, boolean, boolean]> = [
    // role, watches other sites, uploads to own site, uploads to other sites
    ['admin', true, true, true],
    ['model_manager', false, true, false],
    ['user', false, false, false],
    ['guest', false, false, false],
  ];

  it.each(streamRows)('%s: watch other sites=%s, upload own=%s, upload other=%s', async (role, watchOther, uploadOwn, uploadOther) => {
    const token = shared[`the-${role}`].access_token;
    const labels = (await call(ctx.url, 'GET', '/labels', { token })).body.labels as string[];
    expect(labels.includes(own)).toBe(true);
    expect(labels.includes(other)).toBe(watchOther);

    const sock = await connect(ctx.url, `/ws/labels/${encodeURIComponent(other)}`, token);
    if (watchOther) {
      await sock.until(() => sock.frames.length === 1);
      expect(sock.closed).toBeNull();
      sock.close();
    } else {
      expect(await sock.waitClose()).toEqual({ code: 1008, reason: 'Not allowed to view this site' });
    }

    for (const [label, may] of [[own, uploadOwn], [other, uploadOther]] as const) {
      const r = await postFrame(ctx.url, token, { label, key: 'cam', ...defaultMeta }, jpeg(2));
      expect(r.status, `${role} upload to ${label}`).toBe(may ? 200 : 403);
    }
  });
});
