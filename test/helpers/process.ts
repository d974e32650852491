// The service as a real child process, as `npm start` runs it (node dist/src/main.js after the
// build): for what only a process shows (signals, exit codes and times, a restart, its own memory
// and event loop). Settings come from a Sandbox, like startService's, so that the process finds the
// same data folder, schema and Redis prefix as the test.
//   const proc = await startProcess(sandbox.env({ ADMIN_PASSWORD: 'pw-admin-12345678' }));
//   const { access_token } = await proc.login('admin', 'pw-admin-12345678');
//   proc.child.kill('SIGTERM'); const { code, ms } = await proc.exited;
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const MAIN = path.resolve('dist/src/main.js');
/** The Node.js flags of `npm start`. */
const NODE_FLAGS = ['--max-semi-space-size=2'];

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When it exited (Date.now()). */
  at: number;
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves when the output matches. */
  waitForOutput(re: RegExp, ms?: number): Promise<void>;
  exited: Promise<Exit>;
  login(username: string, password: string): Promise<{ access_token: string; refresh_token: string }>;
  /** SIGTERM, then SIGKILL after `ms`; resolves with the exit. */
  stop(ms?: number): Promise<Exit>;
}

export function built(): boolean {
  return fs.existsSync(MAIN);
}

/**
 * Starts the service with `env` (plus PATH and HOME; PORT 0 unless given) and resolves once it
 * listens (its "Server listening at" line names the address).
 */
export async function startProcess(env: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<ServiceProcess> {
  if (!built()) throw new Error(`${MAIN} is missing: run npm run build`);
  const child = spawn(process.execPath, [...NODE_FLAGS, MAIN], {
    // Its "Server listening" line is logged at info: the level is info unless more was asked for.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env, LOG_LEVEL: env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace' ? env.LOG_LEVEL : 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d;
    if (out.length > 4_000_000) out = out.slice(-2_000_000); // a long run's logs stay bounded
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exit: Exit | null = null;
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal, at: Date.now() };
      for (const l of [...listeners]) l();
      resolve(exit);
    }),
  );

  const waitForOutput = (re: RegExp, ms = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        listeners.delete(check);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (re.test(out)) done();
        else if (exit) done(new Error(`the service exited (${exit.code ?? exit.signal}) before printing ${re}; output:\n${out.slice(-3000)}`));
      };
      const timer = setTimeout(() => done(new Error(`no ${re} within ${ms} ms; output:\n${out.slice(-3000)}`)), ms);
      listeners.add(check);
      check();
    });

  try {
    await waitForOutput(/Server listening at (https?):\/\/[^:"]+:\d+/, opts.timeoutMs ?? 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const m = /Server listening at (https?):\/\/[^:"]+:(\d+)/.exec(out)!;
  const port = Number(m[2]);
  const url = `${m[1]}://127.0.0.1:${port}`;

  return {
    child,
    url,
    port,
    output: () => out,
    waitForOutput,
    exited,
    async login(username, password) {
      const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`login as ${username}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    },
    async stop(ms = 15_000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const e = await exited;
      clearTimeout(timer);
      return e;
    },
  };
}
