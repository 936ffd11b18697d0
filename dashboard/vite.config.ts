/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const testsDir = fileURLToPath(new URL('../tests/dashboard', import.meta.url));

// The C++ server (`meta_db serve --web-root dashboard/dist`) serves dist/ at `/`,
// with index.html as the fallback for every `/ui/*` path; the API lives at root paths.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    // `META_DB_API=http://127.0.0.1:8000 npm run dev` proxies the API during development.
    proxy: process.env.META_DB_API
      ? Object.fromEntries(
          ['/stats', '/fields', '/studies', '/series', '/instances', '/query', '/collections',
           '/researchers', '/jobs', '/errors', '/health', '/auth', '/audit'].map((p) => [p, process.env.META_DB_API!]),
        )
      : undefined,
  },
  test: {
    dir: testsDir,
    include: ['unit/**/*.test.ts'],
    environment: 'node',
  },
});
