/**
 * 4. End to end: command committed → projection applied, at fixed command rates.
 *
 * Per repetition, fresh database and topics, the three services each as its own OS process, the way
 * they run in production and in the experiments (an event loop each: in the bench's own process they
 * would share one with the load driver): command-service (outbox mode), outbox-relay, consumer-service.
 * The accounts are opened over HTTP, and the measurement
 * starts only once the consumer has APPLIED every AccountOpened: its group has joined and it is
 * applying, so no rate pays for the join. Then for each rate, ascending: a warm-up at that rate (not
 * counted), `seconds` at that rate (deposits round-robin over the accounts, open loop: see drivers.ts),
 * and a wait until everything sent so far is applied, so the next rate starts without a backlog.
 * Latency per measured deposit = applied_event_log.applied_at − ledger_entries.created_at, both MySQL's
 * own microsecond timestamps (no client clock): from the command's domain write inside its transaction
 * to the projection's write inside the consumer's. A request queued in the HTTP client before the
 * service saw it is not in the latency; it shows as an achieved rate below the target rate.
 * The latency is split at outbox_event.published_at (the relay's mark, after Kafka acknowledged): the
 * relay leg (command committed → acknowledged and marked) and the consumer leg (marked → applied; it can
 * be slightly negative, the mark being written after the acknowledgement the consumer may already have
 * acted on). Their p99s show which leg a missed target is in.
 * Bounded, so an overloaded machine ends the bench instead of queueing for an hour: at most
 * `maxInFlight` requests unanswered (later arrivals are skipped, lowering the achieved rate), and at most
 * `drainLimitMs` of waiting for the projection after a phase. A deposit not applied by then counts as an
 * infinite latency ("unfinished" once it reaches the percentile), and the higher rates of that
 * repetition are not run (n/a): they would start behind a backlog.
 */
import type { RowDataPacket } from 'mysql2';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import type { Runtime } from '../lab/infra/runtimes.ts';
import { startServiceProcess, type ServiceProcess } from '../lab/infra/services.ts';
import { sleep } from '../lab/infra/ports.ts';
import { percentile } from '../lab/util/statistics.ts';
import { paced } from './drivers.ts';
import { residentMiB } from './memory.ts';
import { progress, repetitions } from './progress.ts';
import { drainTimeoutMs, scalar, withScope, type Scope } from './scope.ts';
import type { BenchSettings } from './settings.ts';
import { ratioSample, sample, type Heading, type Row, type Sample } from './table.ts';
import { WalletHttp } from './wallet-http.ts';
import { benchAccounts } from './workload.ts';

interface RateResult {
  p50: Sample;
  p99: Sample;
  relayP99: Sample;
  consumerP99: Sample;
  achieved: Sample;
}

interface Legs {
  total: number[];
  relay: number[];
  consumer: number[];
}

const maxInFlight = 256;
const drainLimitMs = (settings: BenchSettings) => Math.max(60_000, settings.seconds * 8_000);

/** p99 targets of the issue, by rate. */
const p99TargetMs: Record<number, number> = { 500: 250, 1000: 1000 };

async function latenciesMs(scope: Scope, eventIds: string[]): Promise<Legs> {
  const legs: Legs = { total: [], relay: [], consumer: [] };
  for (let i = 0; i < eventIds.length; i += 1000) {
    const [rows] = await scope.database.pool.query<RowDataPacket[]>(
      `SELECT TIMESTAMPDIFF(MICROSECOND, l.created_at, a.applied_at) AS total,
              TIMESTAMPDIFF(MICROSECOND, l.created_at, o.published_at) AS relay,
              TIMESTAMPDIFF(MICROSECOND, o.published_at, a.applied_at) AS consumer
         FROM ledger_entries l JOIN applied_event_log a ON a.event_id = l.event_id
         JOIN outbox_event o ON o.event_id = l.event_id
        WHERE l.event_id IN (?)`,
      [eventIds.slice(i, i + 1000)],
    );
    for (const row of rows) {
      legs.total.push(Number(row.total) / 1000);
      legs.relay.push(Number(row.relay) / 1000);
      legs.consumer.push(Number(row.consumer) / 1000);
    }
  }
  if (legs.total.length > eventIds.length) throw new Error(`${eventIds.length} deposits were applied ${legs.total.length} times`);
  return legs;
}

