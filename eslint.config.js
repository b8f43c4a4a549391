// Lint, including the folder boundaries of ../shared/STYLE.md.
import tseslint from "typescript-eslint";

const noTest = { group: ["**/test/**", "../test/*", "../../test/*"], message: "Nothing imports test/." };

export default tseslint.config(
  { ignores: ["node_modules/**", "client/dist/**", "dist/**", "dist.tmp/**", "bpf/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "max-depth": ["error", 4],
    },
  },
  {
    files: ["shared/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["node:*", "fs", "path", "os", "child_process"], message: "shared/ is pure: no Node." },
        { group: ["react", "react-dom", "react-dom/*", "d3", "d3-*"], message: "shared/ is pure: no React or D3." },
        { group: ["../server/*", "../client/*", "../bpf/*", "../../*"], message: "shared/ imports only shared/." },
        noTest,
      ] }],
      "no-restricted-globals": ["error", "Date", "performance", "setTimeout", "setInterval", "fetch", "window", "document"],
    },
  },
  {
    files: ["server/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["**/client/**"], message: "server/ never imports client/." },
        noTest,
      ] }],
    },
  },
  {
    files: ["client/src/**/*.{ts,tsx}"],
    ignores: ["client/src/draw/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["**/server/**"], message: "client/ never imports server/." },
        { group: ["d3", "d3-*"], message: "Only client/src/draw/ imports D3." },
        noTest,
      ] }],
    },
  },
  {
    files: ["client/src/draw/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["**/server/**"], message: "client/ never imports server/." },
        noTest,
      ] }],
    },
  },
);
