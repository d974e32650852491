// Manages accounts without the HTTP API, on the same database and Redis as a running server (so a
// session it starts is one the server honours, and a password it sets ends the server's sessions).
//   node dist/src/cli/admin.js <command>     (npm run admin -- <command>)
//   create-user <username> --role R [--password P] [--sites a,b]
//   set-password <username> [--password P]
//   list-users [--json]
//   token <username> [--refresh]
//   unlock <username>
// Without --password: asks twice on a terminal (empty answer = generate one), else generates one;
// a generated password is printed once.
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import { ConfigError, loadSettings, maskPassword, type Config } from '../config.js';
import { sqlitePath } from '../db/database.js';
import { openConnections, type Connections } from '../connections.js';
import { createAccounts, type Accounts } from '../accounts.js';
import type { Logger } from '../lib/log.js';
import { ROLES, type Role } from '../auth/principal.js';
import { generatePassword } from '../auth/passwords.js';

export const USAGE = `usage: admin <command>
  create-user <username> --role ${ROLES.join('|')} [--password P] [--sites a,b]
  set-password <username> [--password P]     (ends the user's sessions)
  list-users [--json]
  token <username> [--refresh]               (prints an access token with a live session;
                                              --refresh: both tokens as JSON)
  unlock <username>                          (lifts the lock that failed logins put on it)
Settings come from the environment and .env, as for the server (DATA_DIR, DATABASE_URL, REDIS_URL,
JWT_SECRET...): run it from the server's folder with the server's settings. Without JWT_SECRET it
uses the secret the server keeps in DATA_DIR. The token's lifetime is ACCESS_TOKEN_TTL (e.g.
ACCESS_TOKEN_TTL=86400 for a day-long benchmark token).`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks for a secret on a terminal; null when there is no terminal. */
  askSecret?(prompt: string): Promise<string | null>;
}

class UsageError extends Error {}

interface Parsed {
  command: string | undefined;
  args: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['role', 'password', 'sites']);
const BOOL_FLAGS = new Set(['json', 'refresh', 'help']);

export function parseArgs(argv: string[]): Parsed {
  const args: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h') {
      flags.set('help', true);
    } else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (VALUE_FLAGS.has(name)) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, v);
      } else if (BOOL_FLAGS.has(name)) {
        flags.set(name, true);
      } else {
        throw new UsageError(`unknown option --${name}`);
      }
    } else {
      args.push(a);
    }
  }
  return { command: args.shift(), args, flags };
}

function terminalSecret(): CliIo['askSecret'] {
  return async (prompt) => {
    if (!process.stdin.isTTY || !process.stdout.isTTY) return null;
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    // Echo nothing while the secret is typed.
    const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
    let muted = false;
    out._writeToOutput = (s: string) => {
      if (!muted) out.output.write(s);
    };
    try {
      return await new Promise<string>((resolve) => {
        rl.question(prompt, (answer) => {
          out.output.write('\n');
          resolve(answer);
        });
        muted = true;
      });
    } finally {
      rl.close();
    }
  };
}

/** The password from --password, a terminal prompt, or generated (then `generated` is true). */
async function choosePassword(flags: Parsed['flags'], io: CliIo): Promise<{ password: string; generated: boolean }> {
  const given = flags.get('password');
  if (typeof given === 'string') return { password: given, generated: false };
  const first = io.askSecret ? await io.askSecret('Password (empty: generate one): ') : null;
  if (first) {
    const again = await io.askSecret!('Again: ');
    if (again !== first) throw new UsageError('the passwords differ');
    return { password: first, generated: false };
  }
  return { password: generatePassword(), generated: true };
}

