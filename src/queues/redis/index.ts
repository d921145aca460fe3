/**
 * `taskweave/queues/redis`: the message queue and the attempt transport on Redis, built on
 * BullMQ. Needs the `bullmq` and `ioredis` packages (optional peer dependencies), which only this
 * entry point loads.
 * @module
 */
export { openRedisQueue } from './open-queue.js'
export { openRedisTransport } from './open-transport.js'
export type { RedisTransportHandle } from './open-transport.js'
export type { RedisCommonOptions, RedisConnectionOptions, RedisQueueOptions, RedisTransportOptions } from './options.js'
export { openRedisSharedLimiter } from './shared-limiter.js'
export type { RedisSharedLimiterOptions } from './shared-limiter.js'
export { openRedisSharedRateBudget } from './shared-rate-budget.js'
export type { RedisSharedRateBudgetOptions } from './shared-rate-budget.js'
export { listRedisTransportQueues, redisQueueName, redisTransportQueueNames } from './bull-queues.js'
export type { BullQueueName, SetReader } from './bull-queues.js'
