/**
 * The experiments' client of the command-service: every command becomes an operation in the history
 * with the outcome rules of the field:
 *   201                   ok    (value: the event ids the service reports)
 *   400/404/409/422       fail  (definitely not applied: validation, unknown account, insufficient funds)
 *   5xx, timeout, reset   info  (unknown: in direct mode the DB may have committed before the error)
 */
import { Pool } from 'undici';
import type { History } from '../history/history.ts';

export interface CommandResult {
  status: number;
  body: { eventIds?: string[]; error?: string; reason?: string } & Record<string, unknown>;
}

export class WalletClient {
  private readonly http: Pool;

  constructor(
    readonly url: string,
    private readonly history?: History,
    options: { connections?: number; timeoutMs?: number } = {},
  ) {
    this.http = new Pool(url, { connections: options.connections ?? 16, headersTimeout: options.timeoutMs ?? 10_000, bodyTimeout: options.timeoutMs ?? 10_000 });
  }

  async post(process: string, f: string, path: string, body: object, idempotencyKey: string): Promise<CommandResult | undefined> {
    const op = this.history?.invoke(process, f, { path, body, idempotencyKey });
    try {
      const response = await this.http.request({
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(body),
      });
      const json = (await response.body.json().catch(() => ({}))) as CommandResult['body'];
      const result = { status: response.statusCode, body: json };
      if (response.statusCode >= 200 && response.statusCode < 300) op?.ok({ status: result.status, eventIds: json.eventIds ?? [] });
      else if (response.statusCode < 500) op?.fail(json.error ?? `HTTP ${response.statusCode}`, { status: result.status });
      else op?.info(json.reason ?? `HTTP ${response.statusCode}`, { status: result.status });
      return result;
    } catch (error) {
      op?.info(error);
      return undefined;
    }
  }

  open(process: string, accountId: string, key = `open-${accountId}`) {
    return this.post(process, 'open', '/accounts', { accountId, owner: `owner of ${accountId}`, currency: 'KRW' }, key);
  }

  deposit(process: string, accountId: string, amount: number, key: string) {
    return this.post(process, 'deposit', `/accounts/${accountId}/deposits`, { amount }, key);
  }

  withdraw(process: string, accountId: string, amount: number, key: string) {
    return this.post(process, 'withdraw', `/accounts/${accountId}/withdrawals`, { amount }, key);
  }

  transfer(process: string, fromAccountId: string, toAccountId: string, amount: number, key: string) {
    return this.post(process, 'transfer', '/transfers', { fromAccountId, toAccountId, amount }, key);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** Event ids of acknowledged and unknown-outcome commands, for the delivery checker. */
export function attemptsFromHistory(history: History): Array<{ id: string; outcome: 'ok' | 'fail' | 'info' }> {
  return history
    .operations()
    .filter((op) => op.type === 'ok')
    .flatMap((op) => ((op.value as { eventIds?: string[] })?.eventIds ?? []).map((id) => ({ id, outcome: 'ok' as const })));
}
