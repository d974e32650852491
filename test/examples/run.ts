// Runs an example client (examples/) as a child process, as a newcomer would run it, and records
// what it prints. The Python ones need python3 with requests and websockets: finding none fails
// the test with what to install (CI installs Debian's packages), never skips it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestService } from '../helpers/service.js';
import type { Role } from '../../src/auth/principal.js';

export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

export class ExampleRun {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private stderr = '';
  private waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcess, readonly name: string) {
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (partial) this.lines.push(partial);
        this.wake();
        resolve({ code, signal });
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** What it printed, for assertion messages. */
  get output(): string {
    return `${this.name} stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`;
  }

  /** Resolves with the first printed line matching `re`; fails with the output after `ms`. */
  async line(re: RegExp, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.find((l) => re.test(l));
      if (found !== undefined) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`no line matching ${re} within ${ms} ms\n${this.output}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for a clean exit (code 0); fails with the output otherwise. */
  async success(ms = 20_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} still running after ${ms} ms\n${this.output}`)), ms);
    });
    const { code, signal } = await Promise.race([this.exited, timeout]).finally(() => clearTimeout(timer));
    if (code !== 0) throw new Error(`${this.name} exited with ${code ?? signal}\n${this.output}`);
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }
}

/** Starts `command args` with the service's address and the account in its environment. */
export function runExample(command: string, args: string[], env: { url: string; username: string; password: string }): ExampleRun {
  const child = spawn(command, args, {
    cwd: EXAMPLES,
    env: { ...process.env, FRAMESTREAM_URL: env.url, FRAMESTREAM_USERNAME: env.username, FRAMESTREAM_PASSWORD: env.password, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ExampleRun(child, `${path.basename(command)} ${args.join(' ')}`);
}

/**
 * A python3 that imports requests and websockets: $PYTHON, else Debian's /usr/bin/python3 (where
 * python3-requests and python3-websockets install), else python3 on the PATH. Throws when none does.
 */
export function findPython(): string {
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  const tried: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import requests, websockets'], { encoding: 'utf8' });
    if (r.status === 0) return py;
    tried.push(`${py}: ${r.error ? r.error.message : r.stderr.trim().split('\n').pop()}`);
  }
  throw new Error(
    'The Python examples need python3 with requests and websockets: apt-get install python3-requests python3-websockets ' +
      `(or set PYTHON to an interpreter that has them). Tried: ${tried.join('; ')}`,
  );
}

export interface ExampleAccount {
  id: number;
  username: string;
  password: string;
}

/** An account the example logs in with (through the accounts' own API, as an admin would). */
export async function createAccount(svc: TestService, username: string, role: Role, sites: string[]): Promise<ExampleAccount> {
  const password = `pw-${username}-12345678`;
  const view = await svc.accounts.createUser({ username, password, role, sites });
  return { id: view.id, username, password };
}

/** Ends every session of the account, as an admin setting its password does (the password stays the same). */
export async function endSessions(svc: TestService, adminToken: string, account: ExampleAccount): Promise<void> {
  const res = await fetch(`${svc.url}/users/${account.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ password: account.password }),
  });
  if (res.status !== 200) throw new Error(`PATCH /users/${account.id}: ${res.status} ${await res.text()}`);
}

/**
 * Holds POST /frames's only upload slot (MAX_CONCURRENT_UPLOADS=1) with a request whose body never
 * comes, so that other uploads get 429 until the returned function releases it.
 */
export async function holdUploadSlot(svc: TestService, token: string): Promise<() => void> {
  const u = new URL(`${svc.url}/frames`);
  const slow = request({
    host: u.hostname,
    port: u.port,
    path: u.pathname,
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'multipart/form-data; boundary=b', 'content-length': '100000' },
  });
  slow.on('error', () => {});
  slow.write('--b\r\n');
  await new Promise((r) => setTimeout(r, 200));
  return () => slow.destroy();
}
