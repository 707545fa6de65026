// Interop test with two cores: two sessionward-core processes on one PostgreSQL database, and
// supertokens-node 24.0.3 (express, Session recipe) whose connectionURI names both
// (`http://127.0.0.1:A;http://127.0.0.1:B`).
//
// supertokens-node takes the hosts of its connectionURI in turn, one core request each, and on
// a refused connection tries the next host (at most one try per host). The test records the
// core requests it sends (the SDK's `networkInterceptor`) and steers each step to the core it
// means, so a session made through one core is refreshed, verified, signed out and caught
// reusing a rotated refresh token through the other; then core A stops (SIGTERM) and the SDK
// carries on with B alone.
//
// Needs SG_CORE_BIN (the sessionward-core binary) and SG_DATABASE_URL (`postgres://…`, a fresh
// database both cores share); without SG_DATABASE_URL every test here is skipped with the
// reason. Run through ./run.sh, which creates the database. Everything listens on 127.0.0.1.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { start } = require("./server");
const { spawnProcess, killAll, call, tokensOf, expectStatus } = require("./support");

const API_KEY = crypto.randomBytes(24).toString("hex");
const DATABASE_URL = process.env.SG_DATABASE_URL;
const skip = DATABASE_URL
    ? false
    : "no PostgreSQL database (SG_DATABASE_URL is unset: run.sh sets it when " +
      "SESSIONWARD_TEST_DATABASE_URL is set or PostgreSQL's server binaries are installed)";
if (skip) console.log(`two cores on one database: skipped, ${skip}`);
/** How long core A may take to stop after SIGTERM. */
const STOP_TIMEOUT_MS = 15_000;

let tmp;
let coreA; // { url, child }
let coreB;
let node; // the supertokens-node express app: { url, close }
/** Every request supertokens-node sent to a core, in order: `{ origin, method, path }`. */
const coreRequests = [];

before(async () => {
    if (skip) return;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-two-cores-"));
    // One after the other: B's first key load finds the keys A created in the database.
    const env = (name) => ({
        PORT: "0",
        DATA_DIR: path.join(tmp, name),
        DATABASE_URL,
        API_KEY,
        SHUTDOWN_TIMEOUT_SECS: "5",
    });
    coreA = await spawnProcess("sessionward-core A", process.env.SG_CORE_BIN, env("a"));
    coreB = await spawnProcess("sessionward-core B", process.env.SG_CORE_BIN, env("b"));
    node = await start({
        connectionURI: `${coreA.url};${coreB.url}`,
        apiKey: API_KEY,
        networkInterceptor: (request) => {
            const url = new URL(request.url);
            coreRequests.push({
                origin: url.origin,
                method: request.method.toUpperCase(),
                path: url.pathname,
            });
            return request;
        },
    });
});

