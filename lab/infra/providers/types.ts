import type { EnvironmentDescriptor } from '../environment.ts';
import type { LabRequirements } from '../requirements.ts';

export interface AcquireOptions {
  /** The process whose exit ends an ephemeral cluster (Vitest's main process). */
  ownerPid?: number;
  log?: (line: string) => void;
  /**
   * What the cluster must be (default: the default cluster). A reused cluster a suite left in another
   * shape is fitted first, so a bench run or a test run never starts on a previous suite's overrides.
   */
  requirements?: LabRequirements;
}

export interface AcquiredEnvironment {
  descriptor: EnvironmentDescriptor;
  /** Stops what this acquisition started (nothing, when it reused a running cluster). */
  release(): Promise<void>;
}
