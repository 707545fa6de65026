// An express backend on supertokens-node 24.0.3's Session recipe, whose SuperTokens Core is
// sessionward-core. Tokens travel in headers (`st-access-token`, `st-refresh-token`,
// `Authorization: Bearer`), so the test needs no cookie jar.
"use strict";

const express = require("express");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const { middleware, errorHandler } = require("supertokens-node/framework/express");
const { verifySession } = require("supertokens-node/recipe/session/framework/express");

/** What the routes answer about a session. */
function describe(session) {
    return {
        userId: session.getUserId(),
        recipeUserId: session.getRecipeUserId().getAsString(),
        handle: session.getHandle(),
        tenantId: session.getTenantId(),
        payload: session.getAccessTokenPayload(),
    };
}

/** Wraps an async route so that a rejection reaches express's error handlers. */
const route = (handler) => (req, res, next) => handler(req, res).catch(next);

/**
 * Initialises supertokens-node against `connectionURI` (one core, or several separated by `;`)
 * and serves the app on 127.0.0.1. `networkInterceptor`, if given, sees every request
 * supertokens-node sends to a core (each attempt, so also one to a core that is down).
 * Resolves to `{ url, close }`.
 */
function start({ connectionURI, apiKey, networkInterceptor }) {
    supertokens.init({
        framework: "express",
        supertokens: { connectionURI, apiKey, networkInterceptor },
        appInfo: {
            appName: "sessionward interop",
            apiDomain: "http://localhost:3100",
            websiteDomain: "http://localhost:3000",
            apiBasePath: "/auth",
            websiteBasePath: "/auth",
        },
        telemetry: false,
        recipeList: [Session.init({ getTokenTransferMethod: () => "header", antiCsrf: "NONE" })],
    });

    const app = express();
    app.use(middleware()); // POST /auth/session/refresh, POST /auth/signout
    const json = express.json();

    app.post(
        "/create",
        json,
        route(async (req, res) => {
            const { userId, tenantId = "public", payload = {}, data = {} } = req.body;
            const session = await Session.createNewSession(
                req,
                res,
                tenantId,
                supertokens.convertToRecipeUserId(userId),
                payload,
                data,
            );
            res.json(describe(session));
        }),
    );
    app.get("/session", verifySession(), (req, res) => res.json(describe(req.session)));
    app.get("/session-db", verifySession({ checkDatabase: true }), (req, res) =>
        res.json(describe(req.session)),
    );
    app.post(
        "/merge",
        verifySession(),
        json,
        route(async (req, res) => {
            await req.session.mergeIntoAccessTokenPayload(req.body.update);
            res.json(describe(req.session));
        }),
    );
    app.get(
        "/data",
        verifySession(),
        route(async (req, res) => res.json({ data: await req.session.getSessionDataFromDatabase() })),
    );
    app.put(
        "/data",
        verifySession(),
        json,
        route(async (req, res) => {
            await req.session.updateSessionDataInDatabase(req.body.data);
            res.json({ ok: true });
        }),
    );
    app.post(
        "/revoke",
        verifySession(),
        route(async (req, res) => {
            await req.session.revokeSession();
            res.json({ ok: true });
        }),
    );

    // Calls by session handle or user, without a request session.
    app.get(
        "/admin/info/:handle",
        route(async (req, res) => {
            const info = await Session.getSessionInformation(req.params.handle);
            if (info === undefined) {
                res.status(404).json({ info: null });
                return;
            }
            res.json({ info: { ...info, recipeUserId: info.recipeUserId.getAsString() } });
        }),
    );
    app.get(
        "/admin/handles",
        route(async (req, res) => {
            const { userId, tenantId } = req.query;
            res.json({ handles: await Session.getAllSessionHandlesForUser(userId, true, tenantId) });
        }),
    );
    app.post(
        "/admin/revoke-all",
        json,
        route(async (req, res) => {
            const { userId, tenantId } = req.body;
            res.json({ revoked: await Session.revokeAllSessionsForUser(userId, true, tenantId) });
        }),
    );
    app.post(
        "/admin/revoke-by-handle",
        json,
        route(async (req, res) => {
            res.json({ ok: await Session.revokeSession(req.body.handle) });
        }),
    );
    app.post(
        "/admin/merge-by-handle",
        json,
        route(async (req, res) => {
            const { handle, update } = req.body;
            res.json({ ok: await Session.mergeIntoAccessTokenPayload(handle, update) });
        }),
    );
    app.post(
        "/admin/data-by-handle",
        json,
        route(async (req, res) => {
            const { handle, data } = req.body;
            res.json({ ok: await Session.updateSessionDataInDatabase(handle, data) });
        }),
    );

    // A JWT for another service, signed by the core (CDI POST /recipe/jwt).
    app.post(
        "/admin/jwt",
        json,
        route(async (req, res) => {
            const { payload, validity, useStaticSigningKey } = req.body;
            res.json(await Session.createJWT(payload, validity, useStaticSigningKey));
        }),
    );

    app.use(errorHandler());
    // Anything else (a core error, a bug): 500 with the message, so a failing test shows it.
    app.use((err, req, res, _next) => {
        res.status(500).json({ message: String(err && err.message ? err.message : err) });
    });

    return new Promise((resolve, reject) => {
        const server = app.listen(0, "127.0.0.1", () => {
            const { port } = server.address();
            resolve({
                url: `http://127.0.0.1:${port}`,
                close: () =>
                    new Promise((done) => {
                        server.close(() => done());
                        server.closeAllConnections();
                    }),
            });
        });
        server.on("error", reject);
    });
}

module.exports = { start };
