/**
 * 4. End to end: command committed → projection applied, at fixed command rates.
 *
 * Per repetition, fresh database and topics, the three services in this process: command-service
 * (outbox mode), outbox-relay, consumer-service. The accounts are opened over HTTP, and the measurement
 * starts only once the consumer has APPLIED every AccountOpened: its group has joined and it is
 * applying, so no rate pays for the join. Then for each rate, ascending: a warm-up at that rate (not
 * counted), `seconds` at that rate (deposits round-robin over the accounts, open loop: see drivers.ts),
 * and a wait until everything sent so far is applied, so the next rate starts without a backlog.
 * Latency per measured deposit = applied_event_log.applied_at − ledger_entries.created_at, both MySQL's
 * own microsecond timestamps (no client clock): from the command's domain write inside its transaction
 * to the projection's write inside the consumer's. A request queued in the HTTP client before the
 * service saw it is not in the latency; it shows as an achieved rate below the target rate.
 * Bounded, so an overloaded machine ends the bench instead of queueing for an hour: at most
 * `maxInFlight` requests unanswered (later arrivals are skipped, lowering the achieved rate), and at most
 * `drainLimitMs` of waiting for the projection after a phase. A deposit not applied by then counts as an
 * infinite latency ("unfinished" once it reaches the percentile), and the higher rates of that
 * repetition are not run (n/a): they would start behind a backlog.
 */
import type { RowDataPacket } from 'mysql2';
import { startCommandService } from '../src/services/command/index.ts';
import { startConsumerService } from '../src/services/consumer/index.ts';
import { startOutboxRelay } from '../src/services/relay/index.ts';
import type { RunningService } from '../src/services/service.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { sleep } from '../lab/infra/ports.ts';
import { percentile } from '../lab/util/statistics.ts';
import { paced } from './drivers.ts';
import { progress, repetitions } from './progress.ts';
import { drainTimeoutMs, scalar, withScope, type Scope } from './scope.ts';
import type { BenchSettings } from './settings.ts';
import { sample, type Heading, type Row, type Sample } from './table.ts';
import { WalletHttp } from './wallet-http.ts';
import { benchAccounts } from './workload.ts';

interface RateResult {
  p50: Sample;
  p99: Sample;
  achieved: Sample;
}

const maxInFlight = 256;
const drainLimitMs = (settings: BenchSettings) => Math.max(60_000, settings.seconds * 8_000);

/** p99 targets of the issue, by rate. */
const p99TargetMs: Record<number, number> = { 500: 250, 1000: 1000 };

async function latenciesMs(scope: Scope, eventIds: string[]): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < eventIds.length; i += 1000) {
    const [rows] = await scope.database.pool.query<RowDataPacket[]>(
      `SELECT TIMESTAMPDIFF(MICROSECOND, l.created_at, a.applied_at) AS us
         FROM ledger_entries l JOIN applied_event_log a ON a.event_id = l.event_id
        WHERE l.event_id IN (?)`,
      [eventIds.slice(i, i + 1000)],
    );
    for (const row of rows) latencies.push(Number(row.us) / 1000);
  }
  if (latencies.length > eventIds.length) throw new Error(`${eventIds.length} deposits were applied ${latencies.length} times`);
  return latencies;
}