function one(args: string[], what: string): string {
  if (args.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return args[0];
}

async function run(accounts: Accounts, p: Parsed, config: Config, io: CliIo): Promise<void> {
  const service = accounts.users;
  switch (p.command) {
    case 'create-user': {
      const username = one(p.args, 'username');
      const role = p.flags.get('role');
      if (typeof role !== 'string') throw new UsageError('--role is required');
      if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      const sitesFlag = p.flags.get('sites');
      const sites = typeof sitesFlag === 'string' ? sitesFlag.split(',').map((s) => s.trim()).filter(Boolean) : [];
      const { password, generated } = await choosePassword(p.flags, io);
      const u = await service.createUser({ username, password, role: role as Role, sites });
      io.out(`created user ${u.username} (id ${u.id}, role ${u.role}${u.sites.length ? `, sites ${u.sites.join(', ')}` : ''})`);
      if (generated) io.out(`password: ${password}`);
      return;
    }
    case 'set-password': {
      const username = one(p.args, 'username');
      const { password, generated } = await choosePassword(p.flags, io);
      await service.setPassword(username, password);
      io.out(`password of ${username} changed; their sessions ended`);
      if (generated) io.out(`password: ${password}`);
      return;
    }
    case 'list-users': {
      const users = await service.listUsers();
      if (p.flags.get('json')) {
        io.out(JSON.stringify(users, null, 2));
        return;
      }
      const rows = [['ID', 'USERNAME', 'ROLE', 'ACTIVE', 'SITES'], ...users.map((u) => [String(u.id), u.username, u.role, u.is_active ? 'yes' : 'no', u.sites.join(',')])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      for (const r of rows) io.out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
      return;
    }
    case 'token': {
      const username = one(p.args, 'username');
      const pair = await accounts.issueTokens(username);
      io.out(p.flags.get('refresh') ? JSON.stringify(pair) : pair.access_token);
      return;
    }
    case 'unlock': {
      const username = one(p.args, 'username');
      await service.unlock(username);
      io.out(`${username} may log in again (failed attempts forgotten)`);
      return;
    }
    default:
      throw new UsageError(p.command ? `unknown command ${p.command}` : 'no command given');
  }
}

const quietLog = (io: CliIo): Logger => ({
  debug() {},
  info() {},
  warn(obj, msg) {
    io.err(`warning: ${msg ?? ''} ${JSON.stringify(obj)}`.trim());
  },
  error(obj, msg) {
    io.err(`error: ${msg ?? ''} ${JSON.stringify(obj)}`.trim());
  },
});

/** Runs one command; returns the exit code (0 done, 1 failed, 2 usage or configuration). */
export async function runCli(argv: string[], env: Record<string, string | undefined> = process.env, io?: CliIo, opts: { schema?: string } = {}): Promise<number> {
  const cio: CliIo = io ?? { out: (l) => console.log(l), err: (l) => console.error(l), askSecret: terminalSecret() };
  let parsed: Parsed;
  let config: Config;
  try {
    parsed = parseArgs(argv);
    if (parsed.flags.get('help') || parsed.command === 'help' || !parsed.command) {
      (parsed.command ? cio.out : cio.err)(USAGE);
      return parsed.command ? 0 : 2;
    }
    config = loadSettings(env);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      cio.err(err instanceof ConfigError ? `configuration error: ${err.message}` : `${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  let conns: Connections | null = null;
  let accounts: Accounts | null = null;
  try {
    const log = quietLog(cio);
    // Said on stderr (stdout carries tokens and listings): a CLI on another database than the
    // server's would change nothing the server sees.
    const database = config.databaseUrl ? `PostgreSQL at ${maskPassword(config.databaseUrl)} (DATABASE_URL)` : `SQLite ${sqlitePath(config)} (DATA_DIR)`;
    const isNew = !config.databaseUrl && !fs.existsSync(sqlitePath(config));
    cio.err(`accounts: ${database}; tokens signed with ${config.jwtSecretFile ? `the secret kept in ${config.jwtSecretFile}` : 'JWT_SECRET'}`);
    conns = await openConnections(config, { log, dbSchema: opts.schema });
    accounts = await createAccounts(config, conns, { log });
    if (isNew || (await accounts.users.listUsers()).length === 0) {
      cio.err(`warning: this database ${isNew ? 'is new' : 'has no users'}: is this the server's DATA_DIR (or DATABASE_URL)? ` +
        'Run the CLI with the settings the server runs with.');
    }
    await run(accounts, parsed, config, cio);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      cio.err(`${err.message}\n${USAGE}`);
      return 2;
    }
    cio.err(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    await accounts?.close();
    await conns?.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2));
}
