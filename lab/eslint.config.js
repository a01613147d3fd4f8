// ESLint (flat config) for the Reweight Lab's JavaScript, l2rw_viz/lab/static/*.js: classic browser scripts
// (inlined into one page by l2rw_viz.lab.write_lab), so sourceType "script" and browser globals.
// Run from the repository root: lab/node_modules/.bin/eslint --config lab/eslint.config.js l2rw_viz/lab/static
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used" }],
      "no-var": "error",
      "prefer-const": "error",
      eqeqeq: ["error", "always"],
      curly: ["error", "multi-line"],
      "no-shadow": "error",
      "max-len": ["error", { code: 120 }],
    },
  },
];
