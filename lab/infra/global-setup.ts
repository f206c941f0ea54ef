/**
 * Vitest global setup of the `lab` project: acquire the environment once per run (reuse a running
 * `lab up` cluster, else start one and stop it at the end) and hand its descriptor to the suites.
 */
import type { TestProject } from 'vitest/node';
import type { EnvironmentDescriptor } from './environment.ts';
import { acquireEnvironment } from './providers/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    labEnvironment: EnvironmentDescriptor;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const { descriptor, release } = await acquireEnvironment({
    ownerPid: process.pid,
    log: (line) => console.log(`[lab] ${line}`),
  });
  console.log(`[lab] ${descriptor.provider} environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('labEnvironment', descriptor);
  return async () => {
    await release();
  };
}
