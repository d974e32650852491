// The measuring tools (framebench, bareserver, mint) live in ../shared/bench, which is read-only
// under CI: copy them to a folder in os.tmpdir() and `npm ci` there once. The copy's node_modules
// is keyed by the hash of package.json + package-lock.json, so a second run reuses it; the scripts
// themselves are copied again on every run (cheap), so an edited framebench is always the one run.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const READY = '.framestream-bench-ready';

function writeCopy(from, to) {
  // The originals are read-only (r--r--r--): write a fresh, writable file rather than copying modes.
  try { fs.unlinkSync(to); } catch { /* absent */ }
  fs.writeFileSync(to, fs.readFileSync(from), { mode: 0o644 });
}

export function prepareTools(srcDir, log) {
  const need = ['framebench.mjs', 'bareserver.mjs', 'mint.mjs', 'package.json', 'package-lock.json'];
  const missing = need.filter((f) => !fs.existsSync(path.join(srcDir, f)));
  if (missing.length) {
    throw new Error(`the measuring tools are not in ${srcDir} (missing ${missing.join(', ')}); ` +
      'point --bench-dir or FRAMEBENCH_DIR at the folder holding framebench.mjs');
  }
  const hash = crypto.createHash('sha256')
    .update(fs.readFileSync(path.join(srcDir, 'package.json')))
    .update(fs.readFileSync(path.join(srcDir, 'package-lock.json')))
    .digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `framestream-bench-tools-${hash}`);
  if (!fs.existsSync(path.join(dir, 'node_modules', READY))) {
    log(`installing the measuring tools' packages (npm ci) in ${dir} ...`);
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), `framestream-bench-tools-${hash}-staging-`));
    try {
      for (const f of ['package.json', 'package-lock.json']) writeCopy(path.join(srcDir, f), path.join(staging, f));
      const npm = process.env.npm_execpath && fs.existsSync(process.env.npm_execpath)
        ? [process.execPath, [process.env.npm_execpath]]
        : ['npm', []];
      const r = spawnSync(npm[0], [...npm[1], 'ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
        cwd: staging, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000,
      });
      if (r.status !== 0) {
        throw new Error(`npm ci in the copy of ${srcDir} failed (${r.error?.message ?? `exit ${r.status}`}):\n${(r.stderr || r.stdout || '').trim()}`);
      }
      fs.writeFileSync(path.join(staging, 'node_modules', READY), `${new Date().toISOString()}\n`);
      fs.rmSync(dir, { recursive: true, force: true });
      try {
        fs.renameSync(staging, dir);
      } catch (err) {
        // Another bench finished the same install first: use its copy.
        if (!fs.existsSync(path.join(dir, 'node_modules', READY))) throw err;
      }
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  for (const ent of fs.readdirSync(srcDir, { withFileTypes: true })) {
    if (!ent.isFile() || ent.name === 'package.json' || ent.name === 'package-lock.json') continue;
    writeCopy(path.join(srcDir, ent.name), path.join(dir, ent.name));
  }
  return dir;
}
