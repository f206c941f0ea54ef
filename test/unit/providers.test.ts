import { describe, expect, it } from 'vitest';
import { decideProvider, type ImagesState, type ProviderProbes } from '../../lab/infra/providers/choice.ts';

const probes = (engine: boolean, images: ImagesState = { usable: true, how: 'built' }): ProviderProbes & { asked: string[] } => {
  const asked: string[] = [];
  return {
    asked,
    engineAnswers: () => (asked.push('engine'), engine),
    images: () => (asked.push('images'), images),
  };
};

describe('provider choice', () => {
  it('defaults to local processes without a Docker engine, without asking about images', () => {
    const machine = probes(false);
    expect(decideProvider({}, machine)).toEqual({ provider: 'local', reason: expect.stringMatching(/no Docker engine answers/) });
    expect(machine.asked).toEqual(['engine']);
  });

  it('defaults to containers once an engine answers and the images are built or can be built', () => {
    expect(decideProvider({}, probes(true))).toEqual({ provider: 'containers', reason: 'a Docker engine answers and the images are built' });
    expect(decideProvider({}, probes(true, { usable: true, how: 'buildable' }))).toEqual({ provider: 'containers', reason: 'a Docker engine answers and the images can be built here' });
  });

  it('falls back to local, saying why, when an engine answers but no image can be built', () => {
    const choice = decideProvider({}, probes(true, { usable: false, why: 'no base image and no debootstrap' }));
    expect(choice.provider).toBe('local');
    expect(choice.reason).toContain('no base image and no debootstrap');
  });

  it('uses an external cluster when its brokers are given, without probing the engine', () => {
    const machine = probes(true);
    expect(decideProvider({ LAB_KAFKA_BROKERS: 'kafka-1:9092' }, machine).provider).toBe('external');
    expect(machine.asked).toEqual([]);
  });

  it('obeys LAB_PROVIDER and rejects unknown names with the valid ones', () => {
    expect(decideProvider({ LAB_PROVIDER: 'local' }, probes(true))).toEqual({ provider: 'local', reason: 'LAB_PROVIDER=local' });
    expect(decideProvider({ LAB_PROVIDER: 'containers' }, probes(false)).provider).toBe('containers');
    expect(() => decideProvider({ LAB_PROVIDER: 'k8s' }, probes(true))).toThrow(/use local, containers or external/);
  });
});
