import { describe, expect, it } from 'vitest'
import { workerSettingsFromEnv } from './env.js'

describe('workerSettingsFromEnv', () => {
  it("reads the seed's names: TASK_MANAGER_WORKERS and INSTANCE_TIMEOUT in seconds", () => {
    expect(workerSettingsFromEnv({ TASK_MANAGER_WORKERS: '10', INSTANCE_TIMEOUT: '7200' })).toEqual({ concurrency: 10, agentPool: { idleTimeout: 7_200_000 } })
    expect(workerSettingsFromEnv({ TASK_MANAGER_WORKERS: ' ', INSTANCE_TIMEOUT: '' })).toEqual({})
  })

  it('refuses a bad value, naming the variable', () => {
    expect(() => workerSettingsFromEnv({ TASK_MANAGER_WORKERS: '2.5' })).toThrow(/TASK_MANAGER_WORKERS must be a whole number > 0; received "2\.5"/)
    expect(() => workerSettingsFromEnv({ INSTANCE_TIMEOUT: 'soon' })).toThrow(/INSTANCE_TIMEOUT/)
  })
})
