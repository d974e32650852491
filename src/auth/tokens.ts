// Signs and verifies the service's JWTs (DESIGN.md §2 "Tokens"). HS256 only, with the old backend's
// payload `subject: {username, jti}` plus `type` ("access" | "refresh"):
//   access:  {subject: {username, jti: <session id>}, type: "access",  iat, exp}
//   refresh: {subject: {username, jti: <session id>}, type: "refresh", jti: <refresh token id>, iat, exp}
// Both tokens of a session carry the session id in subject.jti; a refresh token also carries its
// own id in the standard `jti` claim, which the session records so a retired one can be detected.
import { webcrypto } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { Errors } from '../errors.js';
import { Lru } from '../lib/lru.js';

export type TokenType = 'access' | 'refresh';

/** Seconds of clock difference tolerated between instances (exp, nbf and iat). */
export const CLOCK_SKEW_SEC = 5;

export interface TokenClaims {
  username: string;
  sessionId: string;
  type: TokenType;
  /** Refresh tokens only: the id of this refresh token. */
  refreshId?: string;
  iat: number;
  exp: number;
}

export class TokenService {
  private readonly key: Promise<webcrypto.CryptoKey>;
  /**
   * Access tokens already verified, so that a producer posting frames with the same token pays for
   * the HMAC once (WebCrypto verification costs about 0.1 ms here). Same bytes, same secret: the
   * same answer, except for expiry, which is checked on every hit.
   */
  private readonly verified = new Lru<string, TokenClaims>(10_000);

  constructor(
    secret: string,
    private readonly accessTtlSec: number,
    private readonly refreshTtlSec: number,
  ) {
    this.key = webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  }

  get refreshTtlMs(): number {
    return this.refreshTtlSec * 1000;
  }

  async sign(type: TokenType, username: string, sessionId: string, opts: { refreshId?: string; expiresAt?: number } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const ttl = type === 'access' ? this.accessTtlSec : this.refreshTtlSec;
    let exp = now + ttl;
    if (opts.expiresAt !== undefined) exp = Math.min(exp, Math.floor(opts.expiresAt / 1000));
    const payload: Record<string, unknown> = { subject: { username, jti: sessionId }, type };
    const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(now).setExpirationTime(exp);
    if (type === 'refresh') {
      if (!opts.refreshId) throw new Error('a refresh token needs its id');
      jwt.setJti(opts.refreshId);
    }
    return jwt.sign(await this.key);
  }

  /**
   * Verifies signature (HS256 only: `alg: none` and every other algorithm are refused), exp, nbf, iat
   * (not in the future) and the payload shape, and that the token is of the expected type.
   * Throws INVALID_TOKEN, TOKEN_EXPIRED or TOKEN_NOT_ACTIVE (not valid yet).
   */
  async verify(token: string, expected: TokenType): Promise<TokenClaims> {
    if (expected === 'access') {
      const hit = this.verified.get(token);
      if (hit) {
        if (hit.exp <= Math.floor(Date.now() / 1000) - CLOCK_SKEW_SEC) {
          this.verified.delete(token);
          throw new Errors.TOKEN_EXPIRED();
        }
        return hit;
      }
    }
    const claims = await this.verifyFully(token, expected);
    if (expected === 'access') this.verified.set(token, claims);
    return claims;
  }

  private async verifyFully(token: string, expected: TokenType): Promise<TokenClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await this.key, {
        algorithms: ['HS256'],
        clockTolerance: CLOCK_SKEW_SEC,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new Errors.TOKEN_EXPIRED();
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') throw new Errors.TOKEN_NOT_ACTIVE();
      throw new Errors.INVALID_TOKEN();
    }
    const now = Math.floor(Date.now() / 1000);
    const iat = payload.iat as number;
    if (iat > now + CLOCK_SKEW_SEC) throw new Errors.TOKEN_NOT_ACTIVE();
    const subject = payload.subject as { username?: unknown; jti?: unknown } | undefined;
    if (
      !subject ||
      typeof subject !== 'object' ||
      typeof subject.username !== 'string' ||
      typeof subject.jti !== 'string' ||
      subject.jti === '' ||
      subject.jti.length > 64
    ) {
      throw new Errors.INVALID_TOKEN();
    }
    if (payload.type !== expected) throw new Errors.INVALID_TOKEN();
    const claims: TokenClaims = {
      username: subject.username,
      sessionId: subject.jti,
      type: expected,
      iat,
      exp: payload.exp as number,
    };
    if (expected === 'refresh') {
      if (typeof payload.jti !== 'string' || payload.jti === '') throw new Errors.INVALID_TOKEN();
      claims.refreshId = payload.jti;
    }
    return claims;
  }
}
