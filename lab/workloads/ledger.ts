/**
 * The ledger workload driver, after Jepsen's bank workload: opens a generated workload's accounts (with
 * their opening deposit), then sends its deposits, withdrawals and transfers through `concurrency`
 * clients, paced so the run lasts at least `minDurationMs` (faults need time to land while commands
 * flow). Every command goes through the WalletClient, so the history holds its invoke and ok / fail /
 * info (a timeout while a service dies is `info`, never a failure: the driver keeps going).
 * `beforeCommand(index)` runs before command `index`: where a fault schedule fires its faults.
 */
import type { WalletClient } from '../clients/wallet-client.ts';
import type { Workload } from '../generators/workload.ts';
import { sleep } from '../infra/ports.ts';

export function ledgerAccounts(workload: Workload): string[] {
  return Array.from({ length: workload.accounts }, (_, i) => `acct-${i}`);
}

export async function openAccounts(client: WalletClient, workload: Workload): Promise<string[]> {
  const accounts = ledgerAccounts(workload);
  for (const account of accounts) {
    await client.open('setup', account);
    if (workload.openingBalance > 0) await client.deposit('setup', account, workload.openingBalance, `opening-${account}`);
  }
  return accounts;
}

/** Runs the commands; resolves with the seconds they took. */
export async function runLedgerCommands(client: WalletClient, workload: Workload, options: { minDurationMs: number; beforeCommand?: (index: number) => Promise<void> }): Promise<number> {
  const accounts = ledgerAccounts(workload);
  const paceMs = (options.minDurationMs * workload.concurrency) / workload.commands.length;
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: workload.concurrency }, async (_, worker) => {
      while (next < workload.commands.length) {
        const index = next;
        next += 1;
        await options.beforeCommand?.(index);
        await sleep(paceMs);
        const c = workload.commands[index]!;
        const [process, key] = [`client-${worker}`, `cmd-${index}`];
        if (c.kind === 'deposit') await client.deposit(process, accounts[c.account]!, c.amount, key);
        else if (c.kind === 'withdraw') await client.withdraw(process, accounts[c.account]!, c.amount, key);
        else await client.transfer(process, accounts[c.from]!, accounts[c.to]!, c.amount, key);
      }
    }),
  );
  return (Date.now() - started) / 1000;
}
