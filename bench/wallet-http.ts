/**
 * The command-service's HTTP API as the bench calls it: an undici Pool (keep-alive, one request per
 * connection at a time), every POST with its Idempotency-Key, anything but 201 an error — a bench that
 * counts 4xx/5xx as throughput would flatter a failing service.
 */
import { Pool } from 'undici';

export class WalletHttp {
  private readonly pool: Pool;

  constructor(url: string, connections: number) {
    this.pool = new Pool(url, { connections, pipelining: 1 });
  }

  private async post(path: string, body: object, key: string): Promise<{ eventIds: string[] }> {
    const response = await this.pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    const text = await response.body.text();
    if (response.statusCode !== 201) throw new Error(`POST ${path} → HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as { eventIds: string[] };
  }

  async openAccounts(accounts: string[], keyPrefix: string): Promise<void> {
    await Promise.all(accounts.map((accountId) => this.post('/accounts', { accountId, owner: 'bench', currency: 'KRW' }, `${keyPrefix}-open-${accountId}`)));
  }

  /** One deposit; resolves with its event id. */
  async deposit(accountId: string, amount: number, key: string): Promise<string> {
    return (await this.post(`/accounts/${accountId}/deposits`, { amount }, key)).eventIds[0]!;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
