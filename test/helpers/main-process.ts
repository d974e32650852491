// The service as `npm start` runs it (node dist/src/main.js after the build), as a child process:
// its output, waiting for lines, signals.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const MAIN = path.resolve('dist/src/main.js');
export const mainBuilt = fs.existsSync(MAIN);

export interface MainProcess {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  readonly out: string;
  /** The exit code once it has exited (null while running, or when killed by a signal). */
  readonly code: number | null;
  readonly exited: Promise<number | null>;
  /** Resolves when the output matches (or `pred` holds); rejects with the output after `ms`. */
  waitFor(what: RegExp | ((out: string) => boolean), ms?: number): Promise<void>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startMain(env: Record<string, string>): MainProcess {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let code: number | null = null;
  const listeners = new Set<() => void>();
  const wake = () => listeners.forEach((l) => l());
  child.stdout!.on('data', (d) => { out += d; wake(); });
  child.stderr!.on('data', (d) => { out += d; wake(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => { code = c; wake(); resolve(c); }));
  return {
    child,
    get out() { return out; },
    get code() { return code; },
    exited,
    waitFor(what, ms = 15_000) {
      const ok = () => (typeof what === 'function' ? what(out) : what.test(out));
      return new Promise((resolve, reject) => {
        const check = () => {
          if (ok()) done();
          else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${what}; output:\n${out}`));
        };
        const done = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}; output:\n${out}`)), ms);
        listeners.add(check);
        check();
      });
    },
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The JSON log lines printed so far. */
export function logLines(out: string): Record<string, any>[] {
  const lines: Record<string, any>[] = [];
  for (const l of out.split('\n')) {
    if (!l.startsWith('{')) continue;
    try { lines.push(JSON.parse(l)); } catch { /* not a log line */ }
  }
  return lines;
}
