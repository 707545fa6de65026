// Interop test: supertokens-node 24.0.3 (express, Session recipe) uses sessionward-core as
// its SuperTokens Core over CDI 5.4, and sessions cross between it and sessionward's demo
// in CoreClient mode (CORE_URI) on the same core, in both directions.
//
// Needs SG_CORE_BIN (the sessionward-core binary), SG_DEMO_BIN and SG_DEMO_AXUM_BIN (the demo
// on actix-web and on axum) and SG_STRICT_BIN (the supertokens_core example, whose
// `GET /user/strict` verifies with `check_database`); run through ./run.sh, which builds them.
// Everything listens on 127.0.0.1.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { start } = require("./server");
const { spawnServer, killAll, call, tokensOf, expectStatus } = require("./support");

const API_KEY = crypto.randomBytes(24).toString("hex");

let tmp;
let core; // sessionward-core base URL
let node; // the supertokens-node express app: { url, close }
let demo; // sessionward's demo in CoreClient mode: base URL
let demoAxum; // the same demo on axum (demo-axum), same core
let strict; // the supertokens_core example (check_database route), same core: base URL

/** Creates a session through supertokens-node; returns its description and tokens. */
async function nodeCreate(userId, extra = {}) {
    const response = await call("POST", `${node.url}/create`, {
        headers: { "st-auth-mode": "header" },
        body: { userId, ...extra },
    });
    expectStatus(response, 200, `node create ${userId}`);
    const tokens = tokensOf(response);
    assert.ok(tokens.access && tokens.refresh && tokens.front, "node create sets all tokens");
    return { session: response.body, tokens };
}

async function nodeRefresh(refreshToken) {
    return call("POST", `${node.url}/auth/session/refresh`, {
        headers: { "st-auth-mode": "header", rid: "session" },
        bearer: refreshToken,
    });
}

/** Signs `userId` in through a sessionward demo; returns its tokens and session handle. */
async function demoLogin(base, userId) {
    const login = await call("POST", `${base}/login`, {
        headers: { "st-auth-mode": "header" },
        body: { userId },
    });
    expectStatus(login, 200, `sessionward login ${userId}`);
    const tokens = tokensOf(login);
    assert.ok(tokens.access && tokens.refresh && tokens.front, "sessionward login sets all tokens");
    const user = await call("GET", `${base}/user`, { bearer: tokens.access });
    expectStatus(user, 200, `sessionward verifies the new session of ${userId}`);
    return { tokens, handle: user.body.sessionHandle };
}

async function demoRefresh(base, refreshToken) {
    return call("POST", `${base}/auth/session/refresh`, {
        headers: { "st-auth-mode": "header", rid: "session" },
        bearer: refreshToken,
    });
}

before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-interop-"));
    core = await spawnServer("sessionward-core", process.env.SG_CORE_BIN, {
        PORT: "0",
        DATA_DIR: path.join(tmp, "core"),
        API_KEY,
    });
    node = await start({ connectionURI: core, apiKey: API_KEY });
    demo = await spawnServer("demo (CoreClient mode)", process.env.SG_DEMO_BIN, {
        PORT: "0",
        DATA_DIR: path.join(tmp, "demo-unused"),
        CORE_URI: core,
        CORE_API_KEY: API_KEY,
    });
    demoAxum = await spawnServer("demo-axum (CoreClient mode)", process.env.SG_DEMO_AXUM_BIN, {
        PORT: "0",
        DATA_DIR: path.join(tmp, "demo-axum-unused"),
        CORE_URI: core,
        CORE_API_KEY: API_KEY,
    });
    strict = await spawnServer("supertokens_core example", process.env.SG_STRICT_BIN, {
        PORT: "0",
        CORE_URI: core,
        CORE_API_KEY: API_KEY,
    });
});

