import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The built console goes to dist/web, which the server serves at / (packages/server/src/features/console);
// dist/e2e holds the compiled browser tests. `npm run dev -w @runtime-control/console` proxies the API to a server
// on :4400.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist/web', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/health', '/ofrep', '/metrics'].map((p) => [p, { target: 'http://127.0.0.1:4400' }]),
    ),
  },
});
