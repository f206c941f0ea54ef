/**
 * Steady traffic for outage experiments (E-023): writers send deposits to the command-service, readers
 * read balances from the query-service, each worker one request at a time and at most one per
 * `periodMs` (a worker whose request hangs sends nothing meanwhile, as a client with a timeout does).
 * Every request is an operation in the history: writes through WalletClient (`deposit`: 201 ok, 5xx or
 * timeout info), reads as `read` (200 ok with the answer's source and degraded flag, anything else info).
 */
import { Pool } from 'undici';
import { WalletClient } from '../clients/wallet-client.ts';
import type { History } from '../history/history.ts';
import { sleep } from '../infra/ports.ts';

export interface PacedLoadOptions {
  commandUrl: string;
  /** Needed when `readers` > 0. */
  queryUrl?: string;
  accounts: readonly string[];
  writers: number;
  readers: number;
  periodMs: number;
  /** The client's patience per request. */
  timeoutMs: number;
}

export function startPacedLoad(history: History, options: PacedLoadOptions): { stop(): Promise<void> } {
  const writes = new WalletClient(options.commandUrl, history, { connections: options.writers, timeoutMs: options.timeoutMs });
  const reads = options.readers > 0 ? new Pool(options.queryUrl!, { connections: options.readers, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs }) : undefined;
  let running = true;
  let sent = 0;
  const paced = async (request: (n: number) => Promise<unknown>) => {
    while (running) {
      const started = performance.now();
      await request((sent += 1));
      await sleep(Math.max(0, options.periodMs - (performance.now() - started)));
    }
  };
  const read = async (worker: number, n: number) => {
    const accountId = options.accounts[n % options.accounts.length]!;
    const op = history.invoke(`reader-${worker}`, 'read', { accountId });
    try {
      const response = await reads!.request({ method: 'GET', path: `/accounts/${accountId}/balance` });
      const body = (await response.body.json().catch(() => ({}))) as { source?: string; degraded?: string };
      if (response.statusCode === 200) op.ok({ status: 200, source: body.source, degraded: body.degraded });
      else op.info(`HTTP ${response.statusCode}`, { status: response.statusCode });
    } catch (error) {
      op.info(error);
    }
  };
  const workers = [
    ...Array.from({ length: options.writers }, (_, w) => paced((n) => writes.deposit(`writer-${w}`, options.accounts[(w + n) % options.accounts.length]!, 1 + (n % 9), `load-${w}-${n}`))),
    ...Array.from({ length: options.readers }, (_, r) => paced((n) => read(r, n))),
  ];
  let stopped: Promise<void> | undefined;
  return {
    /** Idempotent: waits for the workers' last requests, then closes the clients. */
    stop: () =>
      (stopped ??= (async () => {
        running = false;
        await Promise.all(workers);
        await Promise.all([writes.close(), reads?.close()]);
      })()),
  };
}
