/**
 * `npx lab console`: a small local web page with what a Kafka UI and a dashboard give during an
 * experiment (topics with leader, ISR, LEO/HW/LSO; groups and lag; the DLQ's records decoded; the
 * outbox backlog; Prometheus panels; firing alerts; the fault log of `lab chaos`). fastify, bound to
 * 127.0.0.1 only.
 *
 *   const console = await startConsole(connectEnvironment(readDescriptor()!), { port: 0 });
 *   console.url   // http://127.0.0.1:41234/
 *   await console.close();
 *
 * No Kafka UI or Grafana is installable here (issue 15), so this page is the lab's own; Docker users
 * with a registry also get Kafka UI and Grafana from docker-compose.yml.
 */
import Fastify from 'fastify';
import type { LabEnvironment } from '../infra/environment.ts';
import { ConsoleSource } from './snapshot.ts';
import { consolePage } from './page.ts';

export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

export async function startConsole(env: LabEnvironment, options: { port?: number } = {}): Promise<RunningConsole> {
  const source = new ConsoleSource(env);
  const app = Fastify({ logger: false });
  const page = consolePage();
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get<{ Querystring: { filter?: string } }>('/api/overview', async (request) => source.overview({ filter: String(request.query.filter ?? '').slice(0, 200) }));
  app.get('/api/dlq', async () => source.deadLetters());
  app.get('/api/metrics', async () => source.metrics().catch((error: Error) => ({ available: false, reason: `Prometheus: ${error.message}`, series: [] })));
  app.get('/api/alerts', async () => source.alerts().catch(() => ({ available: false, alerts: [] })));
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      await app.close();
      await source.close();
    },
  };
}
