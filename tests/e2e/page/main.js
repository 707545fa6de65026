// The page under test: the official frontend SDK (supertokens-web-js, which wraps
// supertokens-website) initialised against the sessionward demo backend.
//
// Query string: `api` (the backend's origin) and `mode` (`cookie` or `header`, the SDK's
// tokenTransferMethod). The test drives the page through `window.e2e`.
import SuperTokens from "supertokens-web-js";
import Session from "supertokens-web-js/recipe/session";

const params = new URLSearchParams(window.location.search);
const apiDomain = params.get("api");
const tokenTransferMethod = params.get("mode") || "cookie";

// The browser's own fetch, kept before the SDK wraps `window.fetch`: requests sent with it
// carry none of the SDK's headers (`rid`, `st-auth-mode`, `anti-csrf`, `Authorization`).
const plainFetch = window.fetch.bind(window);

const events = [];
SuperTokens.init({
  appInfo: { appName: "sessionward e2e", apiDomain, apiBasePath: "/auth" },
  recipeList: [
    Session.init({
      tokenTransferMethod,
      onHandleEvent: (event) => {
        events.push(event.action);
        log(`event ${event.action}`);
      },
    }),
  ],
});

function log(line) {
  document.getElementById("log").textContent += `${line}\n`;
}

async function answer(response) {
  const text = await response.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

async function refreshState() {
  const exists = await Session.doesSessionExist();
  document.getElementById("state").textContent = exists ? "signed in" : "signed out";
  return exists;
}

window.e2e = {
  mode: tokenTransferMethod,
  events,

  // A call through the SDK-intercepted fetch (the way applications call their API).
  async call(path, init = {}) {
    const response = await fetch(apiDomain + path, init);
    const result = await answer(response);
    log(`${init.method || "GET"} ${path} -> ${result.status}`);
    return result;
  },

  // Several intercepted calls at once.
  async callAll(paths) {
    return Promise.all(paths.map((path) => window.e2e.call(path)));
  },

  // A plain credentialed fetch that the SDK neither sees nor decorates.
  async plain(path, init = {}) {
    const response = await plainFetch(apiDomain + path, { credentials: "include", ...init });
    const result = await answer(response);
    log(`plain ${init.method || "GET"} ${path} -> ${result.status}`);
    return result;
  },

  async login(userId) {
    return window.e2e.call("/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId }),
    });
  },

  // What the SDK knows about the session. Note that `doesSessionExist` refreshes first when
  // the access token has expired.
  async session() {
    const exists = await refreshState();
    if (!exists) {
      return { exists };
    }
    return {
      exists,
      userId: await Session.getUserId(),
      payload: await Session.getAccessTokenPayloadSecurely(),
    };
  },

  async refresh() {
    return Session.attemptRefreshingSession();
  },

  async signOut() {
    await Session.signOut();
    log("signed out");
    return refreshState();
  },
};

refreshState().then(
  () => {
    document.body.dataset.ready = "true";
  },
  (error) => log(`error: ${error}`),
);
