/**
 * HTTP server shared by every service (fastify): 127.0.0.1 only, JSON errors with the reason,
 * and the operational endpoints every service has:
 *   GET /health                 200 {status:"ok"}, or 503 {status:"failed",reason} once the service failed
 *   GET /metrics                Prometheus text
 *   GET /failpoints             armed failpoints with hit/fire counts
 *   PUT /failpoints/:name       body: a spec (`crash`, `error(count=1)`, …); DELETE clears
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { failpoints } from '../failpoints/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import { findDuplicateKey, schemaErrorMessage } from './strict-json.ts';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

export function createHttpServer(options: {
  metrics: ServiceMetrics;
  logger: Logger;
  /** Undefined while healthy; a reason once the service can no longer do its job (/health answers 503). */
  failure?: () => string | undefined;
}): FastifyInstance {
  // Per-request logs off: experiments send thousands of requests; services log what matters themselves.
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // Refuse unknown properties instead of stripping them (Fastify's default), and name them (strict-json.ts).
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: (errors, dataVar) => new Error(schemaErrorMessage(errors, dataVar)),
  }) as unknown as FastifyInstance;
  const requests = options.metrics.histogram('http_request_duration_seconds', 'HTTP request latency', ['route', 'status']);
  app.addHook('onResponse', async (request, reply) => {
    requests.observe({ route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  // Fastify's JSON parser (prototype-poisoning protection kept), then: no key twice in one object.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    parseJson(request, text, (error, parsed) => {
      if (error) return done(error, undefined);
      const duplicate = findDuplicateKey(text);
      return duplicate === undefined ? done(null, parsed) : done(new HttpError(400, 'duplicate-key', `body has the key '${duplicate}' more than once; send each property once`), undefined);
    });
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown; code?: string }, request, reply) => {
    if (error instanceof HttpError) return reply.status(error.statusCode).send({ error: error.error, reason: error.message });
    if (error.validation || error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || (error.statusCode && error.statusCode < 500)) {
      return reply.status(error.statusCode && error.statusCode < 500 ? error.statusCode : 400).send({ error: 'bad-request', reason: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: 'internal', reason: error.message });
  });

  app.get('/health', async (_request, reply) => {
    const failure = options.failure?.();
    return failure === undefined ? { status: 'ok' } : reply.status(503).send({ status: 'failed', reason: failure });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  app.get('/failpoints', async () => failpoints.stats());
  app.put<{ Params: { name: string }; Body: string }>('/failpoints/:name', async (request) => {
    try {
      failpoints.set(request.params.name, String(request.body ?? ''));
    } catch (error) {
      throw new HttpError(400, 'bad-failpoint', (error as Error).message);
    }
    return failpoints.stats()[request.params.name] ?? { cleared: true };
  });
  app.delete<{ Params: { name: string } }>('/failpoints/:name', async (request) => {
    failpoints.clear(request.params.name);
    return { cleared: request.params.name };
  });
  return app;
}

/** Listens on 127.0.0.1 (port 0 = a free one) and returns the base URL. */
export async function listen(app: FastifyInstance, port = 0): Promise<string> {
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no TCP address');
  return `http://127.0.0.1:${address.port}`;
}