after(async () => {
    if (node) await node.close();
    killAll();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Which core a recorded origin is, for messages. */
function nameOf(origin) {
    if (origin === coreA.url) return "A";
    if (origin === coreB.url) return "B";
    return origin;
}

function describeRequests(requests) {
    return requests.map((r) => `${r.method} ${r.path} -> ${nameOf(r.origin)}`).join(", ");
}

/** The other core of the two. */
function other(core) {
    return core === coreA ? coreB : coreA;
}

/**
 * Makes the `before`-th next core request of supertokens-node (0: the next one) go to `core`. It
 * takes the two hosts in turn, one request each, starting with the first: so the next request
 * goes to the core the last one did not, and one request that reads nothing (an unknown session
 * handle) flips the order.
 */
async function steerTo(core, before = 0) {
    const target = before % 2 === 0 ? core : other(core);
    const next = () => {
        const last = coreRequests.at(-1);
        return last === undefined || last.origin === coreB.url ? coreA : coreB;
    };
    // The very first request also asks for the CDI version (`GET /apiversion`): a second try
    // settles it.
    for (let tries = 0; next() !== target; tries++) {
        assert.ok(tries < 3, `cannot steer to ${nameOf(target.url)}: ${describeRequests(coreRequests)}`);
        expectStatus(await call("GET", `${node.url}/admin/info/no-such-handle`), 404, "filler");
    }
}

/**
 * Runs `action` (a request to the supertokens-node app) with its core request `method`
 * `endpoint` (a path ending) on `core`, and checks that supertokens-node sent that request to
 * that core and to no other. `before`: how many core requests the action sends ahead of it.
 * Resolves to the app's answer.
 */
async function through(core, method, endpoint, action, before = 0) {
    await steerTo(core, before);
    const from = coreRequests.length;
    const response = await action();
    const sent = coreRequests.slice(from);
    const matching = sent.filter((r) => r.method === method && r.path.endsWith(endpoint));
    assert.ok(
        matching.length > 0 && matching.every((r) => r.origin === core.url),
        `${method} ${endpoint} should have gone to core ${nameOf(core.url)}; sent: ${describeRequests(sent)}`,
    );
    return response;
}

/**
 * Creates a session through supertokens-node with its `POST /recipe/session` on `core`
 * (createNewSession first looks the user up: `GET /user/id`).
 */
async function createOn(core, userId) {
    return through(core, "POST", "/recipe/session", () => nodeCreate(userId), 1);
}

async function nodeCreate(userId) {
    const response = await call("POST", `${node.url}/create`, {
        headers: { "st-auth-mode": "header" },
        body: { userId },
    });
    expectStatus(response, 200, `node create ${userId}`);
    const tokens = tokensOf(response);
    assert.ok(tokens.access && tokens.refresh, "node create sets the tokens");
    return { handle: response.body.handle, tokens };
}

async function nodeRefresh(refreshToken) {
    return call("POST", `${node.url}/auth/session/refresh`, {
        headers: { "st-auth-mode": "header", rid: "session" },
        bearer: refreshToken,
    });
}

/** The session `handle` as core `core` answers it over CDI (`GET /recipe/session`). */
async function cdiSession(core, handle) {
    return call("GET", `${core.url}/recipe/session?sessionHandle=${encodeURIComponent(handle)}`, {
        headers: { "api-key": API_KEY },
    });
}

test("both cores answer the api key and serve the same keys from the shared database", { skip }, async () => {
    const kids = [];
    for (const core of [coreA, coreB]) {
        expectStatus(await call("GET", `${core.url}/apiversion`), 401, "apiversion without key");
        const versions = await call("GET", `${core.url}/apiversion`, { headers: { "api-key": API_KEY } });
        expectStatus(versions, 200, "apiversion");
        // Among the versions served, the one supertokens-node 24 speaks (its only one).
        assert.ok(versions.body.versions.includes("5.4"), JSON.stringify(versions.body));
        const jwks = await call("GET", `${core.url}/.well-known/jwks.json`);
        expectStatus(jwks, 200, "jwks");
        kids.push(jwks.body.keys.map((key) => key.kid).sort());
    }
    assert.ok(kids[0].length >= 2, "a static and a dynamic key");
    assert.deepEqual(kids[0], kids[1], "A and B publish the same keys");
});

test("supertokens-node sends its core requests to both cores in turn; each sees the other's sessions", { skip }, async () => {
    const from = coreRequests.length;
    const created = [];
    for (const [i, user] of ["ann-1", "ann-2", "ann-3", "ann-4"].entries()) {
        created.push(await createOn(i % 2 === 0 ? coreA : coreB, user));
    }
    // Round robin: no two requests in a row went to the same core.
    const sent = coreRequests.slice(from);
    for (let i = 1; i < sent.length; i++) {
        assert.notEqual(sent[i].origin, sent[i - 1].origin, describeRequests(sent));
    }
    for (const [i, { handle }] of created.entries()) {
        for (const core of [coreA, coreB]) {
            const info = await cdiSession(core, handle);
            expectStatus(info, 200, `CDI session information on ${nameOf(core.url)}`);
            assert.equal(info.body.status, "OK");
            assert.equal(info.body.userId, `ann-${i + 1}`);
        }
    }
});

test("a session created through core A is refreshed on B, promoted on A and checked on B", { skip }, async () => {
    const { handle, tokens } = await createOn(coreA, "bea");

    const refreshed = await through(coreB, "POST", "/recipe/session/refresh", () =>
        nodeRefresh(tokens.refresh),
    );
    expectStatus(refreshed, 200, "refresh on B");
    const next = tokensOf(refreshed);
    assert.ok(next.access && next.refresh && next.refresh !== tokens.refresh, "rotated tokens");

    // The refreshed token's first use goes to a core (parentRefreshTokenHash1), which promotes it.
    const promoted = await through(coreA, "POST", "/recipe/session/verify", () =>
        call("GET", `${node.url}/session`, { bearer: next.access }),
    );
    expectStatus(promoted, 200, "verify and promote on A");
    assert.equal(promoted.body.handle, handle);
    const current = tokensOf(promoted).access;
    assert.ok(current, "the promoted access token is sent");

    const checked = await through(coreB, "POST", "/recipe/session/verify", () =>
        call("GET", `${node.url}/session-db`, { bearer: current }),
    );
    expectStatus(checked, 200, "checkDatabase on B");
    assert.equal(checked.body.handle, handle);

    const again = await through(coreA, "POST", "/recipe/session/refresh", () =>
        nodeRefresh(next.refresh),
    );
    expectStatus(again, 200, "the token B issued refreshes on A");
});

test("a sign-out through core A is seen through B by getSessionInformation and checkDatabase", { skip }, async () => {
    const { handle, tokens } = await nodeCreate("cid");
    const info = await through(coreB, "GET", "/recipe/session", () =>
        call("GET", `${node.url}/admin/info/${handle}`),
    );
    expectStatus(info, 200, "getSessionInformation on B before the sign-out");

    const signout = await through(coreA, "POST", "/recipe/session/remove", () =>
        call("POST", `${node.url}/auth/signout`, { headers: { rid: "session" }, bearer: tokens.access }),
    );
    expectStatus(signout, 200, "sign-out on A");
    assert.deepEqual(signout.body, { status: "OK" });

    const gone = await through(coreB, "GET", "/recipe/session", () =>
        call("GET", `${node.url}/admin/info/${handle}`),
    );
    expectStatus(gone, 404, "getSessionInformation on B after the sign-out on A");
    const checked = await through(coreB, "POST", "/recipe/session/verify", () =>
        call("GET", `${node.url}/session-db`, { bearer: tokens.access }),
    );
    expectStatus(checked, 401, "checkDatabase on B after the sign-out on A");
    const refresh = await through(coreB, "POST", "/recipe/session/refresh", () =>
        nodeRefresh(tokens.refresh),
    );
    expectStatus(refresh, 401, "refresh on B after the sign-out on A");
});

test("reusing a refresh token rotated on core A is caught as theft on B", { skip }, async () => {
    const { handle, tokens } = await nodeCreate("dee");
    const refreshed = await through(coreA, "POST", "/recipe/session/refresh", () =>
        nodeRefresh(tokens.refresh),
    );
    expectStatus(refreshed, 200, "refresh on A");
    const next = tokensOf(refreshed);
    const promoted = await through(coreB, "POST", "/recipe/session/verify", () =>
        call("GET", `${node.url}/session`, { bearer: next.access }),
    );
    expectStatus(promoted, 200, "the new token's first use, on B");

    const theft = await through(coreB, "POST", "/recipe/session/refresh", () =>
        nodeRefresh(tokens.refresh),
    );
    expectStatus(theft, 401, "reusing the rotated refresh token on B");
    assert.deepEqual(theft.body, { message: "token theft detected" });

    // The core revoked the session in the database: A no longer knows it either.
    const checked = await through(coreA, "POST", "/recipe/session/verify", () =>
        call("GET", `${node.url}/session-db`, { bearer: tokensOf(promoted).access ?? next.access }),
    );
    expectStatus(checked, 401, "checkDatabase on A after the theft");
    const direct = await cdiSession(coreA, handle);
    assert.equal(direct.body.status, "UNAUTHORISED", JSON.stringify(direct.body));
});

// Last: core A stays down afterwards.
test("when core A stops (SIGTERM), supertokens-node fails over to B and the sessions carry on", { skip }, async () => {
    const { handle, tokens } = await createOn(coreA, "eve");

    const exited = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("core A did not stop")), STOP_TIMEOUT_MS);
        coreA.child.once("exit", (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal });
        });
    });
    coreA.child.kill("SIGTERM");
    assert.deepEqual(await exited, { code: 0, signal: null }, "A stops cleanly on SIGTERM");
    const from = coreRequests.length;

    const refreshed = await nodeRefresh(tokens.refresh);
    expectStatus(refreshed, 200, "refresh of a session created on A, with A down");
    const next = tokensOf(refreshed);
    const promoted = await call("GET", `${node.url}/session`, { bearer: next.access });
    expectStatus(promoted, 200, "verify and promote with A down");
    assert.equal(promoted.body.handle, handle);
    expectStatus(
        await call("GET", `${node.url}/session-db`, { bearer: tokensOf(promoted).access }),
        200,
        "checkDatabase with A down",
    );
    const fresh = await nodeCreate("eve");
    expectStatus(
        await call("GET", `${node.url}/session`, { bearer: fresh.tokens.access }),
        200,
        "a session created with A down verifies",
    );
    const info = await call("GET", `${node.url}/admin/info/${handle}`);
    expectStatus(info, 200, "getSessionInformation with A down");
    assert.equal(info.body.info.userId, "eve");

    // Each of those requests tried A first (refused), then B.
    const sent = coreRequests.slice(from);
    const onA = sent.filter((r) => r.origin === coreA.url);
    const onB = sent.filter((r) => r.origin === coreB.url);
    assert.ok(onA.length > 0, `supertokens-node tried A: ${describeRequests(sent)}`);
    assert.ok(
        onB.some((r) => r.method === "POST" && r.path.endsWith("/recipe/session/refresh")),
        `the refresh went to B: ${describeRequests(sent)}`,
    );
    const direct = await cdiSession(coreB, handle);
    assert.equal(direct.body.status, "OK", "B has the session A created");
});
