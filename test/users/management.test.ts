// Users and sites management: validation (422), duplicates (409), unknown ids (404), the rules that
// keep an admin in charge (422), sites created on the fly, and the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, POSTGRES, SQLITE, seedUsers, startService, type SeededUser, type TestService } from '../helpers/service.js';
import { call } from '../helpers/http.js';

describe.each([SQLITE, POSTGRES])('users and sites ($name)', (backend) => {
  const sandbox = new Sandbox(backend, 'mgmt');
  let srv: TestService;
  let url: string;
  let root: SeededUser;
  const as = (method: string, route: string, body?: unknown, token = root.access_token) => call(url, method, route, { token, body });

  beforeAll(async () => {
    srv = await startService({ sandbox });
    const s = await seedUsers(srv, [{ username: 'root', role: 'admin' }]);
    url = s.url;
    root = s.users.root;
  });
  afterAll(async () => {
    await srv?.stop();
    await sandbox.cleanup();
  });

  it('creates a user with sites (creating missing sites), shows it without a hash', async () => {
    const r = await as('POST', '/users', { username: 'mia.k@north', password: 'password-123', role: 'model_manager', sites: ['North Yard', 'east', 'east'] });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: 'mia.k@north', role: 'model_manager', is_active: true, sites: ['North Yard', 'east'] });
    expect(Object.keys(r.body).sort()).toEqual(['created_at', 'id', 'is_active', 'role', 'sites', 'updated_at', 'username']);
    const sites = (await as('GET', '/sites')).body.sites.map((s: { name: string }) => s.name);
    expect(sites).toEqual(expect.arrayContaining(['North Yard', 'east']));
    const list = await as('GET', '/users');
    expect(JSON.stringify(list.body)).not.toMatch(/password|argon/);
    // The new user can log in with the password given.
    expect((await call(url, 'POST', '/login', { body: { username: 'mia.k@north', password: 'password-123' } })).body.role).toBe('model_manager');
  });

  it.each([
    ['a short password', { username: 'valid-name', password: 'short', role: 'user' }],
    ['a bad username', { username: 'has space', password: 'password-123', role: 'user' }],
    ['a one-letter username', { username: 'x', password: 'password-123', role: 'user' }],
    ['an unknown role', { username: 'valid-name', password: 'password-123', role: 'superuser' }],
    ['a missing role', { username: 'valid-name', password: 'password-123' }],
    ['an unknown field', { username: 'valid-name', password: 'password-123', role: 'user', is_admin: true }],
    ['a bad site name', { username: 'valid-name', password: 'password-123', role: 'user', sites: [' padded '] }],
    ['sites not a list', { username: 'valid-name', password: 'password-123', role: 'user', sites: 'north' }],
  ])('refuses POST /users with %s (422)', async (_what, body) => {
    const r = await as('POST', '/users', body);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('VALIDATION');
    expect(r.body.detail).toEqual(expect.any(String));
  });

  it('refuses duplicates with 409', async () => {
    await as('POST', '/users', { username: 'dup', password: 'password-123', role: 'user' });
    const u = await as('POST', '/users', { username: 'dup', password: 'password-123', role: 'guest' });
    expect(u.status).toBe(409);
    expect(u.body).toEqual({ detail: "user 'dup' already exists", code: 'DUPLICATE' });
    await expect(srv.accounts.createUser({ username: 'dup', password: 'password-123', role: 'user' })).rejects.toMatchObject({ code: 'DUPLICATE' });

    const other = await as('POST', '/users', { username: 'dup2', password: 'password-123', role: 'user' });
    expect((await as('PATCH', `/users/${other.body.id}`, { username: 'dup' })).status).toBe(409);

    expect((await as('POST', '/sites', { name: 'Site A' })).status).toBe(201);
    const s = await as('POST', '/sites', { name: 'Site A' });
    expect(s.status).toBe(409);
    expect(s.body.code).toBe('DUPLICATE');
    const b = await as('POST', '/sites', { name: 'Site B' });
    expect((await as('PATCH', `/sites/${b.body.id}`, { name: 'Site A' })).status).toBe(409);
  });

  it.each([
    ['GET', '/users/999999'],
    ['PATCH', '/users/999999', { role: 'user' }],
    ['DELETE', '/users/999999'],
    ['PATCH', '/sites/999999', { name: 'whatever' }],
    ['DELETE', '/sites/999999'],
  ])('answers 404 for %s %s', async (method, route, body?: unknown) => {
    const r = await as(method, route, body);
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('NOT_FOUND');
  });

  it('answers 422 for a non-numeric id', async () => {
    expect((await as('GET', '/users/abc')).status).toBe(422);
    expect((await as('DELETE', '/sites/0')).status).toBe(422);
  });

  it('patches a user: role, sites replaced, rename (ends sessions), password', async () => {
    const u = (await as('POST', '/users', { username: 'pat', password: 'password-123', role: 'user', sites: ['one', 'two'] })).body;
    let before = await srv.accounts.issueTokens('pat');
    const r = await as('PATCH', `/users/${u.id}`, { role: 'guest', sites: ['three'] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: u.id, username: 'pat', role: 'guest', sites: ['three'] });
    // A role or sites change keeps the session; /me shows the new state at once.
    expect((await call(url, 'GET', '/me', { token: before.access_token })).body).toMatchObject({ username: 'pat', role: 'guest', sites: ['three'] });
    // Tokens name their user: a rename ends the user's sessions, and the new name logs in.
    const renamed = await as('PATCH', `/users/${u.id}`, { username: 'patricia' });
    expect(renamed.body).toMatchObject({ id: u.id, username: 'patricia' });
    expect((await call(url, 'GET', '/me', { token: before.access_token })).body.code).toBe('TOKEN_NOT_ACTIVE');
    expect((await call(url, 'POST', '/refresh', { body: { refresh_token: before.refresh_token } })).status).toBe(401);
    before = await srv.accounts.issueTokens('patricia');
    expect((await call(url, 'GET', '/me', { token: before.access_token })).body).toMatchObject({ username: 'patricia' });
    // A password change ends the user's sessions.
    expect((await as('PATCH', `/users/${u.id}`, { password: 'another-pass-1' })).status).toBe(200);
    expect((await call(url, 'GET', '/me', { token: before.access_token })).body.code).toBe('TOKEN_NOT_ACTIVE');
    expect((await call(url, 'POST', '/login', { body: { username: 'patricia', password: 'another-pass-1' } })).status).toBe(200);
    expect((await as('PATCH', `/users/${u.id}`, {})).status).toBe(422);
  });

  it('renames and deletes sites, and users see the change', async () => {
    const u = (await as('POST', '/users', { username: 'sam', password: 'password-123', role: 'user', sites: ['old-name', 'keep'] })).body;
    const site = (await as('GET', '/sites')).body.sites.find((s: { name: string }) => s.name === 'old-name');
    const renamed = await as('PATCH', `/sites/${site.id}`, { name: 'new-name' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: site.id, name: 'new-name' });
    expect((await as('GET', `/users/${u.id}`)).body.sites).toEqual(['keep', 'new-name']);
    expect((await as('DELETE', `/sites/${site.id}`)).status).toBe(204);
    expect((await as('GET', `/users/${u.id}`)).body.sites).toEqual(['keep']);
  });

  it('keeps an admin in charge: no self-delete, no self-deactivation, no demoting the last admin (422)', async () => {
    const self = await as('DELETE', `/users/${root.id}`);
    expect(self.status).toBe(422);
    expect(self.body.detail).toMatch(/your own account/);
    expect((await as('PATCH', `/users/${root.id}`, { is_active: false })).status).toBe(422);
    const demote = await as('PATCH', `/users/${root.id}`, { role: 'user' });
    expect(demote.status).toBe(422);
    expect(demote.body.detail).toMatch(/last active admin/);
    expect((await as('GET', '/me')).body.role).toBe('admin');

    // With a second admin, one may demote themself; the other then cannot be demoted or deleted.
    const second = (await as('POST', '/users', { username: 'second-admin', password: 'password-123', role: 'admin' })).body;
    const t2 = (await srv.accounts.issueTokens('second-admin')).access_token;
    expect((await as('PATCH', `/users/${second.id}`, { role: 'user' }, t2)).status).toBe(200);
    // The demoted admin's next management request is refused at once.
    expect((await as('GET', '/users', undefined, t2)).status).toBe(403);
    expect((await as('PATCH', `/users/${second.id}`, { role: 'admin' })).status).toBe(200);
    expect((await as('DELETE', `/users/${second.id}`)).status).toBe(204);
    expect((await as('GET', `/users/${second.id}`)).status).toBe(404);
    expect((await call(url, 'GET', '/me', { token: t2 })).body.code).toBe('TOKEN_NOT_ACTIVE');
  });

  it('publishes every endpoint with schemas and tags in the OpenAPI document', async () => {
    const doc = (await call(url, 'GET', '/openapi.json')).body;
    const expected: Array<[string, string, string]> = [
      ['/login', 'post', 'auth'],
      ['/refresh', 'post', 'auth'],
      ['/logout', 'post', 'auth'],
      ['/me', 'get', 'auth'],
      ['/me/password', 'put', 'auth'],
      ['/users', 'get', 'users'],
      ['/users', 'post', 'users'],
      ['/users/{id}', 'patch', 'users'],
      ['/users/{id}', 'delete', 'users'],
      ['/sites', 'get', 'sites'],
      ['/sites', 'post', 'sites'],
      ['/sites/{id}', 'patch', 'sites'],
      ['/sites/{id}', 'delete', 'sites'],
    ];
    for (const [path, method, tag] of expected) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(op.tags).toContain(tag);
      expect(Object.keys(op.responses).length).toBeGreaterThan(1);
      if (['post', 'put', 'patch'].includes(method) && path !== '/logout') expect(op.requestBody, `${method} ${path} body`).toBeDefined();
    }
    expect(doc.paths['/users'].post.requestBody.content['application/json'].schema.required).toEqual(['username', 'password', 'role']);
  });
});
