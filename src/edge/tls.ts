// TLS served directly (TLS_CERT, TLS_KEY): the files are read and checked at start-up, so that a
// wrong path, a file that is not PEM or a key of another certificate stops the service with a
// message naming the setting; SIGHUP reads them again (a renewed certificate) and new connections
// get it, while open ones (viewers) carry on.
import fs from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../lib/log.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** When the (first) certificate expires. */
  validTo: Date;
}

type TlsPaths = Pick<Config, 'tlsCert' | 'tlsKey'>;

function readFile(setting: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(setting, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The certificate and key, checked; null when TLS is not configured. Throws ConfigError. */
export function readTls(paths: TlsPaths): TlsFiles | null {
  if (!paths.tlsCert || !paths.tlsKey) return null;
  const cert = readFile('TLS_CERT', paths.tlsCert);
  const key = readFile('TLS_KEY', paths.tlsKey);
  let validTo: Date;
  try {
    validTo = new Date(new X509Certificate(cert).validTo);
  } catch {
    throw new ConfigError('TLS_CERT', `${paths.tlsCert} is not a PEM certificate`);
  }
  try {
    createPrivateKey(key);
  } catch {
    throw new ConfigError('TLS_KEY', `${paths.tlsKey} is not an unencrypted PEM private key`);
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError('TLS_KEY', `${paths.tlsKey} does not belong to the certificate in TLS_CERT (${(err as Error).message})`);
  }
  return { cert, key, validTo };
}

/** Logs when the certificate has expired or is about to: browsers and producers will refuse it. */
export function warnIfExpiring(files: TlsFiles, log: Logger): void {
  const daysLeft = (files.validTo.getTime() - Date.now()) / 86_400_000;
  if (daysLeft < 14) log.warn({ validTo: files.validTo.toISOString() }, daysLeft < 0 ? 'TLS certificate has expired' : 'TLS certificate expires soon');
}

/**
 * Reads the files again and gives new connections the new certificate; on any problem the old one
 * stays (and the reason is logged). True when the new one is in use.
 */
export function reloadTls(server: tls.Server, paths: TlsPaths, log: Logger): boolean {
  let files: TlsFiles | null;
  try {
    files = readTls(paths);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'TLS certificate not reloaded; the previous one stays in use');
    return false;
  }
  if (!files) return false;
  server.setSecureContext({ cert: files.cert, key: files.key });
  warnIfExpiring(files, log);
  log.info({ validTo: files.validTo.toISOString() }, 'TLS certificate reloaded');
  return true;
}