after(async () => {
    if (node) await node.close();
    killAll();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("the core answers CDI 5.4 to the api key only, and publishes its keys", async () => {
    expectStatus(await call("GET", `${core}/apiversion`), 401, "apiversion without key");
    const versions = await call("GET", `${core}/apiversion`, { headers: { "api-key": API_KEY } });
    expectStatus(versions, 200, "apiversion");
    // Among the versions served, the one supertokens-node 24 speaks (its only one).
    assert.ok(versions.body.versions.includes("5.4"), JSON.stringify(versions.body));
    const jwks = await call("GET", `${core}/.well-known/jwks.json`);
    expectStatus(jwks, 200, "jwks");
    assert.ok(jwks.body.keys.length >= 1);
    for (const key of jwks.body.keys) {
        assert.equal(key.kty, "RSA");
        assert.equal(key.alg, "RS256");
        assert.match(key.kid, /^[ds]-/);
    }
});

test("supertokens-node: create, verifySession, checkDatabase, session data", async () => {
    const { session, tokens } = await nodeCreate("alice", {
        payload: { custom: "x" },
        data: { n: 1 },
    });
    assert.equal(session.userId, "alice");
    assert.equal(session.tenantId, "public");
    assert.equal(session.payload.custom, "x");
    assert.equal(session.payload.iss, "http://localhost:3100/auth");

    const verified = await call("GET", `${node.url}/session`, { bearer: tokens.access });
    expectStatus(verified, 200, "verifySession");
    assert.equal(verified.body.handle, session.handle);
    assert.equal(verified.body.payload.sub, "alice");
    assert.equal(verified.body.payload.rsub, "alice");
    assert.equal(verified.body.payload.tId, "public");

    expectStatus(
        await call("GET", `${node.url}/session-db`, { bearer: tokens.access }),
        200,
        "verifySession checkDatabase",
    );

    const data = await call("GET", `${node.url}/data`, { bearer: tokens.access });
    assert.deepEqual(data.body, { data: { n: 1 } });
    expectStatus(
        await call("PUT", `${node.url}/data`, { bearer: tokens.access, body: { data: { n: 2 } } }),
        200,
        "update session data",
    );
    assert.deepEqual((await call("GET", `${node.url}/data`, { bearer: tokens.access })).body, {
        data: { n: 2 },
    });
});

test("supertokens-node: merge into the payload (regenerate), then refresh, promotion and theft", async () => {
    const { session, tokens } = await nodeCreate("bob", { payload: { custom: "x" } });

    const merged = await call("POST", `${node.url}/merge`, {
        bearer: tokens.access,
        body: { update: { role: "admin", custom: null } },
    });
    expectStatus(merged, 200, "merge");
    assert.equal(merged.body.payload.role, "admin");
    assert.equal(merged.body.payload.custom, undefined);
    const regenerated = tokensOf(merged).access;
    assert.ok(regenerated, "a regenerated access token is sent");
    const after = await call("GET", `${node.url}/session`, { bearer: regenerated });
    expectStatus(after, 200, "verify the regenerated token");
    assert.equal(after.body.payload.role, "admin");

    const refreshed = await nodeRefresh(tokens.refresh);
    expectStatus(refreshed, 200, "refresh");
    const next = tokensOf(refreshed);
    assert.ok(next.access && next.refresh && next.refresh !== tokens.refresh, "rotated tokens");
    // The first use of the refreshed token goes to the core (parentRefreshTokenHash1), which
    // promotes it and answers a new access token.
    const promoted = await call("GET", `${node.url}/session`, { bearer: next.access });
    expectStatus(promoted, 200, "verify after refresh");
    assert.equal(promoted.body.handle, session.handle);
    assert.equal(promoted.body.payload.role, "admin", "the payload survives the refresh");
    assert.ok(tokensOf(promoted).access, "the promoted token is sent");

    const theft = await nodeRefresh(tokens.refresh);
    expectStatus(theft, 401, "reusing a rotated refresh token");
    assert.deepEqual(theft.body, { message: "token theft detected" });
    expectStatus(
        await call("GET", `${node.url}/session-db`, { bearer: next.access }),
        401,
        "the session is revoked after theft",
    );
});

test("supertokens-node: calls by handle and by user, tenants", async () => {
    const { session, tokens } = await nodeCreate("carol", { data: { d: 1 } });
    const handle = session.handle;

    const info = await call("GET", `${node.url}/admin/info/${handle}`);
    expectStatus(info, 200, "getSessionInformation");
    assert.equal(info.body.info.sessionHandle, handle);
    assert.equal(info.body.info.userId, "carol");
    assert.equal(info.body.info.recipeUserId, "carol");
    assert.equal(info.body.info.tenantId, "public");
    assert.deepEqual(info.body.info.sessionDataInDatabase, { d: 1 });
    assert.ok(info.body.info.expiry > Date.now());
    assert.ok(info.body.info.timeCreated <= Date.now());
    expectStatus(await call("GET", `${node.url}/admin/info/no-such-handle`), 404, "unknown handle");

    const merge = await call("POST", `${node.url}/admin/merge-by-handle`, {
        body: { handle, update: { flag: true } },
    });
    assert.deepEqual(merge.body, { ok: true });
    const data = await call("POST", `${node.url}/admin/data-by-handle`, {
        body: { handle, data: { d: 2 } },
    });
    assert.deepEqual(data.body, { ok: true });
    const updated = (await call("GET", `${node.url}/admin/info/${handle}`)).body.info;
    assert.equal(updated.customClaimsInAccessTokenPayload.flag, true);
    assert.deepEqual(updated.sessionDataInDatabase, { d: 2 });
    // The payload update reaches the client at the next refresh.
    const refreshed = tokensOf(await nodeRefresh(tokens.refresh));
    const verified = await call("GET", `${node.url}/session`, { bearer: refreshed.access });
    assert.equal(verified.body.payload.flag, true);

    const other = await nodeCreate("carol", { tenantId: "t1" });
    assert.equal(other.session.tenantId, "t1");
    const inT1 = await call("GET", `${node.url}/session`, { bearer: other.tokens.access });
    assert.equal(inT1.body.tenantId, "t1");
    assert.equal(inT1.body.payload.tId, "t1");

    const all = (await call("GET", `${node.url}/admin/handles?userId=carol`)).body.handles;
    assert.deepEqual(new Set(all), new Set([handle, other.session.handle]));
    const publicOnly = (await call("GET", `${node.url}/admin/handles?userId=carol&tenantId=public`))
        .body.handles;
    assert.deepEqual(publicOnly, [handle]);
    const t1Only = (await call("GET", `${node.url}/admin/handles?userId=carol&tenantId=t1`)).body
        .handles;
    assert.deepEqual(t1Only, [other.session.handle]);

    const revokedT1 = await call("POST", `${node.url}/admin/revoke-all`, {
        body: { userId: "carol", tenantId: "t1" },
    });
    assert.deepEqual(revokedT1.body, { revoked: [other.session.handle] });
    const revokedAll = await call("POST", `${node.url}/admin/revoke-all`, {
        body: { userId: "carol" },
    });
    assert.deepEqual(revokedAll.body, { revoked: [handle] });
    expectStatus(await call("GET", `${node.url}/admin/info/${handle}`), 404, "revoked session");
});

test("supertokens-node: revokeSession and sign-out end the session", async () => {
    const revoked = await nodeCreate("dave");
    expectStatus(
        await call("POST", `${node.url}/revoke`, { bearer: revoked.tokens.access }),
        200,
        "revokeSession",
    );
    expectStatus(
        await call("GET", `${node.url}/session-db`, { bearer: revoked.tokens.access }),
        401,
        "checkDatabase after revoke",
    );
    const refresh = await nodeRefresh(revoked.tokens.refresh);
    expectStatus(refresh, 401, "refresh after revoke");
    assert.deepEqual(refresh.body, { message: "unauthorised" });

    const signedOut = await nodeCreate("dave");
    const signout = await call("POST", `${node.url}/auth/signout`, {
        headers: { rid: "session" },
        bearer: signedOut.tokens.access,
    });
    expectStatus(signout, 200, "sign-out");
    assert.deepEqual(signout.body, { status: "OK" });
    assert.equal(signout.headers.get("front-token"), "remove");
    expectStatus(await nodeRefresh(signedOut.tokens.refresh), 401, "refresh after sign-out");
});

/** The base URL of the actix-web demo or of demo-axum. */
/** Verifies the RS256 JWT `jwt` with the key of its `kid` in `jwks`; resolves to its payload. */
function verifyJwt(jwt, jwks) {
    const [header, payload, signature] = jwt.split(".");
    const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    const { alg, kid } = decode(header);
    assert.equal(alg, "RS256");
    const jwk = jwks.keys.find((key) => key.kid === kid);
    assert.ok(jwk, `no key ${kid} in the JWKS`);
    const valid = crypto.verify(
        "RSA-SHA256",
        Buffer.from(`${header}.${payload}`),
        crypto.createPublicKey({ key: jwk, format: "jwk" }),
        Buffer.from(signature, "base64url"),
    );
    assert.ok(valid, "the JWT's signature verifies");
    return { kid, claims: decode(payload) };
}

test("supertokens-node's createJWT is signed by sessionward-core and verifies with the keys the demos serve", async () => {
    for (const useStaticSigningKey of [true, false]) {
        const created = await call("POST", `${node.url}/admin/jwt`, {
            body: { payload: { sub: "service-a", aud: "billing" }, validity: 300, useStaticSigningKey },
        });
        expectStatus(created, 200, "createJWT");
        assert.equal(created.body.status, "OK");
        for (const base of [demo, demoAxum]) {
            const jwks = await call("GET", `${base}/auth/jwt/jwks.json`);
            expectStatus(jwks, 200, "the demo's JWKS");
            const { kid, claims } = verifyJwt(created.body.jwt, jwks.body);
            assert.match(kid, useStaticSigningKey ? /^s-/ : /^d-/);
            assert.equal(claims.sub, "service-a");
            assert.equal(claims.aud, "billing");
            assert.equal(claims.exp - claims.iat, 300);
        }
        // supertokens-node serves the same keys.
        const nodeJwks = await call("GET", `${node.url}/auth/jwt/jwks.json`);
        expectStatus(nodeJwks, 200, "supertokens-node's JWKS");
        verifyJwt(created.body.jwt, nodeJwks.body);
    }
});

function baseOf(which) {
    return which === "demo-axum" ? demoAxum : demo;
}

// The cross-verification runs against both demos: one contract, two frameworks.
for (const which of ["demo", "demo-axum"]) {
    test(`a session created by supertokens-node is accepted by sessionward ${which} (CoreClient mode)`, async () => {
        const base = baseOf(which);
        const { session, tokens } = await nodeCreate("erin", { payload: { custom: "from-node" } });
        const user = await call("GET", `${base}/user`, { bearer: tokens.access });
        expectStatus(user, 200, "sessionward verifies a node session");
        assert.equal(user.body.userId, "erin");
        assert.equal(user.body.sessionHandle, session.handle);
        assert.equal(user.body.accessTokenPayload.custom, "from-node");

        // sessionward refreshes it through the core; both sides accept the result.
        const refreshed = await demoRefresh(base, tokens.refresh);
        expectStatus(refreshed, 200, "sessionward refreshes a node session");
        const next = tokensOf(refreshed);
        assert.ok(next.access && next.refresh);
        expectStatus(
            await call("GET", `${base}/user`, { bearer: next.access }),
            200,
            "sessionward verifies the refreshed token (core verify, promotion)",
        );
        const back = await call("GET", `${node.url}/session`, { bearer: next.access });
        expectStatus(back, 200, "node verifies the token sessionward refreshed");
        assert.equal(back.body.handle, session.handle);
    });

    test(`a session created by sessionward ${which} (CoreClient mode) is accepted by supertokens-node`, async () => {
        const base = baseOf(which);
        const login = await call("POST", `${base}/login`, {
            headers: { "st-auth-mode": "header" },
            body: { userId: "frank" },
        });
        expectStatus(login, 200, "sessionward login through the core");
        const tokens = tokensOf(login);
        assert.ok(tokens.access && tokens.refresh && tokens.front);

        const verified = await call("GET", `${node.url}/session`, { bearer: tokens.access });
        expectStatus(verified, 200, "node verifies a sessionward session");
        assert.equal(verified.body.userId, "frank");
        expectStatus(
            await call("GET", `${node.url}/session-db`, { bearer: tokens.access }),
            200,
            "node checkDatabase on a sessionward session",
        );

        const refreshed = await nodeRefresh(tokens.refresh);
        expectStatus(refreshed, 200, "node refreshes a sessionward session");
        const next = tokensOf(refreshed);
        expectStatus(
            await call("GET", `${base}/user`, { bearer: next.access }),
            200,
            "sessionward verifies the token node refreshed",
        );

        const signout = await call("POST", `${base}/auth/signout`, {
            headers: { rid: "session" },
            bearer: next.access,
        });
        expectStatus(signout, 200, "sessionward sign-out");
        expectStatus(
            await call("GET", `${node.url}/session-db`, { bearer: next.access }),
            401,
            "node sees the session signed out by sessionward",
        );
    });
}

// Revocation crosses too: whichever side revokes, the core forgets the session, so the other
// side's refresh and database-checked verification refuse it.
for (const which of ["demo", "demo-axum"]) {
    test(`a session revoked by sessionward ${which} is gone for supertokens-node`, async () => {
        const base = baseOf(which);
        const userId = `gina-${which}`;
        // One device signed in through supertokens-node, another through sessionward.
        const nodeDevice = await nodeCreate(userId);
        const demoDevice = await demoLogin(base, userId);

        // Before the revocation node refreshes its session, and the core knows it.
        const refreshed = await nodeRefresh(nodeDevice.tokens.refresh);
        expectStatus(refreshed, 200, "node refresh before the revocation");
        const live = tokensOf(refreshed);
        const checked = await call("GET", `${node.url}/session-db`, { bearer: live.access });
        expectStatus(checked, 200, "node checkDatabase before the revocation");
        const promoted = tokensOf(checked).access;
        assert.ok(promoted, "the refreshed token is promoted on first use");

        // sessionward revokes every session of the user (revoke_all_sessions_for_user).
        const everywhere = await call("POST", `${base}/logout-everywhere`, {
            bearer: demoDevice.tokens.access,
        });
        expectStatus(everywhere, 200, "sessionward logout-everywhere");
        assert.deepEqual(everywhere.body, { revoked: 2 });

        const refresh = await nodeRefresh(live.refresh);
        expectStatus(refresh, 401, "node refresh of a session sessionward revoked");
        assert.deepEqual(refresh.body, { message: "unauthorised" });
        expectStatus(
            await call("GET", `${node.url}/session-db`, { bearer: promoted }),
            401,
            "node checkDatabase on a session sessionward revoked",
        );
        // Without checkDatabase node verifies the token alone, so it stands until it expires:
        // the 401 above comes from the core, not from a damaged token.
        expectStatus(
            await call("GET", `${node.url}/session`, { bearer: promoted }),
            200,
            "node verifySession without checkDatabase",
        );
        const handles = await call(
            "GET",
            `${node.url}/admin/handles?userId=${encodeURIComponent(userId)}`,
        );
        assert.deepEqual(handles.body, { handles: [] });
    });

    test(`a session revoked by supertokens-node is gone for sessionward ${which}`, async () => {
        const base = baseOf(which);
        const userId = `hank-${which}`;
        const first = await demoLogin(base, userId);
        const second = await demoLogin(base, userId);

        const refreshedFirst = await demoRefresh(base, first.tokens.refresh);
        expectStatus(refreshedFirst, 200, "sessionward refresh before the revocation");
        const firstNow = tokensOf(refreshedFirst);

        // revokeSession by handle ends that session only.
        const byHandle = await call("POST", `${node.url}/admin/revoke-by-handle`, {
            body: { handle: first.handle },
        });
        assert.deepEqual(byHandle.body, { ok: true });
        const refusedFirst = await demoRefresh(base, firstNow.refresh);
        expectStatus(refusedFirst, 401, "sessionward refresh of a session node revoked");
        assert.deepEqual(refusedFirst.body, { message: "unauthorised" });
        assert.equal(refusedFirst.headers.get("front-token"), "remove", "the tokens are cleared");

        const refreshedSecond = await demoRefresh(base, second.tokens.refresh);
        expectStatus(refreshedSecond, 200, "the user's other session is untouched");
        const secondNow = tokensOf(refreshedSecond);

        // revokeAllSessionsForUser ends the rest.
        const all = await call("POST", `${node.url}/admin/revoke-all`, { body: { userId } });
        assert.deepEqual(all.body, { revoked: [second.handle] });
        const refusedSecond = await demoRefresh(base, secondNow.refresh);
        expectStatus(refusedSecond, 401, "sessionward refresh after revokeAllSessionsForUser");
        assert.deepEqual(refusedSecond.body, { message: "unauthorised" });
    });
}

// The demos have no database-checked route; the supertokens_core example's `GET /user/strict`
// (`check_database = true`) is one, on the same core.
test("a session revoked by supertokens-node is refused by sessionward's check_database route", async () => {
    const { session, tokens } = await nodeCreate("ivy");
    const before = await call("GET", `${strict}/user/strict`, { bearer: tokens.access });
    expectStatus(before, 200, "check_database before the revocation");
    assert.equal(before.body.sessionHandle, session.handle);

    const revoked = await call("POST", `${node.url}/admin/revoke-by-handle`, {
        body: { handle: session.handle },
    });
    assert.deepEqual(revoked.body, { ok: true });

    const after = await call("GET", `${strict}/user/strict`, { bearer: tokens.access });
    expectStatus(after, 401, "check_database on a session node revoked");
    assert.deepEqual(after.body, { message: "unauthorised" });
    // The route without check_database verifies the token alone, which stands until it expires.
    expectStatus(
        await call("GET", `${strict}/user`, { bearer: tokens.access }),
        200,
        "sessionward verification without check_database",
    );
});
