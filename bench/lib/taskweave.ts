/** Loads the built taskweave package and makes the engine the throughput benchmarks share. */
import type { Engine } from '../../dist/index.js'

/** An engine (no built-ins) with the one tool `bench.noop`, which runs `work`. */
export async function noopEngine(work: () => Promise<undefined>, concurrency: number): Promise<Engine> {
  const [{ createEngine, defineTool }, { z }] = await Promise.all([import('../../dist/lib/index.js'), import('zod')])
  const noop = defineTool({ name: 'bench.noop', input: z.object({}), run: work })
  return createEngine({ builtins: false, tools: [noop], concurrency })
}
