/** The no-op work every contender of the throughput benchmarks runs per task. @module */

/** An async function that does nothing: what is measured is the scheduling around it. */
export const noopWork = async (): Promise<undefined> => undefined
