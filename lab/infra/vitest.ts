/** For suites: the run's environment, connected. `const env = labEnvironment();` */
import { inject } from 'vitest';
import { connectEnvironment } from './connect.ts';
import type { LabEnvironment } from './environment.ts';

export function labEnvironment(): LabEnvironment {
  return connectEnvironment(inject('labEnvironment'));
}
