// Runs the test page's cases in Debian's Chromium (never a downloaded browser) and prints one line per case:
//   CASE <tab> suite <tab> name <tab> pass|fail <tab> detail
// then, once every case of every suite has run, DONE <tab> the number of cases (missing: the run broke off).
// Usage: node driver.mjs --page http://127.0.0.1:PORT/index.html --target http://127.0.0.1:PORT --suite grpc-web[,..]
import { launchChromium } from "./chromium.mjs";

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) =>
  arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs, []));
const caseTimeoutMs = Number(args["case-timeout-ms"] || 60000);

const browser = await launchChromium();
const context = browser.context;
const clean = (text) => String(text).replace(/[\t\r\n]+/g, " ");
let failed = 0;
let ran = 0;
try {
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.error(`page: ${m.text()}`); });
  await page.goto(args.page);
  await page.waitForFunction(() => window.wsgrpcCases !== undefined);
  for (const suite of args.suite.split(",")) {
    const names = await page.evaluate((s) => window.wsgrpcCases.list(s), suite);
    for (const name of names) {
      const result = await Promise.race([
        page.evaluate(([s, n, t]) => window.wsgrpcCases.run(s, n, t), [suite, name, args.target]),
        new Promise((resolve) => setTimeout(() => resolve({ ok: false, detail: `no result within ${caseTimeoutMs} ms` }), caseTimeoutMs)),
      ]);
      failed += result.ok ? 0 : 1;
      ran++;
      console.log(["CASE", clean(suite), clean(name), result.ok ? "pass" : "fail", clean(result.detail)].join("\t"));
    }
  }
  console.log(["DONE", String(ran)].join("\t"));
} finally {
  await browser.close();
}
process.exit(failed === 0 ? 0 : 1);
