import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string): string => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  // Examples import the package by name, as users do; in tests the name means the sources
  // (tsconfig.json "paths" says the same to the type checker).
  resolve: {
    alias: [
      { find: /^taskweave$/, replacement: src('index.ts') },
      { find: /^taskweave\/compat\/(.+)$/, replacement: src('compat/$1.ts') },
      { find: /^taskweave\/ports$/, replacement: src('ports.ts') },
      { find: /^taskweave\/mcp$/, replacement: src('tools/mcp/index.ts') },
      { find: /^taskweave\/state-machines$/, replacement: src('fsm/index.ts') },
      { find: /^taskweave\/stores\/postgres$/, replacement: src('stores/postgres/index.ts') },
      { find: /^taskweave\/testing$/, replacement: src('testing/index.ts') },
      { find: /^taskweave\/stores\/sqlite$/, replacement: src('stores/sqlite/index.ts') },
      { find: /^taskweave\/queues\/(redis|rabbitmq)$/, replacement: src('queues/$1/index.ts') },
      { find: /^taskweave\/(workflow|tools|agents|background|workers|llm|queues|distributed|server|otel)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Two files at a time even on 2 cores (vitest's default there is one): most of the suite waits
    // on child processes and servers, so the wall time nearly halves (about 570 s → 320 s).
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: process.env['CI'] ? ['default'] : ['default'],
  },
})
