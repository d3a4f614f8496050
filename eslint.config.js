// ESLint: typescript-eslint's type-checked recommended rules over the TypeScript, plain recommended
// rules over the few JavaScript files; formatting is Prettier's (eslint-config-prettier switches
// ESLint's layout rules off). Every rule turned off below says why.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'packages/*/dist/', 'node_modules/', 'coverage/', 'test/artifacts/', 'clients/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Implementations of a Promise-returning contract (Sender, BullMQAdapter, route handlers, test
      // doubles) are async without awaiting: that turns a throw into a rejection, which callers rely on.
      '@typescript-eslint/require-await': 'off',
      // `const { a: _a, ...rest } = x` is the idiom for "all but these keys".
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read untyped JSON (HTTP replies, CLI output, fixtures, fake Slack calls) and check its
      // shape with expect(); declaring a type for each reply would restate the schemas under test.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['scripts/**/*.mjs', 'bench/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['src/http/console/public/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  prettier,
);
