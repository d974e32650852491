// Password hashing (argon2id with @node-rs/argon2's defaults: 19 MiB, 2 passes, OWASP's minimum).
// Hashing runs on libuv's thread pool, so it does not block the event loop.
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { Errors } from '../errors.js';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

/** The password rule (every way of setting a password checks it); throws 422 VALIDATION. */
export function checkPassword(password: unknown, field = 'password'): string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN) {
    throw new Errors.VALIDATION(`${field} must be at least ${PASSWORD_MIN} characters`);
  }
  if (password.length > PASSWORD_MAX) throw new Errors.VALIDATION(`${field} must be at most ${PASSWORD_MAX} characters`);
  return password;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** A hash of a random password, computed once, to verify against when the user does not exist. */
let dummy: Promise<string> | null = null;
function dummyHash(): Promise<string> {
  dummy ??= hash(randomBytes(16).toString('base64url'));
  return dummy;
}

/**
 * Verifies `password` against `stored`, or against a dummy hash when there is no user, so that an
 * unknown username takes as long as a wrong password. A corrupt stored hash counts as a mismatch.
 */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  const target = stored ?? (await dummyHash());
  try {
    const ok = await verify(target, password);
    return ok && stored != null;
  } catch {
    return false;
  }
}

/** Warms the dummy hash (so the first unknown-user login is not slower than the others). */
export async function warmPasswords(): Promise<void> {
  await dummyHash();
}

/** A password for generated accounts: 18 random bytes, 24 URL-safe characters. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
