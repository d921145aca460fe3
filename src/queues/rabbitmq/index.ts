/**
 * `taskweave/queues/rabbitmq`: the message queue and the attempt transport on RabbitMQ. Needs
 * the `amqplib` package (an optional peer dependency), which only this entry point loads.
 * @module
 */
export { openRabbitQueue } from './open-queue.js'
export { openRabbitTransport } from './open-transport.js'
export type { RabbitConnectionOptions, RabbitQueueOptions, RabbitTransportOptions } from './options.js'
