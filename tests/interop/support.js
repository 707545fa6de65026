// What the interop test files share: starting the Rust servers, bounded HTTP calls, and reading
// the tokens a response set. Everything listens on 127.0.0.1.
"use strict";

const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const readline = require("node:readline");

const REQUEST_TIMEOUT_MS = 10_000;
const STARTUP_TIMEOUT_MS = 30_000;

/** Every process started here, killed by `killAll`. */
const children = [];

/**
 * Starts `bin`, resolving to `{ url, child }` once its first stdout line is
 * `listening on <url>`.
 */
function spawnProcess(name, bin, env) {
    if (!bin || !fs.existsSync(bin)) {
        throw new Error(`${name}: binary ${JSON.stringify(bin)} not found (run tests/interop/run.sh)`);
    }
    const child = spawn(bin, [], {
        env: { ...process.env, RUST_LOG: "warn", ...env },
        stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(
            () => reject(new Error(`${name} did not print its address within ${STARTUP_TIMEOUT_MS} ms`)),
            STARTUP_TIMEOUT_MS,
        );
        child.on("exit", (code) => reject(new Error(`${name} exited early with ${code}`)));
        readline.createInterface({ input: child.stdout }).once("line", (line) => {
            clearTimeout(timer);
            const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line.trim());
            if (match) resolve({ url: match[1], child });
            else reject(new Error(`${name}: unexpected first line ${JSON.stringify(line)}`));
        });
    });
}

/** Starts `bin`, resolving to the URL it listens on. */
async function spawnServer(name, bin, env) {
    return (await spawnProcess(name, bin, env)).url;
}

/** Kills every process `spawnProcess` started that is still running. */
function killAll() {
    for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
}

/** An HTTP call with a bounded time; resolves to `{ status, headers, body }`. */
async function call(method, url, { headers = {}, body, bearer } = {}) {
    const init = {
        method,
        headers: { ...headers },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    };
    if (bearer !== undefined) init.headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) {
        init.headers["content-type"] = "application/json";
        init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let parsed = text;
    try {
        parsed = JSON.parse(text);
    } catch {
        // text/plain answers stay text
    }
    return { status: response.status, headers: response.headers, body: parsed };
}

/** The tokens a response set (header transfer). */
function tokensOf(response) {
    return {
        access: response.headers.get("st-access-token") || undefined,
        refresh: response.headers.get("st-refresh-token") || undefined,
        front: response.headers.get("front-token") || undefined,
    };
}

function expectStatus(response, status, what) {
    assert.equal(response.status, status, `${what}: ${JSON.stringify(response.body)}`);
}

module.exports = { spawnProcess, spawnServer, killAll, call, tokensOf, expectStatus };
