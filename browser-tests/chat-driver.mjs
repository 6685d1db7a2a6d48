// Drives the chat example's web page (examples/.../chat/chat.html) in Debian's Chromium as one member of a room,
// for ChatPageTest. Prints every line the page shows as "PAGE <tab> line" as it appears.
// Usage: node chat-driver.mjs --page http://127.0.0.1:PORT/ --room lobby --name page --await "<alice> hi" --say "hi"
//   (--await and --say repeat in pairs: wait for a line, then say something)
import { launchChromium } from "./chromium.mjs";

const argv = process.argv.slice(2);
const arg = (name) => argv[argv.indexOf(`--${name}`) + 1];
const pairs = [];
argv.forEach((a, i) => { if (a === "--await") pairs.push([argv[i + 1], argv[i + 3]]); });

const browser = await launchChromium();
const context = browser.context;
let printed = 0;
async function printNew(page) {
  const lines = await page.locator("#log li").allTextContents();
  for (; printed < lines.length; printed++) {
    console.log(`PAGE\t${lines[printed]}`);
  }
}
try {
  const page = await context.newPage();
  await page.goto(arg("page"));
  await page.fill("#room", arg("room"));
  await page.fill("#name", arg("name"));
  await page.click("#join button");
  await page.locator("#log li", { hasText: "you joined" }).waitFor({ timeout: 30000 });
  await printNew(page);
  for (const [line, say] of pairs) {
    await page.locator("#log li", { hasText: line }).first().waitFor({ timeout: 30000 });
    await printNew(page);
    await page.fill("#text", say);
    await page.click("#say button");
  }
  await page.locator("#log li", { hasText: `<${arg("name")}> ${pairs[pairs.length - 1][1]}` }).waitFor({ timeout: 30000 });
  await printNew(page);
} finally {
  await browser.close();
}
