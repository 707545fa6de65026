// Interop test with an old SDK: supertokens-node 13.6.1 (npm alias `supertokens-node-13`;
// express, Session recipe, header tokens) uses sessionward-core as its SuperTokens Core. It
// speaks CDI 2.8 to 2.20, so it picks 2.20: v2 access tokens, which it verifies itself with
// the legacy key of the handshake and of the create and verify answers.
//
// A session is created, verified by supertokens-node alone (no core call), refreshed, the new
// token promoted through the core and then verified alone again, its payload changed
// (regenerate), and revoked; a reused refresh token is caught as theft.
//
// Needs SG_CORE_BIN (the sessionward-core binary); run through ./run.sh, which builds it.
// Everything listens on 127.0.0.1.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const http = require("node:http");

const express = require("express");
const supertokens = require("supertokens-node-13");
const Session = require("supertokens-node-13/recipe/session");
const { middleware, errorHandler } = require("supertokens-node-13/framework/express");
const { verifySession } = require("supertokens-node-13/recipe/session/framework/express");

const { spawnServer, killAll, call, tokensOf, expectStatus } = require("./support");

const API_KEY = crypto.randomBytes(24).toString("hex");
/** `{"alg":"RS256","typ":"JWT","version":"2"}` in standard base64: every v2 token starts so. */
const V2_HEADER = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT", version: "2" })).toString(
    "base64",
);

let tmp;
let core; // sessionward-core base URL
let app; // { url, close }
let proxy; // the recording proxy in front of the core: { url, close }
/** Every request supertokens-node sent to the core, in order: `"<METHOD> <path>"`. */
const coreRequests = [];
/** The `cdi-version` headers of those requests. */
const cdiVersions = new Set();

/**
 * A reverse proxy on 127.0.0.1 in front of `target` that records each request's method and
 * path, so the test sees which calls supertokens-node makes to the core.
 */
function startProxy(target) {
    const server = http.createServer((req, res) => {
        coreRequests.push(`${req.method} ${new URL(req.url, target).pathname}`);
        if (req.headers["cdi-version"] !== undefined) cdiVersions.add(req.headers["cdi-version"]);
        const upstream = http.request(
            new URL(req.url, target),
            { method: req.method, headers: req.headers, timeout: 10_000 },
            (answer) => {
                res.writeHead(answer.statusCode, answer.headers);
                answer.pipe(res);
            },
        );
        upstream.on("timeout", () => upstream.destroy(new Error("core timeout")));
        upstream.on("error", () => {
            res.writeHead(502);
            res.end();
        });
        req.pipe(upstream);
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () =>
            resolve({
                url: `http://127.0.0.1:${server.address().port}`,
                close: () =>
                    new Promise((done) => {
                        server.close(() => done());
                        server.closeAllConnections();
                    }),
            }),
        );
    });
}

/** Serves an express app on supertokens-node 13 whose core is `connectionURI`. */
function startApp(connectionURI) {
    supertokens.init({
        framework: "express",
        supertokens: { connectionURI, apiKey: API_KEY },
        appInfo: {
            appName: "sessionward legacy interop",
            apiDomain: "http://localhost:3100",
            websiteDomain: "http://localhost:3000",
            apiBasePath: "/auth",
            websiteBasePath: "/auth",
        },
        telemetry: false,
        recipeList: [Session.init({ getTokenTransferMethod: () => "header", antiCsrf: "NONE" })],
    });
    const server = express();
    server.use(middleware()); // POST /auth/session/refresh, POST /auth/signout
    const json = express.json();
    const route = (handler) => (req, res, next) => handler(req, res).catch(next);
    const describe = (session) => ({
        userId: session.getUserId(),
        handle: session.getHandle(),
        payload: session.getAccessTokenPayload(),
    });
    server.post(
        "/create",
        json,
        route(async (req, res) => {
            const session = await Session.createNewSession(req, res, req.body.userId, req.body.payload);
            res.json(describe(session));
        }),
    );
    server.get("/session", verifySession(), (req, res) => res.json(describe(req.session)));
    server.post(
        "/merge",
        verifySession(),
        json,
        route(async (req, res) => {
            await req.session.mergeIntoAccessTokenPayload(req.body.update);
            res.json(describe(req.session));
        }),
    );
    server.post(
        "/revoke",
        verifySession(),
        route(async (req, res) => {
            await req.session.revokeSession();
            res.json({ ok: true });
        }),
    );
    server.use(errorHandler());
    server.use((err, req, res, _next) => res.status(500).json({ error: String(err && err.message) }));
    return new Promise((resolve) => {
        const listener = server.listen(0, "127.0.0.1", () => {
            resolve({
                url: `http://127.0.0.1:${listener.address().port}`,
                close: () =>
                    new Promise((done) => {
                        listener.close(() => done());
                        listener.closeAllConnections();
                    }),
            });
        });
    });
}

