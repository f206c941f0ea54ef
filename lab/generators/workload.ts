/**
 * Wallet workloads as fast-check arbitraries: a set of accounts with opening deposits, then a sequence
 * of deposits, withdrawals and transfers. Shrinking keeps a failing workload small and readable.
 */
import fc from 'fast-check';
import { outboxShard } from '../../src/contract.ts';

export type Command =
  | { kind: 'deposit'; account: number; amount: number }
  | { kind: 'withdraw'; account: number; amount: number }
  | { kind: 'transfer'; from: number; to: number; amount: number };

export interface Workload {
  accounts: number;
  openingBalance: number;
  commands: Command[];
  concurrency: number;
}

export function workloadArbitrary(options: { maxAccounts?: number; minCommands?: number; maxCommands?: number; maxConcurrency?: number } = {}): fc.Arbitrary<Workload> {
  const { maxAccounts = 8, minCommands = 20, maxCommands = 200, maxConcurrency = 8 } = options;
  return fc.integer({ min: 2, max: maxAccounts }).chain((accounts) => {
    const account = fc.integer({ min: 0, max: accounts - 1 });
    const amount = fc.integer({ min: 1, max: 5_000 });
    const command: fc.Arbitrary<Command> = fc.oneof(
      fc.record({ kind: fc.constant('deposit' as const), account, amount }),
      fc.record({ kind: fc.constant('withdraw' as const), account, amount }),
      fc
        .record({ kind: fc.constant('transfer' as const), from: account, to: account, amount })
        .map((t) => (t.from === t.to ? { ...t, to: (t.to + 1) % accounts } : t)),
    );
    return fc.record({
      accounts: fc.constant(accounts),
      openingBalance: fc.integer({ min: 0, max: 20_000 }),
      commands: fc.array(command, { minLength: minCommands, maxLength: maxCommands }),
      concurrency: fc.integer({ min: 1, max: maxConcurrency }),
    });
  });
}

/**
 * `count` account ids (`acct-0`, `acct-3`, …) that fall into distinct outbox shards: each shard's batches
 * then hold one account's events only, so a relay batch of 2 rows always carries a deposit after the
 * account's opening (E-003: a re-published batch always moves money a second time in a naive consumer).
 */
export function accountsInDistinctOutboxShards(count: number): string[] {
  const chosen = new Map<number, string>();
  for (let i = 0; chosen.size < count; i += 1) if (!chosen.has(outboxShard(`acct-${i}`))) chosen.set(outboxShard(`acct-${i}`), `acct-${i}`);
  return [...chosen.values()];
}
