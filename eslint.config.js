// Type-aware lint: the async rules (floating and misused promises) are the ones a scheduler lives or dies by.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'
import layers from './scripts/eslint/layers.js'

export default tseslint.config(
  // test/**/*.mjs, examples/**/*.mjs: child programs (fixtures, example servers) run as separate processes, outside the TypeScript project.
  { ignores: ['dist/**', '.probes/**', 'bench/**', 'node_modules/**', 'coverage/**', 'bin/**', 'schema/**', 'test/**/*.mjs', 'examples/**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.name='eval']", message: 'no eval' }, { selector: "NewExpression[callee.name='Function']", message: 'no Function constructor' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { layers },
    rules: { 'layers/order': 'error', 'layers/no-cycle': 'error' },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'examples/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['eslint.config.js', 'scripts/eslint/*.js', 'scripts/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  // The dashboard: plain browser JavaScript, outside the TypeScript project.
  {
    files: ['src/web/assets/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.browser, sourceType: 'module' },
  },
)
