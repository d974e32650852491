// Where a request carries its access token. HTTP: `Authorization: Bearer`. Sockets: the header, or a
// `token` query parameter because browsers cannot set headers on a WebSocket (never logged: see the
// request serializer in app.ts).
import type { IncomingHttpHeaders } from 'node:http';

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

export function socketToken(headers: IncomingHttpHeaders, query: unknown): string | undefined {
  const fromHeader = bearerToken(headers);
  if (fromHeader) return fromHeader;
  const q = (query ?? {}) as Record<string, unknown>;
  return typeof q.token === 'string' && q.token !== '' ? q.token : undefined;
}
