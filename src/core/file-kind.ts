/** Words for what a path turned out to be, in messages that refuse anything but a regular file. @module */

/** The `fs.Stats` methods {@link describeFileKind} reads. */
export interface FileKindStats {
  isDirectory(): boolean
  isFIFO(): boolean
  isSocket(): boolean
  isCharacterDevice(): boolean
  isBlockDevice(): boolean
}

/** `'a directory'`, `'a pipe or FIFO'`, `'a socket'`, … for a path that is not a regular file. */
export function describeFileKind(stats: FileKindStats): string {
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a pipe or FIFO'
  if (stats.isSocket()) return 'a socket'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  return 'not a regular file'
}
