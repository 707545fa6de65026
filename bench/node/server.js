// bench/load.sh's comparison server: an express app on supertokens-node 24.0.3's Session
// recipe, with `verifySession()` guarding its routes and sessionward-core as its SuperTokens
// Core (initialised as in tests/interop/server.js). Its routes answer like the demo's
// (examples/src/demo.rs), so wrk loads the same requests against both:
//   GET  /health    no guard, {"status":"ok"}
//   POST /login     {"userId": ...} (default "bench"): Session.createNewSession; the tokens come
//                   back as the client asks with `st-auth-mode` (`header`: `st-access-token`
//                   and `st-refresh-token` headers; `cookie`: sAccessToken/sRefreshToken
//                   cookies), supertokens-node's default token transfer method
//   GET  /user      verifySession(): {userId, sessionHandle, accessTokenPayload}
//   GET  /optional  verifySession({sessionRequired: false}): {userId} or {userId: null}
// plus supertokens-node's own routes under /auth (refresh, sign-out) through its middleware,
// as a real app has them.
//
// Environment: CORE_URI (required, e.g. http://127.0.0.1:3567), CORE_API_KEY, PORT (0 picks a
// free port), NODE_WORKERS (default: one per CPU). Listens on 127.0.0.1 only; the primary
// prints `listening on http://127.0.0.1:<port>` on stdout once every worker listens.
//
// Workers: actix-web starts one worker per CPU (std::thread::available_parallelism), so the
// demo serves on 2 threads on a 2-core machine. Node runs JavaScript on one thread, so this
// server forks as many `cluster` workers as that (os.availableParallelism(), or NODE_WORKERS)
// sharing one port; the comparison then gives both servers the same cores.
"use strict";

const cluster = require("node:cluster");
const os = require("node:os");

const workers = Number(process.env.NODE_WORKERS || os.availableParallelism());
if (!Number.isInteger(workers) || workers < 1) {
    console.error(`NODE_WORKERS=${process.env.NODE_WORKERS} is not a positive integer`);
    process.exit(2);
}
if (!process.env.CORE_URI) {
    console.error("CORE_URI is required (the sessionward-core to use)");
    process.exit(2);
}

if (cluster.isPrimary) {
    primary();
} else {
    worker();
}

function primary() {
    let listening = 0;
    let stopping = false;
    cluster.on("listening", (_worker, address) => {
        listening += 1;
        // listen(0) in cluster workers: the primary picks one port and every worker shares it.
        if (listening === workers) {
            console.log(`listening on http://127.0.0.1:${address.port}`);
        }
    });
    // A worker that dies mid-run would halve the server silently: stop everything instead.
    cluster.on("exit", (w, code, signal) => {
        if (stopping) return;
        console.error(`worker ${w.process.pid} exited (code ${code}, signal ${signal})`);
        stop(1);
    });
    const stop = (code) => {
        stopping = true;
        for (const w of Object.values(cluster.workers)) w.process.kill("SIGTERM");
        process.exit(code);
    };
    process.on("SIGTERM", () => stop(0));
    process.on("SIGINT", () => stop(0));
    for (let i = 0; i < workers; i++) cluster.fork();
}

function worker() {
    const express = require("express");
    const supertokens = require("supertokens-node");
    const Session = require("supertokens-node/recipe/session");
    const { middleware, errorHandler } = require("supertokens-node/framework/express");
    const { verifySession } = require("supertokens-node/recipe/session/framework/express");

    supertokens.init({
        framework: "express",
        supertokens: { connectionURI: process.env.CORE_URI, apiKey: process.env.CORE_API_KEY || undefined },
        appInfo: {
            appName: "sessionward bench",
            apiDomain: "http://localhost:3001",
            websiteDomain: "http://localhost:3000",
            apiBasePath: "/auth",
            websiteBasePath: "/auth",
        },
        telemetry: false,
        // Defaults otherwise, as the demo: tokens in headers or cookies as the client asks,
        // anti-CSRF decided by the domains (same site here: none; GET needs none anyway).
        recipeList: [Session.init()],
    });

    const app = express();
    app.use(middleware()); // POST /auth/session/refresh, POST /auth/signout

    app.get("/health", (req, res) => res.json({ status: "ok" }));

    app.post("/login", express.json(), (req, res, next) => {
        const userId = String((req.body && req.body.userId) || "bench").trim();
        if (userId.length === 0 || userId.length > 256) {
            res.status(400).json({ message: "userId must be 1 to 256 characters" });
            return;
        }
        Session.createNewSession(req, res, "public", supertokens.convertToRecipeUserId(userId), {}, {})
            .then((session) => res.json({ userId: session.getUserId() }))
            .catch(next);
    });

    app.get("/user", verifySession(), (req, res) =>
        res.json({
            userId: req.session.getUserId(),
            sessionHandle: req.session.getHandle(),
            accessTokenPayload: req.session.getAccessTokenPayload(),
        }),
    );

    app.get("/optional", verifySession({ sessionRequired: false }), (req, res) =>
        res.json({ userId: req.session === undefined ? null : req.session.getUserId() }),
    );

    app.use(errorHandler());
    app.use((err, req, res, _next) => {
        console.error(err);
        res.status(500).json({ message: String(err && err.message ? err.message : err) });
    });

    const server = app.listen(Number(process.env.PORT || 0), "127.0.0.1");
    server.on("error", (err) => {
        console.error(err);
        process.exit(1);
    });
}
