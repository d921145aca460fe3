/**
 * The database thread: holds the store's one connection and does all its work, so an fsync (one
 * per append, with `synchronous=FULL`) or a long read never blocks the caller's event loop. It
 * opens the file, says `opened` (or `failed`, then exits), then answers each call in the order it
 * arrives. After `close` it lets the port go and the thread ends.
 *
 * Started by `thread.ts` with `workerData` = {@link ThreadData}; never imported by the caller's
 * thread (which would load the native driver there).
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'
import { serializeError } from '../../core/errors.js'
import { openConnection } from './connection.js'
import { toStoreError } from './errors.js'
import { callHandlers, dispatch } from './handlers.js'
import { CommitMark } from './commit-mark.js'
import type { CallMessage, ThreadData, ThreadMessage } from './protocol.js'

function serve(port: MessagePort, data: ThreadData): void {
  const post = (message: ThreadMessage): void => port.postMessage(message)
  let handlers
  try {
    const opened = openConnection(data)
    let mark: CommitMark
    try {
      mark = new CommitMark(opened.db, data.file, data.location)
    } catch (err) {
      opened.db.close()
      throw err
    }
    handlers = callHandlers(opened.db, mark)
    post({ type: 'opened', sqliteVersion: opened.sqliteVersion, schemaVersion: opened.schemaVersion })
  } catch (err) {
    post({ type: 'failed', error: serializeError(toStoreError(data.location, err)) })
    port.close()
    return
  }
  const ready = handlers
  port.on('message', (call: CallMessage) => {
    try {
      post({ type: 'reply', id: call.id, ok: true, value: dispatch(ready, call) })
    } catch (err) {
      post({ type: 'reply', id: call.id, ok: false, error: serializeError(toStoreError(data.location, err)) })
    }
    if (call.name === 'close') port.close()
  })
}

if (parentPort === null) throw new Error('the SQLite store thread must run as a worker thread')
serve(parentPort, workerData as ThreadData)
