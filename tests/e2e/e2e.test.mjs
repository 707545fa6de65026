// Browser end-to-end test: the official SuperTokens frontend SDK (supertokens-web-js, wrapping
// supertokens-website) in Debian's Chromium, driven by playwright-core, against the
// sessionward demo backend. Started by run.sh, which installs and builds what this needs.
//
// Each scenario runs its own demo process (fresh data directory, 3-second access tokens) and
// its own browser context; the page is served from a second origin on localhost.
//
// Environment: DEMO_BIN (the built demo binary, required; run.sh runs the test once with the
// actix-web demo and once with demo-axum), DEMO_NAME (its name in the test titles), CORE_BIN (sessionward-core, the
// CDI server the "core" scenario uses as its SuperTokens Core), CHROMIUM (/usr/bin/chromium),
// E2E_ARTIFACTS (screenshots and logs on failure; ./artifacts).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const demoBin = process.env.DEMO_BIN;
const demoName = process.env.DEMO_NAME || "demo";
const coreBin = process.env.CORE_BIN;
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = process.env.E2E_ARTIFACTS || join(here, "artifacts");
const accessTokenSecs = 3;
const stepTimeout = 30_000;

if (!demoBin) {
  throw new Error("DEMO_BIN is not set: run tests/e2e/run.sh");
}
mkdirSync(artifacts, { recursive: true });

/** Serves the page and its bundle on 127.0.0.1 (reached as http://localhost:<port>). */
async function startPageServer() {
  const files = {
    "/": ["page/index.html", "text/html; charset=utf-8"],
    "/bundle.js": ["dist/bundle.js", "text/javascript; charset=utf-8"],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, "http://localhost").pathname];
    if (!file) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" });
    createReadStream(join(here, file[0])).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://localhost:${server.address().port}` };
}

/** A port that was free a moment ago (the demo's API_DOMAIN must name its port). */
async function freePort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Starts `binary` with `env` and a fresh DATA_DIR; resolves once it printed
 * `listening on http://…` (its first line on stdout). Its stderr goes to artifacts/<name>.log.
 */
