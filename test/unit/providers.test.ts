import { describe, expect, it } from 'vitest';
import { chooseProvider } from '../../lab/infra/providers/index.ts';

describe('provider choice', () => {
  const noDocker = () => false;
  const docker = () => true;

  it('defaults to local processes without a Docker engine, to containers with one', () => {
    expect(chooseProvider({}, noDocker)).toBe('local');
    expect(chooseProvider({}, docker)).toBe('containers');
  });

  it('uses an external cluster when its brokers are given', () => {
    expect(chooseProvider({ LAB_KAFKA_BROKERS: 'kafka-1:9092' }, docker)).toBe('external');
  });

  it('obeys LAB_PROVIDER and rejects unknown names with the valid ones', () => {
    expect(chooseProvider({ LAB_PROVIDER: 'local' }, docker)).toBe('local');
    expect(() => chooseProvider({ LAB_PROVIDER: 'k8s' }, docker)).toThrow(/use local, containers or external/);
  });
});
