// Who is asking, and what each role may do (DESIGN.md §3, the role table). Every permission check
// in the service goes through these functions.

export const ROLES = ['admin', 'model_manager', 'user', 'guest'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: number;
  username: string;
  role: Role;
  /** The session (token `jti`) this request or socket runs under. */
  sessionId: string;
  /** Names of the sites linked to the user; a label is watchable when it equals one of them. */
  sites: ReadonlySet<string>;
}

export function canWatch(p: Principal, label: string): boolean {
  return p.role === 'admin' || p.sites.has(label);
}

export function canUpload(p: Principal, label: string): boolean {
  return p.role === 'admin' || (p.role === 'model_manager' && p.sites.has(label));
}

/** May upload to at least one site: decides whether WS /ws/frames is opened at all. */
export function canUploadAny(p: Principal): boolean {
  return p.role === 'admin' || p.role === 'model_manager';
}

/** May acknowledge, mark false positive or resolve the site's safety events (guests only read them). */
export function canReview(p: Principal, label: string): boolean {
  return canWatch(p, label) && p.role !== 'guest';
}

export function canManage(p: Principal): boolean {
  return p.role === 'admin';
}

export function canChangeOwnPassword(p: Principal): boolean {
  return p.role !== 'guest';
}

/** What a Principal needs about its user (read by users/repository.ts; cached by the authenticator). */
export interface UserRecord {
  id: number;
  username: string;
  role: Role;
  isActive: boolean;
  sites: ReadonlySet<string>;
}

export function principalOf(user: UserRecord, sessionId: string): Principal {
  return { userId: user.id, username: user.username, role: user.role, sessionId, sites: user.sites };
}
