// @fastify/rate-limit settings for GET /labels (DESIGN.md §3; the old backend allowed 60 a minute).
// Counts per user (per client address for requests without a principal), in Redis when configured
// so that every instance shares the count.
import type { FastifyRequest } from 'fastify';
import type { RateLimitOptions, RateLimitPluginOptions } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { rateLimited } from '../errors.js';

/**
 * Options for registering @fastify/rate-limit once at the root (global: false: only routes that ask
 * are limited). With Redis the counters live under `<REDIS_PREFIX>rate:`.
 */
export function rateLimitPluginOptions(config: Pick<Config, 'redisPrefix'>, redis: Redis | null): RateLimitPluginOptions {
  return {
    global: false,
    ...(redis ? { redis, nameSpace: `${config.redisPrefix}rate:` } : {}),
    // A Redis hiccup must not turn every limited request into a 500.
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) => rateLimited(ctx.ttl / 1000),
  };
}

/**
 * Route options for GET /labels: `config: { rateLimit: labelsRateLimit(config) }`, with the route's
 * requireAuth running first (as onRequest or preHandler) so the count is per user.
 */
export function labelsRateLimit(config: Pick<Config, 'labelsRateMax' | 'labelsRateWindowMs'>): RateLimitOptions {
  return {
    max: config.labelsRateMax,
    timeWindow: config.labelsRateWindowMs,
    // After the route's own preHandlers (requireAuth), so request.principal is known.
    hook: 'preHandler',
    keyGenerator: (req: FastifyRequest) => (req.principal ? `labels:u:${req.principal.userId}` : `labels:ip:${req.ip}`),
    errorResponseBuilder: (_req, ctx) => rateLimited(ctx.ttl / 1000),
  };
}