/** Runs `action` and says whether supertokens-node asked the core to verify meanwhile. */
async function countingVerifyCalls(action) {
    const before = coreRequests.length;
    const result = await action();
    const calledCore = coreRequests.slice(before).includes("POST /recipe/session/verify");
    return { result, calledCore };
}

function refresh(refreshToken) {
    return call("POST", `${app.url}/auth/session/refresh`, {
        headers: { "st-auth-mode": "header", rid: "session" },
        bearer: refreshToken,
    });
}

/** The payload of a v2 token. */
function v2Payload(token) {
    assert.ok(token.startsWith(`${V2_HEADER}.`), `a v2 token: ${token.slice(0, 60)}…`);
    return JSON.parse(Buffer.from(token.split(".")[1], "base64").toString());
}

before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-legacy-"));
    core = await spawnServer("sessionward-core", process.env.SG_CORE_BIN, {
        PORT: "0",
        DATA_DIR: path.join(tmp, "core"),
        API_KEY,
    });
    proxy = await startProxy(core);
    app = await startApp(proxy.url);
});

after(async () => {
    if (app) await app.close();
    if (proxy) await proxy.close();
    killAll();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("the core serves the CDI versions of supertokens-node 13, and its handshake", async () => {
    const versions = await call("GET", `${core}/apiversion`, { headers: { "api-key": API_KEY } });
    expectStatus(versions, 200, "apiversion");
    for (const version of ["2.8", "2.9", "2.20"]) {
        assert.ok(versions.body.versions.includes(version), JSON.stringify(versions.body));
    }
    const handshake = await call("POST", `${core}/recipe/handshake`, {
        headers: { "api-key": API_KEY, "cdi-version": "2.20" },
        body: {},
    });
    expectStatus(handshake, 200, "handshake");
    assert.equal(handshake.body.accessTokenBlacklistingEnabled, false);
    assert.equal(handshake.body.jwtSigningPublicKeyList.length, 1);
    // The legacy key is not one of the JWKS keys.
    const jwks = await call("GET", `${core}/.well-known/jwks.json`);
    const legacy = crypto.createPublicKey({
        key: Buffer.from(handshake.body.jwtSigningPublicKey, "base64"),
        format: "der",
        type: "spki",
    });
    for (const key of jwks.body.keys) {
        const jwk = crypto.createPublicKey({ key, format: "jwk" });
        assert.ok(!jwk.equals(legacy), `the JWKS key ${key.kid} is the legacy key`);
    }
});

test("supertokens-node 13: create, local verify, refresh, promotion, regenerate, revoke", async () => {
    const created = await call("POST", `${app.url}/create`, {
        headers: { "st-auth-mode": "header" },
        body: { userId: "alice", payload: { role: "admin" } },
    });
    expectStatus(created, 200, "create");
    const first = tokensOf(created);
    assert.ok(first.access && first.refresh && first.front, "create sets all tokens");
    const payload = v2Payload(first.access);
    assert.equal(payload.userId, "alice");
    assert.deepEqual(payload.userData, { role: "admin" });
    assert.equal(payload.parentRefreshTokenHash1, undefined);
    // It asked for the versions and the handshake, and speaks the newest version both know.
    assert.ok(coreRequests.includes("GET /apiversion"), coreRequests.join(", "));
    assert.ok(coreRequests.includes("POST /recipe/handshake"), coreRequests.join(", "));
    assert.deepEqual([...cdiVersions], ["2.20"]);

    // Verified by supertokens-node alone, with the legacy key it got from the core.
    const local = await countingVerifyCalls(() => call("GET", `${app.url}/session`, { bearer: first.access }));
    expectStatus(local.result, 200, "verifySession");
    assert.equal(local.result.body.userId, "alice");
    assert.equal(local.result.body.handle, created.body.handle);
    assert.deepEqual(local.result.body.payload, { role: "admin" });
    assert.equal(local.calledCore, false, "a fresh v2 token is verified without the core");

    // Refresh: a v2 token that carries the parent hash, so its first use goes to the core.
    const refreshed = await refresh(first.refresh);
    expectStatus(refreshed, 200, "refresh");
    const second = tokensOf(refreshed);
    assert.ok(second.access && second.refresh);
    assert.ok(v2Payload(second.access).parentRefreshTokenHash1, "a refreshed token has the parent hash");
    const promotion = await countingVerifyCalls(() =>
        call("GET", `${app.url}/session`, { bearer: second.access }),
    );
    expectStatus(promotion.result, 200, "verifySession of the refreshed token");
    assert.equal(promotion.calledCore, true, "the refreshed token is promoted by the core");
    const promoted = tokensOf(promotion.result).access;
    assert.ok(promoted, "the promotion answers with a new access token");
    assert.equal(v2Payload(promoted).parentRefreshTokenHash1, undefined);
    const again = await countingVerifyCalls(() => call("GET", `${app.url}/session`, { bearer: promoted }));
    expectStatus(again.result, 200, "verifySession of the promoted token");
    assert.equal(again.calledCore, false, "the promoted token is verified without the core");

    // Regenerate (mergeIntoAccessTokenPayload): a new v2 token with the merged payload.
    const merged = await call("POST", `${app.url}/merge`, {
        bearer: promoted,
        body: { update: { plan: "pro" } },
    });
    expectStatus(merged, 200, "merge");
    const regenerated = tokensOf(merged).access;
    assert.deepEqual(v2Payload(regenerated).userData, { role: "admin", plan: "pro" });
    const afterMerge = await call("GET", `${app.url}/session`, { bearer: regenerated });
    expectStatus(afterMerge, 200, "verifySession of the regenerated token");
    assert.deepEqual(afterMerge.body.payload, { role: "admin", plan: "pro" });

    // Revoke: the session's refresh token no longer works.
    expectStatus(await call("POST", `${app.url}/revoke`, { bearer: regenerated }), 200, "revoke");
    expectStatus(await refresh(second.refresh), 401, "refresh after revoke");
});

test("supertokens-node 13: a reused refresh token is theft and ends the session", async () => {
    const created = await call("POST", `${app.url}/create`, {
        headers: { "st-auth-mode": "header" },
        body: { userId: "bob" },
    });
    expectStatus(created, 200, "create");
    const first = tokensOf(created);
    const refreshed = await refresh(first.refresh);
    expectStatus(refreshed, 200, "refresh");
    const second = tokensOf(refreshed);
    // Using the new token commits the rotation; the first refresh token is then stale.
    expectStatus(await call("GET", `${app.url}/session`, { bearer: second.access }), 200, "promotion");
    const theft = await refresh(first.refresh);
    expectStatus(theft, 401, "refresh with the rotated token");
    assert.ok(coreRequests.includes("POST /recipe/session/remove"), "supertokens-node revoked the session");
    assert.match(JSON.stringify(theft.body), /token theft detected/);
    // supertokens-node revokes the session on theft: the newest refresh token is dead too.
    expectStatus(await refresh(second.refresh), 401, "refresh after theft");
});
