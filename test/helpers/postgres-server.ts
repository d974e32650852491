// A PostgreSQL server of the test's own, for fault tests that stop and start it (never the shared
// one on 5432): initdb into a temporary folder with the Debian binaries, pg_ctl on a spare port.
// initdb refuses to run as root, so as root the server runs as the `postgres` user.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth). */
  url: string;
  port: number;
  /** pg_ctl stop: `immediate` is a crash (no checkpoint), `fast` a clean stop. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  versions.sort((a, b) => Number(a) - Number(b));
  return path.join(root, versions.at(-1)!, 'bin');
}

/** Runs a PostgreSQL binary, as `postgres` when this process is root. */
function pgRun(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const asRoot = process.getuid?.() === 0;
  return asRoot ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args);
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  if (process.getuid?.() === 0) fs.chownSync(dir, ...postgresIds());
  await pgRun(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const ctl = (args: string[]) => pgRun(path.join(bin, 'pg_ctl'), ['-D', data, '-l', log, ...args]);
    const start = async () => {
      await ctl(['-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`, 'start']);
    };
    try {
      await start();
    } catch (err) {
      lastErr = err; // most likely the port was taken
      continue;
    }
    const stop = async (mode: 'immediate' | 'fast' = 'fast') => {
      await ctl(['-w', '-m', mode, 'stop']).catch(() => {});
    };
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      stop,
      start,
      async destroy() {
        await stop('immediate');
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`could not start a private PostgreSQL: ${String((lastErr as { stderr?: string })?.stderr ?? lastErr)}`);
}

function postgresIds(): [number, number] {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, but there is no postgres user to run a PostgreSQL server as');
  const [, , uid, gid] = line.split(':');
  return [Number(uid), Number(gid)];
}
