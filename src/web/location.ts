/**
 * Where the dashboard's static files are: next to this module (`src/web/assets/` in the
 * repository, `dist/web/assets/` once built). This module stays out of the bundles, where
 * `import.meta.url` would name another folder.
 * @module
 */
import { fileURLToPath } from 'node:url'

/** The folder of the dashboard's files (`index.html`, `app.js`, `style.css`). */
export const DASHBOARD_DIR = fileURLToPath(new URL('./assets/', import.meta.url))
