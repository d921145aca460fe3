import { describe, expect, it } from 'vitest'
import { TaskweaveError } from '../core/errors.js'
import { compileCondition } from './expression.js'

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

function failure(run: () => unknown): TaskweaveError {
  try {
    run()
  } catch (err) {
    if (TaskweaveError.is(err)) return err
    throw err
  }
  throw new Error('expected a failure')
}

describe('compileCondition', () => {
  it('evaluates a condition over inputs and task outputs', () => {
    const c = compileCondition('inputs.n > 2 && tasks.a.output.ok', { taskId: 't' })
    expect(c.taskRefs).toEqual(['a'])
    expect(c.evaluate({ inputs: { n: 3 }, tasks: { a: { output: { ok: true } } } })).toBe(true)
  })

  it('evaluates matches() with RE2: a backreference is refused, where a backtracking RegExp would accept it', () => {
    const c = compileCondition('inputs.s.matches("(a)\\\\1")', { taskId: 'check' })
    const err = failure(() => c.evaluate({ inputs: { s: 'aa' } }))
    expect(err.code).toBe('TW_EXPRESSION')
    expect(err.message).toMatch(/task "check": condition .* failed: invalid regular expression/)
  })

  it('matches a catastrophic-backtracking pattern in linear time', () => {
    // A backtracking engine needs about 2^28 steps here (seconds); RE2 a few hundred.
    const c = compileCondition('inputs.s.matches("^(a+)+$")')
    const started = performance.now()
    expect(c.evaluate({ inputs: { s: `${'a'.repeat(28)}!` } })).toBe(false)
    expect(c.evaluate({ inputs: { s: 'aaaa' } })).toBe(true)
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('keeps partial-match semantics for matches()', () => {
    expect(compileCondition('"xabcx".matches("b.")').evaluate({})).toBe(true)
    expect(compileCondition('"xabcx".matches("^b")').evaluate({})).toBe(false)
  })

  it('fails a nested comprehension that exceeds the budget, naming the task and the condition', () => {
    const source = 'inputs.l.all(x, inputs.l.all(y, inputs.l.all(z, x + y + z >= 0)))'
    const c = compileCondition(source, { taskId: 'gate', maxCost: 50_000 })
    const err = failure(() => c.evaluate({ inputs: { l: range(300) } }))
    expect(err.code).toBe('TW_EXPRESSION')
    expect(err.message).toContain(`task "gate": condition "${source}" exceeded its evaluation budget of 50000`)
    expect(err.details).toMatchObject({ taskId: 'gate', condition: source, maxCost: 50_000 })
    // The same condition within budget still evaluates.
    expect(c.evaluate({ inputs: { l: range(5) } })).toBe(true)
  })

  it('bounds the default budget: a triple comprehension over 300 items fails instead of running 27 million steps', () => {
    const c = compileCondition('inputs.l.all(x, inputs.l.all(y, inputs.l.all(z, x + y + z >= 0)))')
    expect(failure(() => c.evaluate({ inputs: { l: range(300) } })).message).toContain('exceeded its evaluation budget')
  })

  it('does not let error absorption (|| true, exists) turn a spent budget into a value', () => {
    const c = compileCondition('inputs.l.exists(x, inputs.l.exists(y, y == -1)) || true', { maxCost: 1000 })
    expect(failure(() => c.evaluate({ inputs: { l: range(100) } })).message).toContain('exceeded its evaluation budget')
  })

  it('charges the size of values built, so doubling a string cannot run unbounded', () => {
    const source = 'cel.bind(a, inputs.s + inputs.s, cel.bind(b, a + a, cel.bind(c, b + b, size(c + c) > 0)))'
    const c = compileCondition(source, { maxCost: 1000 })
    expect(c.evaluate({ inputs: { s: 'x'.repeat(10) } })).toBe(true)
    expect(failure(() => c.evaluate({ inputs: { s: 'x'.repeat(1000) } })).message).toContain('exceeded its evaluation budget')
  })

  it('charges reading a long list once per read, not per accumulator step', () => {
    const c = compileCondition('inputs.l.filter(x, x >= 500.0).size() == 500', { maxCost: 20_000 })
    expect(c.evaluate({ inputs: { l: range(1000) } })).toBe(true)
  })

  it('refuses a non-positive budget', () => {
    expect(() => compileCondition('true', { taskId: 't', maxCost: 0 })).toThrow(/task "t": option "maxCost"/)
  })
})
