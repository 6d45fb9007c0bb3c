import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The server embeds dist/ and serves index.html at / and dist/assets/* at /assets/*.
// `npm run dev` proxies the API to a running `echinomap serve` (ECHINOMAP_URL, default :8080).
declare const process: { env: Record<string, string | undefined> };
const api = process.env.ECHINOMAP_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
    rollupOptions: {
      output: {
        // MapLibre in its own long-cached chunk; ECharts goes with the lazily loaded profile.
        manualChunks: { maplibre: ['maplibre-gl'] },
      },
    },
  },
  server: {
    proxy: { '/api': api, '/tiles': api, '/healthz': api },
  },
});