async function oneRepetition(env: LabEnvironment, settings: BenchSettings, rss: Sample[]): Promise<Map<number, RateResult>> {
  return withScope(env, 'bench_e2e', async (scope) => {
    const services: RunningService[] = [];
    let http: WalletHttp | undefined;
    try {
      services.push(await startCommandService({ ...scope.config, mode: 'outbox' }));
      services.push(await startOutboxRelay({ ...scope.config, relayId: `${scope.id}-relay` }));
      const consumer = await startConsumerService({ ...scope.config, groupId: `${scope.id}.projection` });
      services.push(consumer);
      let failure: Error | undefined;
      void consumer.failed?.then((error) => (failure = error));
      http = new WalletHttp(services[0]!.url, 64);
      const accounts = benchAccounts(settings.accounts);
      const applied = () => scalar(scope.database, 'SELECT COUNT(*) FROM applied_event_log');
      /** True once `count` events are applied, false when `limitMs` passed first. */
      const appliedWithin = async (count: number, limitMs: number) => {
        const deadline = Date.now() + limitMs;
        for (;;) {
          if (failure) throw new Error(`the consumer-service failed: ${failure.message}`);
          if ((await applied()) >= count) return true;
          if (Date.now() > deadline) return false;
          await sleep(100);
        }
      };

      await http.openAccounts(accounts, scope.id);
      if (!(await appliedWithin(accounts.length, drainTimeoutMs(accounts.length)))) throw new Error('the consumer did not apply the AccountOpened events in time (group never joined?)');
      rss.push(sample(process.memoryUsage().rss / 2 ** 20));
      let sent = 0;
      const results = new Map<number, RateResult>();
      for (const rate of settings.rates) {
        const deposit = (phase: string) => (i: number) => http!.deposit(accounts[i % accounts.length]!, 100 + (i % 900), `${scope.id}-${rate}-${phase}-${i}`);
        const warm = await paced(rate, settings.warmupSeconds, deposit('warm'), maxInFlight);
        const run = await paced(rate, settings.seconds, deposit('run'), maxInFlight);
        sent += warm.results.length + run.results.length;
        const drained = await appliedWithin(accounts.length + sent, drainLimitMs(settings));
        const latencies = await latenciesMs(scope, run.results);
        // Not applied within the limit: slower than any measured latency, so +Infinity, not left out.
        for (let missing = run.results.length - latencies.length; missing > 0; missing -= 1) latencies.push(Number.POSITIVE_INFINITY);
        const result = { p50: sample(percentile(latencies, 50)), p99: sample(percentile(latencies, 99)), achieved: sample(run.achievedRate) };
        progress(
          `  ${rate}/s: achieved ${Math.round(run.achievedRate)}/s (${run.skipped} arrivals skipped at ${maxInFlight} in flight), p50 ${result.p50.value.toFixed(1)} ms, p99 ${result.p99.value.toFixed(1)} ms` +
            (drained ? '' : `; not drained within ${drainLimitMs(settings) / 1000} s, higher rates not run`),
        );
        results.set(rate, result);
        if (!drained) break;
      }
      return results;
    } finally {
      await http?.close();
      for (const service of services.reverse()) await service.stop().catch(() => undefined);
    }
  });
}

export async function endToEndLatency(env: LabEnvironment, settings: BenchSettings): Promise<Array<Row | Heading>> {
  const rss: Sample[] = [];
  const runs = await repetitions(settings.repeats, 'end-to-end latency', () => oneRepetition(env, settings, rss));
  const lines: Array<Row | Heading> = [
    { heading: `4. end to end, command committed -> projection applied, ${settings.accounts} accounts, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s per rate, consumer joined first` },
  ];
  const notRun: Sample = { value: Number.NaN, load: Number.NaN };
  for (const rate of settings.rates) {
    const target = p99TargetMs[rate];
    const of = (pick: (result: RateResult) => Sample) => runs.map((run) => (run.has(rate) ? pick(run.get(rate)!) : notRun));
    lines.push(
      { name: `   at ${rate}/s: achieved commands/s`, format: 'rate', samples: of((r) => r.achieved) },
      { name: `   at ${rate}/s: p50 latency, ms`, format: 'ms', samples: of((r) => r.p50) },
      { name: `   at ${rate}/s: p99 latency, ms`, format: 'ms', samples: of((r) => r.p99), ...(target ? { target: { op: '<=' as const, value: target } } : {}) },
    );
  }
  lines.push({ name: '   bench process RSS, the 3 services idle and joined, MiB', format: 'MiB', samples: rss });
  return lines;
}
