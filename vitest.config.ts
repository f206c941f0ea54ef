import { defineConfig } from 'vitest/config';

// ✅ arms run LAB_RUNS generated cases (default 2, more at night): their time budget grows with it.
const labTimeoutMs = 90_000 * Math.max(2, Number(process.env.LAB_RUNS ?? 2));

/**
 * Two projects:
 *   unit  no infrastructure, runs in seconds, files in parallel
 *   lab   experiments on the real cluster, one file at a time: they share one cluster and inject
 *         faults into it (a killed broker in one suite must not surprise another)
 * `npx vitest lab/e-000` selects a suite by path; `npx vitest --project unit` runs only unit tests.
 */
export default defineConfig({
  test: {
    // Global setup's teardown stops a cluster the run started: give the brokers time to shut down.
    teardownTimeout: 60_000,
    // The usual terminal output, plus the run report (reports/latest/report.html, or LAB_RUN_DIR under
    // `npx lab run`). The lab reporter writes only when lab suites ran; reporters are a root option.
    reporters: ['default', './lab/report/reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'lab',
          include: ['lab/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['lab/infra/global-setup.ts'],
          // The worker exits if the runner is killed (it would go on faulting a reused cluster).
          setupFiles: ['lab/infra/worker-setup.ts'],
          pool: 'forks',
          // One fork, files one after another: suites share the cluster and fault it.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: labTimeoutMs,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
