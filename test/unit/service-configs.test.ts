/**
 * Each service's config type follows from its name (src/contract.ts `ServiceConfigs`), for in-process
 * `startService` and for `startServiceProcess`/`arena.start`: a key the service does not know is a type
 * error. The `@ts-expect-error` lines below are checked by `npm run typecheck` (it fails if one of them
 * stops being an error); the run-time part checks that every name the contract lists can be started.
 */
import { describe, expect, it } from 'vitest';
import { isServiceName, serviceNames, type CommonConfig, type ServiceName } from '../../src/contract.ts';
import type { Arena } from '../../lab/infra/arena.ts';
import type { startServiceProcess as StartServiceProcess } from '../../lab/infra/services.ts';
import type { startService as StartService } from '../../src/contract.ts';

// Never called: these lines exist for the type checker.
export function typeChecks(startServiceProcess: typeof StartServiceProcess, startService: typeof StartService, arena: Arena, common: CommonConfig): void {
  void startServiceProcess('consumer', { ...common, groupId: 'g', commit: 'before-processing' });
  // another build: its reader schema, and the processed_event group of the build it replaces (E-006, E-015)
  void startServiceProcess('consumer', { ...common, groupId: 'g.v2', envelopeSchemaFile: 'v2.avsc', dedupeGroup: 'g' });
  // @ts-expect-error the reader schema is a file path, not a parsed schema
  void startServiceProcess('consumer', { ...common, groupId: 'g', envelopeSchemaFile: { type: 'record' } });
  // @ts-expect-error `groupid` is not a consumer key (misspelt groupId)
  void startServiceProcess('consumer', { ...common, groupId: 'g', groupid: 'g' });
  const built = { ...common, groupId: 'g', notificationURL: 'http://x' };
  // @ts-expect-error a config built elsewhere with a foreign key is refused too (`notificationUrl`)
  void startServiceProcess('consumer', built);
  // @ts-expect-error `mode` of the command-service takes 'outbox' | 'direct'
  void startServiceProcess('command', { ...common, mode: 'dual-write' });
  // @ts-expect-error the consumer needs its groupId
  void startServiceProcess('consumer', { ...common });
  // @ts-expect-error not a service
  void startServiceProcess('producer', {});

  void arena.start('relay', { relayId: 'r', batchSize: 20 }, 'relay.after-publish-before-mark=crash');
  // @ts-expect-error `mode` is the command-service's key, not the relay's
  void arena.start('relay', { mode: 'direct' });

  void startService('query', { mysql: common.mysql, redis: { host: 'h', port: 1, keyPrefix: 'p' }, cache: { ttlMs: 1000 } });
  // @ts-expect-error the query-service's cache has no `ttl` (it is `ttlMs`)
  void startService('query', { mysql: common.mysql, redis: { host: 'h', port: 1, keyPrefix: 'p' }, cache: { ttl: 1000 } });
}

describe('service names', () => {
  it('lists the seven services, and isServiceName tells them from other strings', () => {
    expect([...serviceNames].sort()).toEqual(['backfill', 'command', 'consumer', 'notification-gateway', 'query', 'relay', 'replay']);
    for (const name of serviceNames) expect(isServiceName(name)).toBe(true);
    expect(isServiceName('producer')).toBe(false);
    expect(isServiceName('toString')).toBe(false); // an own key, not one inherited from Object.prototype
  });

  it('every name loads a start function', async () => {
    const { serviceStarters } = await import('../../src/services/index.ts');
    for (const name of serviceNames as ServiceName[]) expect(typeof (await serviceStarters[name]())).toBe('function');
  });
});