async function oneRepetition(env: LabEnvironment, settings: BenchSettings, rss: Sample[], runtime: Runtime): Promise<Map<number, RateResult>> {
  return withScope(env, 'bench_e2e', async (scope) => {
    progress(`  services on ${runtime}`);
    const services: ServiceProcess[] = [];
    let http: WalletHttp | undefined;
    try {
      services.push(await startServiceProcess('command', { ...scope.config, mode: 'outbox' }, { runtime }));
      services.push(await startServiceProcess('relay', { ...scope.config, relayId: `${scope.id}-relay` }, { runtime }));
      services.push(await startServiceProcess('consumer', { ...scope.config, groupId: `${scope.id}.projection` }, { runtime }));
      const failure = () => services.find((service) => !service.isRunning());
      http = new WalletHttp(services[0]!.url, 64);
      const accounts = benchAccounts(settings.accounts);
      const applied = () => scalar(scope.database, 'SELECT COUNT(*) FROM applied_event_log');
      /** True once `count` events are applied, false when `limitMs` passed first. */
      const appliedWithin = async (count: number, limitMs: number) => {
        const deadline = Date.now() + limitMs;
        for (;;) {
          const dead = failure();
          if (dead) throw new Error(`${dead.name} exited (${JSON.stringify(dead.exitStatus())}); its log's last lines:\n${dead.log().split('\n').slice(-20).join('\n')}`);
          if ((await applied()) >= count) return true;
          if (Date.now() > deadline) return false;
          await sleep(100);
        }
      };

      await http.openAccounts(accounts, scope.id);
      if (!(await appliedWithin(accounts.length, drainTimeoutMs(accounts.length)))) throw new Error('the consumer did not apply the AccountOpened events in time (group never joined?)');
      rss.push(sample(services.reduce((sum, service) => sum + (residentMiB(service.pid) ?? Number.NaN), 0)));
      let sent = 0;
      const results = new Map<number, RateResult>();
      for (const rate of settings.rates) {
        const deposit = (phase: string) => (i: number) => http!.deposit(accounts[i % accounts.length]!, 100 + (i % 900), `${scope.id}-${rate}-${phase}-${i}`);
        const warm = await paced(rate, settings.warmupSeconds, deposit('warm'), maxInFlight);
        const run = await paced(rate, settings.seconds, deposit('run'), maxInFlight);
        sent += warm.results.length + run.results.length;
        const drained = await appliedWithin(accounts.length + sent, drainLimitMs(settings));
        const legs = await latenciesMs(scope, run.results);
        // Not applied within the limit: slower than any measured latency, so +Infinity, not left out.
        for (let missing = run.results.length - legs.total.length; missing > 0; missing -= 1) legs.total.push(Number.POSITIVE_INFINITY);
        const result = {
          p50: sample(percentile(legs.total, 50)),
          p99: sample(percentile(legs.total, 99)),
          relayP99: sample(percentile(legs.relay, 99)),
          consumerP99: sample(percentile(legs.consumer, 99)),
          achieved: sample(run.achievedRate),
        };
        progress(
          `  ${rate}/s: achieved ${Math.round(run.achievedRate)}/s (${run.skipped} arrivals skipped at ${maxInFlight} in flight), p50 ${result.p50.value.toFixed(1)} ms, p99 ${result.p99.value.toFixed(1)} ms (relay leg ${result.relayP99.value.toFixed(1)}, consumer leg ${result.consumerP99.value.toFixed(1)})` +
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
  // With several runtimes, each repetition runs every runtime in turn (the order rotating per repetition),
  // so their numbers are taken side by side under the same load, and the ratios to the first are per repetition.
  const { runtimes } = settings;
  const rss = new Map<Runtime, Sample[]>(runtimes.map((runtime) => [runtime, []]));
  const runs = await repetitions(settings.repeats, 'end-to-end latency', async (repetition) => {
    const byRuntime = new Map<Runtime, Map<number, RateResult>>();
    for (let i = 0; i < runtimes.length; i += 1) {
      const runtime = runtimes[(i + repetition) % runtimes.length]!;
      byRuntime.set(runtime, await oneRepetition(env, settings, rss.get(runtime)!, runtime));
    }
    return byRuntime;
  });
  const lines: Array<Row | Heading> = [
    { heading: `4. end to end, command committed -> projection applied, ${settings.accounts} accounts, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s per rate, consumer joined first; services on ${runtimes.join(', ')}` },
  ];
  const notRun: Sample = { value: Number.NaN, load: Number.NaN };
  const label = (runtime: Runtime) => (runtimes.length > 1 ? ` [${runtime}]` : '');
  const baseline = runtimes[0]!;
  for (const rate of settings.rates) {
    const target = p99TargetMs[rate];
    for (const runtime of runtimes) {
      const at = (run: Map<Runtime, Map<number, RateResult>>, which: Runtime) => run.get(which)!.get(rate);
      const of = (pick: (result: RateResult) => Sample) => runs.map((run) => { const r = at(run, runtime); return r ? pick(r) : notRun; });
      lines.push(
        { name: `   at ${rate}/s${label(runtime)}: achieved commands/s`, format: 'rate', samples: of((r) => r.achieved) },
        { name: `   at ${rate}/s${label(runtime)}: p50 latency, ms`, format: 'ms', samples: of((r) => r.p50) },
        { name: `   at ${rate}/s${label(runtime)}: p99 latency, ms`, format: 'ms', samples: of((r) => r.p99), ...(target ? { target: { op: '<=' as const, value: target } } : {}) },
        { name: `   at ${rate}/s${label(runtime)}: p99 of the relay leg (committed -> marked), ms`, format: 'ms', samples: of((r) => r.relayP99) },
        { name: `   at ${rate}/s${label(runtime)}: p99 of the consumer leg (marked -> applied), ms`, format: 'ms', samples: of((r) => r.consumerP99) },
      );
      if (runtime === baseline) continue;
      const ratio = (pick: (result: RateResult) => Sample) =>
        runs.map((run) => { const mine = at(run, runtime); const base = at(run, baseline); return mine && base ? ratioSample(pick(mine), pick(base)) : notRun; });
      lines.push(
        { name: `   at ${rate}/s: achieved rate, ${runtime} / ${baseline}`, format: 'ratio', samples: ratio((r) => r.achieved) },
        { name: `   at ${rate}/s: p99, ${runtime} / ${baseline}`, format: 'ratio', samples: ratio((r) => r.p99) },
      );
    }
  }
  for (const runtime of runtimes) lines.push({ name: `   RSS of the 3 service processes together, idle and joined${label(runtime)}, MiB`, format: 'MiB', samples: rss.get(runtime)! });
  return lines;
}
