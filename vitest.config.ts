import { defineConfig } from 'vitest/config';

// Two tiers: fast unit tests run in parallel; integration and end-to-end tests (real
// mediasoup workers, redis-server, WebRTC peers, Chromium) run one file at a time so they do
// not fight over the 2 cores of CI.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['*/test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['*/test/integration/**/*.test.ts', '*/test/e2e/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
