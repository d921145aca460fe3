/** Byte sizes: the defaults several layers must agree on, and sizes in messages. @module */

/**
 * The default limit of one task output's JSON size (the engine's `maxOutputBytes`). Built-in tools
 * size their own defaults from it, so a default read never makes an output the engine refuses.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
