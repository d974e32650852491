// The contract between the accounts part (which issues tokens and keeps sessions) and everything
// that needs to know who is asking (HTTP routes, WebSocket routes).
import type { Principal } from './principal.js';

export type AccessLoss = 'session' | 'access';

export interface Authenticator {
  /**
   * Verifies an access token (HS256 signature, exp/nbf, `type: "access"`, a live session, an active
   * user) and returns who it belongs to. Throws a catalogue error: MISSING_TOKEN, INVALID_TOKEN,
   * TOKEN_EXPIRED or TOKEN_NOT_ACTIVE. A cached live session costs no database or Redis round trip.
   */
  authenticate(token: string | undefined): Promise<Principal>;
  /**
   * Keeps watching an open socket's right to stay open: `onLost('session')` when its session ends or
   * its user is deactivated; `onLost('access')` when `stillAllowed(fresh principal)` turns false
   * (role or sites changed). Called at most once, within a few seconds. Returns a stop function.
   */
  watch(principal: Principal, stillAllowed: (p: Principal) => boolean, onLost: (why: AccessLoss) => void): () => void;
}
