/**
 * query-service: reads account balances from the projection (account_balance_view) through the
 * balance cache (src/cache/balance-cache.ts: cache-aside over Redis with single-flight, a Redis refresh
 * lock with stale serving, XFetch early refresh, TTL jitter and a versioned populate, each switchable).
 *
 *   GET /accounts/:id/balance   200 {accountId, balance, version, source: 'cache' | 'db' | 'stale', degraded?: 'redis-unavailable'}
 *                               404 unknown account, 400 invalid id (with the reason)
 *
 * 'stale' flags a value served past its freshness while another caller refreshes it, so a client (and
 * the E-008/E-023 checkers) can tell a degraded answer from a fresh one.
 */
import { Redis } from 'ioredis';
import type { RowDataPacket } from 'mysql2';
import { BalanceCache, type BalanceCacheOptions, type BalanceRow, type CacheEvent } from '../../cache/balance-cache.ts';
import type { MysqlConfig, RedisConfig } from '../../config.ts';
import { createPool } from '../../db/pool.ts';
import { HttpError, createHttpServer, listen } from '../../http/server.ts';
import { createLogger } from '../../observability/logger.ts';
import { dependencyGuard, guardedRedis, guardMetrics, type GuardOptions } from '../../resilience/index.ts';
import { ServiceMetrics } from '../../observability/metrics.ts';
import { idPattern } from '../command/validation.ts';
import type { RunningService } from '../service.ts';

export interface QueryServiceConfig {
  mysql: MysqlConfig;
  redis: RedisConfig;
  httpPort?: number;
  logLevel?: string;
  /** Defaults: ttlMs 30000, ttlJitter 0.1, staleMs 5000, every defense on, populate 'set-if-newer'. */
  cache?: Partial<BalanceCacheOptions>;
  /** MySQL pool size (default 10): small on purpose, so a stampede shows as pool saturation. */
  dbConnections?: number;
  /**
   * E-023: a timeout and circuit breaker around the cache's Redis calls (src/resilience). Default
   * `{ mode: 'none' }`: Redis is called as before (ioredis waits for an answer as long as it takes).
   * With `mode: 'breaker'` a hung or slow Redis costs a read `timeoutMs` until the breaker opens, then
   * reads go straight to the DB and answer `degraded: 'redis-unavailable'` while it is open.
   */
  resilience?: { redis?: GuardOptions };
}

const accountIdPattern = new RegExp(idPattern);

export async function startQueryService(config: QueryServiceConfig): Promise<RunningService> {
  const logger = createLogger('query', config.logLevel);
  const metrics = new ServiceMetrics('query');
  const counters: Record<CacheEvent, { inc(): void }> = {
    hit: metrics.counter('cache_hits_total', 'Balance reads answered by a fresh cache entry'),
    miss: metrics.counter('cache_misses_total', 'Balance reads without a fresh cache entry'),
    'stale-served': metrics.counter('cache_stale_served_total', 'Reads answered with a stale entry while another caller refreshed'),
    'early-refresh': metrics.counter('cache_early_refresh_total', 'XFetch refreshes started before expiry'),
    'db-query': metrics.counter('db_queries_total', 'Projection reads sent to MySQL'),
    'lock-wait': metrics.counter('cache_lock_waits_total', 'Refreshes that found the Redis refresh lock taken'),
    'populate-rejected': metrics.counter('cache_populate_rejected_total', 'Populates skipped by set-if-newer: the cache already held a newer version'),
  };

  const pool = createPool(config.mysql, config.dbConnections ?? 10);
  // No ioredis keyPrefix: balanceKey() already carries the prefix, the consumer writes the same keys.
  const redis = new Redis({
    host: config.redis.host,
    port: config.redis.port,
    ...(config.redis.password ? { password: config.redis.password } : {}),
    maxRetriesPerRequest: 2,
  });
  redis.on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
  const redisOptions = config.resilience?.redis;
  const redisGuard = dependencyGuard('redis', redisOptions, () => true, redisOptions?.mode === 'breaker' ? guardMetrics(metrics, 'redis') : {});

  const load = async (accountId: string): Promise<BalanceRow | undefined> => {
    const [rows] = await pool.execute<RowDataPacket[]>('SELECT balance, version FROM account_balance_view WHERE account_id = ?', [accountId]);
    const row = rows[0];
    return row ? { balance: Number(row.balance), version: Number(row.version) } : undefined;
  };
  const cache = new BalanceCache({
    redis: guardedRedis(redis, redisGuard),
    keyPrefix: config.redis.keyPrefix,
    load,
    logger,
    ...(config.cache ? { options: config.cache } : {}),
    onEvent: (event) => counters[event].inc(),
  });

  const app = createHttpServer({ metrics, logger });
  app.get<{ Params: { id: string } }>('/accounts/:id/balance', async (request, reply) => {
    const accountId = request.params.id;
    if (!accountIdPattern.test(accountId)) {
      throw new HttpError(400, 'invalid-account-id', `account id must match ${idPattern} (1 to 64 letters, digits, '_' or '-')`);
    }
    const read = await cache.get(accountId);
    if (!read.value) throw new HttpError(404, 'account-not-found', `no balance for account '${accountId}'`);
    reply.header('cache-control', 'no-store');
    // The DB answered because the cache tier is unavailable (not merely a miss): say so to the client.
    const degraded = read.source === 'db' && redisGuard.state() !== 'closed' ? { degraded: 'redis-unavailable' } : {};
    return { accountId, balance: read.value.balance, version: read.value.version, source: read.source, ...degraded };
  });

  const url = await listen(app, config.httpPort ?? 0);
  logger.info({ url, cache: cache.options }, 'query-service started');
  let stopped: Promise<void> | undefined;
  return {
    name: 'query',
    url,
    metrics,
    stop: () =>
      (stopped ??= (async () => {
        await app.close();
        await cache.settle();
        await Promise.allSettled([redis.quit(), pool.end()]);
      })()),
  };
}
