import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // integration tests start child processes and talk to real servers
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
