// The logger every part of the service receives: Fastify's pino logger fits it, and so do the CLI's
// quiet logger and the tests' recording one.
export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}
