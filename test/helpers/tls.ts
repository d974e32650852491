// Self-signed certificates for the TLS tests, made with openssl (as an operator would).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Certificate {
  cert: string;
  key: string;
  /** The certificate's PEM text (a client's `ca`). */
  pem: string;
}

/** Writes `<name>.crt` and `<name>.key` into `dir`: a certificate for 127.0.0.1 and localhost. */
export function selfSignedCertificate(dir: string, name = 'server'): Certificate {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`openssl could not make a test certificate (is openssl installed?): ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  return { cert, key, pem: fs.readFileSync(cert, 'utf8') };
}
