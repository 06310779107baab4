/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

// The gateway serves the built files at `/`; in development Vite proxies the API to it.
const gateway = process.env.KOPA_GATEWAY_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [
    react(),
    // The app shell is cached by a service worker so that an agent in the field can open the
    // console and record collections without a connection; the API is never cached here.
    VitePWA({
      registerType: "autoUpdate",
      injectRegister: false,
      manifest: {
        name: "Kopa",
        short_name: "Kopa",
        description: "Loan management for microfinance institutions",
        theme_color: "#14532d",
        background_color: "#ffffff",
        display: "standalone",
        start_url: "/",
        icons: [],
      },
      workbox: {
        navigateFallback: "/index.html",
        navigateFallbackDenylist: [/^\/v1\//, /^\/docs/, /^\/redoc/, /^\/openapi\.json/],
        globPatterns: ["**/*.{js,css,html,svg,woff2}"],
      },
    }),
  ],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  server: { proxy: { "/v1": gateway } },
  build: { sourcemap: false, chunkSizeWarningLimit: 600 },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
