/** Live reads of balances through the query-service while commands and faults run (for staleness). */
import { sleep } from '../infra/ports.ts';

export interface BalanceRead {
  key: string;
  /** Epoch ms of the answer. */
  time: number;
  version: number;
}

/** Polls the accounts' balances round robin every `intervalMs` until `stop()`, which resolves with the reads. */
export function readBalances(queryUrl: string, accounts: string[], intervalMs = 15): { stop(): Promise<BalanceRead[]> } {
  const reads: BalanceRead[] = [];
  let reading = true;
  const loop = (async () => {
    for (let i = 0; reading; i += 1) {
      const account = accounts[i % accounts.length]!;
      const response = await fetch(`${queryUrl}/accounts/${account}/balance`).catch(() => undefined);
      if (response?.ok) reads.push({ key: account, time: Date.now(), version: ((await response.json()) as { version: number }).version });
      else await response?.body?.cancel();
      await sleep(intervalMs);
    }
  })();
  return {
    stop: async () => {
      reading = false;
      await loop;
      return reads;
    },
  };
}