async function startProcess(name, binary, env) {
  const dataDir = mkdtempSync(join(tmpdir(), `sg-e2e-${name}-`));
  const logPath = join(artifacts, `${name}.log`);
  const child = spawn(binary, [], {
    env: { ...process.env, DATA_DIR: dataDir, RUST_LOG: process.env.RUST_LOG || "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr.pipe(createWriteStream(logPath));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s`)), 30_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening (see ${logPath})`));
    });
  });
  assert.match(first, /^listening on http:\/\/127\.0\.0\.1:\d+$/);
  return {
    url: first.slice("listening on ".length),
    stop() {
      child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the demo for `websiteDomain` with `antiCsrf`; with `core`, its sessions live in a
 * sessionward-core process (CDI over HTTP) instead of the embedded core.
 */
async function startDemo(name, websiteDomain, antiCsrf, core) {
  const port = await freePort();
  const env = {
    PORT: String(port),
    API_DOMAIN: `http://localhost:${port}`,
    WEBSITE_DOMAIN: websiteDomain,
    ACCESS_TOKEN_VALIDITY_SECS: String(accessTokenSecs),
    ANTI_CSRF: antiCsrf,
  };
  let coreProcess;
  if (core) {
    assert.ok(coreBin, "CORE_BIN is not set: run tests/e2e/run.sh");
    const apiKey = "e2e-api-key-of-20-chars";
    coreProcess = await startProcess(`core-${name}`, coreBin, {
      PORT: "0",
      API_KEY: apiKey,
      ACCESS_TOKEN_VALIDITY_SECS: String(accessTokenSecs),
    });
    Object.assign(env, { CORE_URI: coreProcess.url, CORE_API_KEY: apiKey });
  }
  const demo = await startProcess(`demo-${name}`, demoBin, env);
  return {
    api: `http://localhost:${port}`,
    stop() {
      demo.stop();
      coreProcess?.stop();
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let pageServer;
let browser;

before(async () => {
  pageServer = await startPageServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    chromiumSandbox: false,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  pageServer?.server.close();
});

/**
 * One scenario: the SDK with `mode` (tokenTransferMethod) against a demo with `antiCsrf`.
 * `plainPost` is what a POST without the SDK's headers must get.
 */
function scenario({ name, mode, antiCsrf, plainPost, core = false }) {
  const backend = core ? "SuperTokens Core mode (sessionward-core)" : "embedded core";
  describe(`${demoName} ${name}: tokenTransferMethod=${mode}, ANTI_CSRF=${antiCsrf}, ${backend}`, () => {
    let demo;
    let context;
    let page;
    let refreshCalls = 0;
    let accessTokenExpiryMs = 0;

    before(async () => {
      demo = await startDemo(`${demoName}-${name}`, pageServer.origin, antiCsrf, core);
      context = await browser.newContext();
      page = await context.newPage();
      page.setDefaultTimeout(stepTimeout);
      page.on("request", (request) => {
        if (
          request.method() === "POST" &&
          new URL(request.url()).pathname === "/auth/session/refresh"
        ) {
          refreshCalls += 1;
        }
      });
      page.on("pageerror", (error) => console.error(`[${name}] page error: ${error}`));
      const url = `${pageServer.origin}/?api=${encodeURIComponent(demo.api)}&mode=${mode}`;
      try {
        await page.goto(url);
        await page.waitForSelector("body[data-ready=true]");
      } catch (error) {
        await page.screenshot({ path: join(artifacts, `${name}-page-load.png`) }).catch(() => {});
        throw error;
      }
    });

    after(async () => {
      await context?.close();
      demo?.stop();
    });

    /** A test step that saves a screenshot and the page's log when it fails. */
    function step(title, fn) {
      it(title, { timeout: stepTimeout }, async () => {
        try {
          await fn();
        } catch (error) {
          const file = `${name}-${title.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}.png`;
          await page?.screenshot({ path: join(artifacts, file), fullPage: true }).catch(() => {});
          console.error(`[${name}] failed: ${title}; screenshot ${join(artifacts, file)}`);
          throw error;
        }
      });
    }

    const call = (path, init) => page.evaluate(([p, i]) => window.e2e.call(p, i), [path, init]);
    const plain = (path, init) => page.evaluate(([p, i]) => window.e2e.plain(p, i), [path, init]);
    const session = () => page.evaluate(() => window.e2e.session());

    /** Waits until the current access token has expired (by its `exp`, plus a margin). */
    async function waitForExpiry() {
      assert.ok(accessTokenExpiryMs > 0, "no access token expiry known");
      const wait = accessTokenExpiryMs - Date.now() + 700;
      if (wait > 0) {
        await sleep(wait);
      }
    }

    /** Records the expiry of the access token the SDK holds now (never refreshes: valid). */
    async function rememberExpiry() {
      const now = await session();
      assert.equal(now.exists, true);
      accessTokenExpiryMs = now.payload.exp * 1000;
    }

    /**
     * Refreshes first if the access token expires within 1.5 s (`exp` is in whole seconds, so
     * a 3-second token may live only 2), so that a step that counts no refresh, or expects
     * the token to be valid, is not overtaken by expiry on a slow machine.
     */
    async function ensureFresh() {
      if (accessTokenExpiryMs - Date.now() < 1500) {
        assert.equal(await page.evaluate(() => window.e2e.refresh()), true);
        await rememberExpiry();
      }
    }

    step("optional route without a session answers with no user", async () => {
      const answer = await call("/optional");
      assert.deepEqual(answer, { status: 200, body: { userId: null } });
    });

    step("protected route without a session is 401 unauthorised", async () => {
      const answer = await call("/user");
      assert.equal(answer.status, 401);
      assert.deepEqual(answer.body, { message: "unauthorised" });
      assert.equal((await session()).exists, false);
    });

    step("login through the SDK creates a session in the chosen transfer method", async () => {
      const answer = await page.evaluate(() => window.e2e.login("alice"));
      assert.deepEqual(answer, { status: 200, body: { userId: "alice" } });
      const now = await session();
      assert.equal(now.exists, true);
      assert.equal(now.userId, "alice");
      assert.equal(now.payload.sub, "alice");
      accessTokenExpiryMs = now.payload.exp * 1000;

      const cookies = await context.cookies(demo.api);
      const names = cookies.map((c) => c.name);
      assert.ok(names.includes("sFrontToken"), `front-token stored: ${names}`);
      if (mode === "cookie") {
        const access = cookies.find((c) => c.name === "sAccessToken");
        assert.ok(access, `sAccessToken cookie set: ${names}`);
        assert.equal(access.httpOnly, true);
        assert.ok(!names.includes("st-access-token"), "no header-mode token in cookie mode");
      } else {
        assert.ok(!names.includes("sAccessToken"), "no session cookie in header mode");
        assert.ok(names.includes("st-access-token"), `header-mode token stored: ${names}`);
        assert.ok(names.includes("st-refresh-token"), `header-mode token stored: ${names}`);
      }
      if (antiCsrf === "VIA_TOKEN" && mode === "cookie") {
        assert.ok(names.includes("sAntiCsrf"), `anti-CSRF token stored: ${names}`);
      }
    });

    step("protected GET and POST answer for the session", async () => {
      await ensureFresh();
      const before = refreshCalls;
      const get = await call("/user");
      assert.equal(get.status, 200);
      assert.equal(get.body.userId, "alice");
      const post = await call("/user", { method: "POST" });
      assert.equal(post.status, 200, JSON.stringify(post.body));
      assert.equal(post.body.userId, "alice");
      assert.equal(refreshCalls - before, 0, "no refresh for a valid token");
    });

    step("optional route with a session answers with the user", async () => {
      await ensureFresh();
      const answer = await call("/optional");
      assert.deepEqual(answer, { status: 200, body: { userId: "alice" } });
    });

    step("claim failure is 403 and leaves the session intact", async () => {
      await ensureFresh();
      const before = refreshCalls;
      const admin = await call("/admin");
      assert.equal(admin.status, 403);
      assert.equal(admin.body.message, "invalid claim");
      assert.equal(admin.body.claimValidationErrors[0].id, "st-role");
      const user = await call("/user");
      assert.equal(user.status, 200);
      assert.equal((await session()).exists, true);
      assert.equal(refreshCalls - before, 0, "a 403 does not refresh");
    });

    step("a POST without the SDK's headers is rejected; the session survives", async () => {
      await ensureFresh();
      const rejected = await plain("/user", { method: "POST" });
      assert.deepEqual(rejected, plainPost);
      if (mode === "cookie") {
        // The cookie did travel: a plain GET (no anti-CSRF check) is served.
        const get = await plain("/user");
        assert.equal(get.status, 200);
        assert.equal(get.body.userId, "alice");
      }
      const user = await call("/user", { method: "POST" });
      assert.equal(user.status, 200);
      assert.equal((await session()).exists, true);
    });

    step("an expired access token is refreshed exactly once, then the call succeeds", async () => {
      await rememberExpiry();
      await waitForExpiry();
      const before = refreshCalls;
      const answer = await call("/user");
      assert.equal(answer.status, 200);
      assert.equal(answer.body.userId, "alice");
      assert.equal(refreshCalls - before, 1, "refresh calls");
      await rememberExpiry();
      assert.ok(accessTokenExpiryMs > Date.now(), "the new access token is valid");
    });

    step("three concurrent calls after expiry share one refresh", async () => {
      await waitForExpiry();
      const before = refreshCalls;
      const answers = await page.evaluate(() =>
        window.e2e.callAll(["/user", "/user", "/optional"]),
      );
      assert.deepEqual(
        answers.map((a) => [a.status, a.body.userId]),
        [
          [200, "alice"],
          [200, "alice"],
          [200, "alice"],
        ],
      );
      assert.equal(refreshCalls - before, 1, "refresh calls");
    });

    step("sign-out ends the session: the next call is 401", async () => {
      const exists = await page.evaluate(() => window.e2e.signOut());
      assert.equal(exists, false);
      const before = refreshCalls;
      const answer = await call("/user");
      assert.equal(answer.status, 401);
      assert.deepEqual(answer.body, { message: "unauthorised" });
      assert.equal(refreshCalls - before, 0, "no refresh after sign-out");
      const names = (await context.cookies(demo.api)).map((c) => c.name);
      assert.ok(!names.includes("sAccessToken"), `session cookie cleared: ${names}`);
      assert.ok(!names.includes("st-access-token"), `header token cleared: ${names}`);
      assert.ok(!names.includes("sFrontToken"), `front-token cleared: ${names}`);
      const optional = await call("/optional");
      assert.deepEqual(optional, { status: 200, body: { userId: null } });
    });

    step("logout-everywhere ends the user's session on another device too", async () => {
      const other = await browser.newContext();
      try {
        const otherPage = await other.newPage();
        otherPage.setDefaultTimeout(stepTimeout);
        await otherPage.goto(`${pageServer.origin}/?api=${encodeURIComponent(demo.api)}&mode=${mode}`);
        await otherPage.waitForSelector("body[data-ready=true]");
        const onOther = await otherPage.evaluate(() => window.e2e.login("carol"));
        assert.equal(onOther.status, 200);
        const onThis = await page.evaluate(() => window.e2e.login("carol"));
        assert.equal(onThis.status, 200);

        const answer = await call("/logout-everywhere", { method: "POST" });
        assert.deepEqual(answer, { status: 200, body: { revoked: 2 } });
        assert.equal((await session()).exists, false, "this device's tokens are cleared");
        const refreshed = await otherPage.evaluate(() => window.e2e.refresh());
        assert.equal(refreshed, false, "the other device's refresh fails");
        const otherSession = await otherPage.evaluate(() => window.e2e.session());
        assert.equal(otherSession.exists, false, "the other device is signed out");
      } finally {
        await other.close();
      }
    });
  });
}

const tryRefresh = { status: 401, body: { message: "try refresh token" } };

scenario({
  name: "cookie",
  mode: "cookie",
  antiCsrf: "VIA_CUSTOM_HEADER",
  plainPost: tryRefresh,
});
scenario({
  name: "cookie-token",
  mode: "cookie",
  antiCsrf: "VIA_TOKEN",
  plainPost: tryRefresh,
});
scenario({
  name: "header",
  mode: "header",
  antiCsrf: "VIA_CUSTOM_HEADER",
  // No Authorization header and no session cookie: there is no session at all.
  plainPost: { status: 401, body: { message: "unauthorised" } },
});
scenario({
  name: "core",
  mode: "cookie",
  antiCsrf: "VIA_CUSTOM_HEADER",
  plainPost: tryRefresh,
  core: true,
});
