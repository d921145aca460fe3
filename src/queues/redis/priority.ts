/**
 * Priority levels on BullMQ. taskweave has ten levels, 0…9, higher first; BullMQ serves lower
 * numbers first, and priority 0 means "no priority", served before every prioritized job. So every
 * message gets a BullMQ priority of at least 1: level 9 → 1 … level 0 → 10. BullMQ orders jobs of
 * one priority by a counter taken when they become ready, which keeps each level first in, first
 * out. (A job that a stalled check moves back is put in BullMQ's plain wait list, served before all
 * prioritized jobs: a lost consumer's messages are delivered again first.)
 * @module
 */
import { MAX_MESSAGE_PRIORITY, priorityLevel } from '../../core/queue.js'

/** The BullMQ priority of a taskweave priority (any number; rounded and clamped to a level first). */
export function bullPriority(priority: number | undefined): number {
  return MAX_MESSAGE_PRIORITY + 1 - priorityLevel(priority)
}

/** The taskweave level of a BullMQ priority given by {@link bullPriority} (0 for a job added without one). */
export function levelOf(bullmqPriority: number): number {
  if (!Number.isInteger(bullmqPriority) || bullmqPriority < 1) return 0
  return Math.max(0, MAX_MESSAGE_PRIORITY + 1 - bullmqPriority)
}
