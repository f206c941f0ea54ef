import { describe, expect, it } from 'vitest';
import { pauseContainer } from '../../lab/infra/local/process-control.ts';

// As dockerode (under Testcontainers' runtime client) reports the engine's answer.
const freezeFailure = Object.assign(new Error('(HTTP code 500) server error - Cannot pause container 30ff: OCI runtime pause failed: unable to freeze: unknown'), { statusCode: 500 });

describe('pauseContainer', () => {
  it('tries docker pause again when the freezer gives up, and stops once it worked', async () => {
    const calls: string[] = [];
    await pauseContainer('lab-x-broker-1', 5, async (args) => {
      calls.push(args);
      if (calls.length < 3) throw freezeFailure;
    });
    expect(calls).toEqual(['lab-x-broker-1', 'lab-x-broker-1', 'lab-x-broker-1']);
  });

  it('gives up after its attempts with the engine error', async () => {
    let calls = 0;
    await expect(pauseContainer('lab-x-broker-1', 2, async () => {
      calls += 1;
      throw freezeFailure;
    })).rejects.toThrow('unable to freeze');
    expect(calls).toBe(2);
  });

  it('does not retry other errors (no such container)', async () => {
    let calls = 0;
    await expect(pauseContainer('gone', 5, async () => {
      calls += 1;
      throw Object.assign(new Error('(HTTP code 404) no such container - No such container: gone'), { statusCode: 404 });
    })).rejects.toThrow('No such container');
    expect(calls).toBe(1);
  });
});
