/** Who runs the command, as the records of an operator's action keep it (`taskweave retry`'s `--by` default). @module */
import { hostname, userInfo } from 'node:os'

/** `user@host` of this process (`unknown` for a user the system has no name for). */
export function operatorName(): string {
  let user: string
  try {
    user = userInfo().username
  } catch {
    user = process.env['USER'] ?? 'unknown'
  }
  return `${user}@${hostname()}`
}
