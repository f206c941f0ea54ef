import { describe, expect, it } from 'vitest';
import { pauseContainer } from '../../lab/infra/local/process-control.ts';

const freezeFailure = Object.assign(new Error('Command failed: docker pause lab-x-broker-1'), {
  stderr: 'Error response from daemon: Cannot pause container 30ff: OCI runtime pause failed: unable to freeze: unknown\n',
});

describe('pauseContainer', () => {
  it('tries docker pause again when the freezer gives up, and stops once it worked', async () => {
    const calls: string[][] = [];
    await pauseContainer('lab-x-broker-1', 5, async (args) => {
      calls.push(args);
      if (calls.length < 3) throw freezeFailure;
    });
    expect(calls).toEqual([['pause', 'lab-x-broker-1'], ['pause', 'lab-x-broker-1'], ['pause', 'lab-x-broker-1']]);
  });

  it('gives up after its attempts with the engine error', async () => {
    let calls = 0;
    await expect(pauseContainer('lab-x-broker-1', 2, async () => {
      calls += 1;
      throw freezeFailure;
    })).rejects.toThrow('docker pause');
    expect(calls).toBe(2);
  });

  it('does not retry other errors (no such container)', async () => {
    let calls = 0;
    await expect(pauseContainer('gone', 5, async () => {
      calls += 1;
      throw Object.assign(new Error('Command failed'), { stderr: 'Error response from daemon: No such container: gone' });
    })).rejects.toThrow('Command failed');
    expect(calls).toBe(1);
  });
});
