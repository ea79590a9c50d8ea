// Minimal but REAL OpenID Provider for local integration tests.
//
// It is panva's `oidc-provider` (a certified OpenID Provider implementation),
// configured for the OAuth 2.0 Device Authorization Grant (RFC 8628) with:
//   * one public native client (token_endpoint_auth_method=none,
//     grant_types = device_code + refresh_token, offline_access allowed),
//   * two static test accounts with an `email` claim,
//   * id_tokens that carry `email` and have aud = client_id,
//   * its own tiny login + consent pages (oidc-provider's built-in
//     "devInteractions" accept ANY username and ignore the password; these
//     check the password, so wrong-password paths can be tested too).
//
// Everything is configured through environment variables:
//   IDP_PORT            port on 127.0.0.1 (default 9000; 0 = pick a free one)
//   IDP_HOST            bind/issuer host (default 127.0.0.1). The issuer is
//                       the fixed string http://IDP_HOST:PORT (relying parties
//                       such as OpenBao must use exactly it), but oidc-provider
//                       builds every endpoint URL (discovery, verification_uri)
//                       from the request's Host header: ask via localhost, get
//                       localhost URLs next to a 127.0.0.1 issuer.
//   IDP_ISSUER          HARMONY EXTENSION: the issuer string instead of
//                       http://IDP_HOST:PORT, `{port}` replaced by the bound port
//                       (e.g. http://sso.harmony.invalid:{port}, reached through a
//                       DNS override, to test clients that check the issuer)
//   IDP_CLIENT_ID       client_id of the public device-flow client (default testbed-cli)
//   IDP_SIGNING_ALG     RS256 (default) | PS256 | ES256 | EdDSA  (id_token alg;
//                       Ed25519 also works here but OpenBao 2.7.2 rejects that name)
//   IDP_JWKS_FILE       if set: load the private signing JWKS from this file,
//                       or create it there, so the kid survives restarts
//   IDP_DEVICE_INTERVAL if set (seconds): add "interval" to the device
//                       authorization response (oidc-provider omits it, so
//                       clients must fall back to RFC 8628's 5 s default)
//   IDP_SLOW_DOWN=1     TESTBED EXTENSION (not oidc-provider behaviour): answer
//                       "slow_down" when a device_code is polled faster than
//                       its interval; the interval then grows by 5 s (RFC 8628 3.5)
//   IDP_ID_TOKEN_TTL, IDP_ACCESS_TOKEN_TTL, IDP_REFRESH_TOKEN_TTL,
//   IDP_DEVICE_CODE_TTL seconds (defaults 3600, 3600, 86400, 600)
//   IDP_CONFORM_ID_TOKEN_CLAIMS=1  restore oidc-provider's default
//                       (conformIdTokenClaims: true): id_tokens then carry
//                       NO email (only sub...), email moves to /me (userinfo)
//   IDP_READY_FILE      if set: write {"issuer","client_id","pid"} JSON there
//                       once the server accepts connections
//   IDP_LOG=1           log every request on stdout, one line each:
//                       `REQ <unix-ms> <METHOD> <path> <status> grant=<grant_type|-> error=<oauth error|->`
//                       (harmony_test_support counts these to assert "no IdP request")
//   IDP_SLOW_DOWN_FIRST=1  HARMONY EXTENSION: the FIRST still-pending poll of each
//                       device_code is answered `slow_down` (interval += 5 s),
//                       whatever the client's pace (tests the client back-off)
//   IDP_EXTRA_CLAIMS    HARMONY EXTENSION: JSON {"<account>": {"<claim>": value}}
//                       merged into that account's claims and released with the
//                       `openid` scope (so they land in the id_token), e.g.
//                       {"alice": {"urn:zitadel:iam:org:project:roles":
//                         {"harmony-developer": {"100": "zitadel.example.test"}}}}
//                       or {"bob": {"email_verified": false}}
//
// Test accounts (username / password -> email):
//   alice / alice-password -> alice@example.test
//   bob   / bob-password   -> bob@example.test
//
// Storage is oidc-provider's in-memory adapter: restarting the IdP forgets
// sessions, grants and refresh tokens (fine for tests, it warns about it).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const env = process.env;
const HOST = env.IDP_HOST || '127.0.0.1';
const PORT = Number(env.IDP_PORT ?? 9000);
const CLIENT_ID = env.IDP_CLIENT_ID || 'testbed-cli';
const ALG = env.IDP_SIGNING_ALG || 'RS256';
const DEVICE_INTERVAL = env.IDP_DEVICE_INTERVAL ? Number(env.IDP_DEVICE_INTERVAL) : undefined;
const SLOW_DOWN = env.IDP_SLOW_DOWN === '1';
const SLOW_DOWN_FIRST = env.IDP_SLOW_DOWN_FIRST === '1';
const LOG = env.IDP_LOG === '1';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

// ---------------------------------------------------------------- accounts --
const ACCOUNTS = {
  alice: {
    password: 'alice-password',
    claims: { email: 'alice@example.test', email_verified: true, name: 'Alice Example', preferred_username: 'alice' },
  },
  bob: {
    password: 'bob-password',
    claims: { email: 'bob@example.test', email_verified: true, name: 'Bob Example', preferred_username: 'bob' },
  },
};

const EXTRA_CLAIMS = JSON.parse(env.IDP_EXTRA_CLAIMS || '{}');
for (const [id, claims] of Object.entries(EXTRA_CLAIMS)) {
  if (!ACCOUNTS[id]) throw new Error(`IDP_EXTRA_CLAIMS names an unknown account ${id}`);
  Object.assign(ACCOUNTS[id].claims, claims);
}
// Extra claim names not released by a standard scope below go with `openid`.
const STANDARD_CLAIMS = ['sub', 'email', 'email_verified', 'name', 'preferred_username'];
const EXTRA_OPENID_CLAIMS = [...new Set(Object.values(EXTRA_CLAIMS).flatMap((c) => Object.keys(c)))]
  .filter((c) => !STANDARD_CLAIMS.includes(c));

async function findAccount(_ctx, id) {
  const account = ACCOUNTS[id];
  if (!account) return undefined;
  return {
    accountId: id,
    // oidc-provider filters this down to what the granted scopes allow.
    async claims() { return { sub: id, ...account.claims }; },
  };
}

// ------------------------------------------------------------ signing key --
function generateSigningJwks(alg) {
  let pair;
  if (alg.startsWith('RS') || alg.startsWith('PS')) {
    pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  } else if (alg === 'ES256') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  } else if (alg === 'EdDSA' || alg === 'Ed25519') {
    pair = crypto.generateKeyPairSync('ed25519');
  } else {
    throw new Error(`unsupported IDP_SIGNING_ALG ${alg}`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const kid = `testbed-${alg.toLowerCase()}-${crypto.randomBytes(4).toString('hex')}`;
  return { keys: [{ ...jwk, kid, alg, use: 'sig' }] };
}

function loadSigningJwks() {
  const file = env.IDP_JWKS_FILE;
  if (file && fs.existsSync(file)) {
    const jwks = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (jwks.keys?.[0]?.alg === ALG) return jwks;
  }
  const jwks = generateSigningJwks(ALG);
  if (file) fs.writeFileSync(file, JSON.stringify(jwks), { mode: 0o600 });
  return jwks;
}

// ------------------------------------------------------- provider config --
function configuration() {
  const ttl = (name, fallback) => Number(env[name] ?? fallback);
  return {
    clients: [{
      client_id: CLIENT_ID,
      client_name: 'Testbed CLI',
      application_type: 'native',
      token_endpoint_auth_method: 'none', // public client: no secret
      grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
      response_types: [], // device flow only: no /auth redirects, no redirect_uris
      redirect_uris: [],
      id_token_signed_response_alg: ALG,
      scope: 'openid email profile offline_access', // the scopes this client may ask for
    }],
    jwks: loadSigningJwks(),
    findAccount,
    // scope -> claims it releases. With conformIdTokenClaims=false these are
    // put INTO the id_token (the default, true, only puts them into /me
    // (userinfo) whenever an access token is also issued, i.e. always here).
    claims: {
      openid: ['sub', ...EXTRA_OPENID_CLAIMS],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: env.IDP_CONFORM_ID_TOKEN_CLAIMS === '1', // '1' = oidc-provider's default
    features: {
      deviceFlow: {
        enabled: true, // POST /device/auth (device authorization) and /device (verification page)
        // Plain pages with stable ids instead of the defaults (which @import a
        // Google font: pointless on an offline machine). `form` is oidc-provider's
        // own form markup (it carries the xsrf token); we only wrap it.
        async userCodeInputSource(ctx, form, _out, err) {
          const msg = err ? `<p id="error">${esc(err.userCode ? 'The code you entered is incorrect. Try again'
            : err.name === 'AbortedError' ? 'The Sign-in request was interrupted' : 'There was an error processing your request')}</p>` : '';
          ctx.type = 'html';
          ctx.body = html('Enter code', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
          ctx.type = 'html';
          ctx.body = html('Confirm device', `<p><strong>${esc(client.clientName || client.clientId)}</strong> shows the code
<code id="user_code">${esc(userCode)}</code></p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`);
        },
        async successSource(ctx) {
          ctx.type = 'html';
          ctx.body = html('Sign-in Success', '<p id="success">Your device is signed in. You can close this page.</p>');
        },
      },
      devInteractions: { enabled: false }, // we serve our own /interaction pages
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    ttl: {
      AccessToken: ttl('IDP_ACCESS_TOKEN_TTL', 3600),
      IdToken: ttl('IDP_ID_TOKEN_TTL', 3600),
      RefreshToken: ttl('IDP_REFRESH_TOKEN_TTL', 86400),
      DeviceCode: ttl('IDP_DEVICE_CODE_TTL', 600),
      Grant: 86400,
      Interaction: 3600,
      Session: 86400,
    },
    // Keep error pages terse and machine-greppable.
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = html('oidc error', `<p id="error">${esc(out.error)}</p>
<p id="error_description">${esc(out.error_description || '')}</p>`);
    },
  };
}

// ---------------------------------------------------- login/consent pages --
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function html(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function page(res, status, title, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html(title, body));
}

function loginPage(res, uid, { error, login = '' } = {}) {
  page(res, error ? 401 : 200, 'Sign-in', `${error ? `<p id="error" class="error">${esc(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <input type="text" name="login" placeholder="username" value="${esc(login)}" required autofocus>
  <input type="password" name="password" placeholder="password" required>
  <button type="submit">Sign-in</button>
</form>
<form id="abort-form" method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function consentPage(res, uid, client, details) {
  const scopes = details.missingOIDCScope || [];
  const claims = (details.missingOIDCClaims || []).filter((c) => !['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'].includes(c));
  page(res, 200, 'Authorize', `<p><strong>${esc(client?.clientName || client?.clientId)}</strong> asks for:</p>
<ul id="scopes">${scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
${claims.length ? `<p>claims:</p><ul id="claims">${claims.map((c) => `<li>${esc(c)}</li>`).join('')}</ul>` : ''}
<form id="consent-form" method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>
<form id="abort-form" method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Deny</button></form>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Handles /interaction/:uid[/login|/confirm|/abort]. The _interaction cookie
// (path /interaction/:uid) ties the browser to the pending interaction.
async function interactions(provider, req, res, pathname) {
  const [, , uid, action] = pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction uid mismatch');
  const { prompt, params } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return loginPage(res, uid);
    if (prompt.name === 'consent') {
      const client = await provider.Client.find(params.client_id);
      return consentPage(res, uid, client, prompt.details);
    }
    return page(res, 501, 'Unsupported prompt', `<p>${esc(prompt.name)}</p>`);
  }
  if (req.method !== 'POST') return page(res, 405, 'Method not allowed', '');

  if (action === 'login') {
    const form = await readForm(req);
    const login = form.get('login') || '';
    const account = ACCOUNTS[login];
    if (prompt.name !== 'login') return page(res, 400, 'Unexpected login submission', '');
    if (!account || form.get('password') !== account.password) {
      return loginPage(res, uid, { error: 'Invalid username or password', login });
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }

  if (action === 'confirm') {
    if (prompt.name !== 'consent') return page(res, 400, 'Unexpected consent submission', '');
    // Grant exactly what oidc-provider says is missing (scopes and claims).
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    if (prompt.details.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  return page(res, 404, 'Not found', '');
}

// ------------------------------------------------ testbed-only extensions --
function installDeviceFlowExtensions(provider) {
  // RFC 8628: "interval" is optional; when absent clients MUST use 5 s.
  if (DEVICE_INTERVAL) {
    provider.on('device_authorization.success', (_ctx, body) => { body.interval = DEVICE_INTERVAL; });
  }
  // Remember grant_type and OAuth error for the request log (IDP_LOG=1).
  provider.use(async (ctx, next) => {
    await next();
    ctx.req.harmonyGrant = ctx.oidc?.params?.grant_type;
    ctx.req.harmonyError = ctx.body?.error;
  });
  if (SLOW_DOWN_FIRST) {
    const seen = new Set();
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path !== '/token' || ctx.status !== 400 || ctx.body?.error !== 'authorization_pending') return;
      const code = ctx.oidc?.params?.device_code;
      if (!code || seen.has(code)) return;
      seen.add(code);
      ctx.body = { error: 'slow_down', error_description: 'first poll: slow down by 5s' };
    });
  }
  if (!SLOW_DOWN) return;
  // oidc-provider defines the slow_down error but never raises it. This
  // middleware rewrites a too-early "authorization_pending" into "slow_down".
  const polls = new Map(); // device_code -> { last: ms, interval: s }
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.status !== 400 || ctx.body?.error !== 'authorization_pending') return;
    const code = ctx.oidc?.params?.device_code;
    if (!code) return;
    const now = Date.now();
    const state = polls.get(code) || { last: 0, interval: DEVICE_INTERVAL || 5 };
    if (now - state.last < state.interval * 1000) {
      state.interval += 5;
      ctx.body = { error: 'slow_down', error_description: `poll at most every ${state.interval}s` };
    }
    state.last = now;
    polls.set(code, state);
    for (const [k, v] of polls) if (now - v.last > 15 * 60 * 1000) polls.delete(k);
  });
}

// ------------------------------------------------------------------ start --
const server = http.createServer();
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const issuer = env.IDP_ISSUER ? env.IDP_ISSUER.replaceAll('{port}', String(port)) : `http://${HOST}:${port}`;
  const provider = new Provider(issuer, configuration());
  installDeviceFlowExtensions(provider);
  provider.on('server_error', (ctx, err) => console.error('server_error', ctx.method, ctx.path, err));
  const callback = provider.callback();

  server.on('request', (req, res) => {
    const { pathname } = new URL(req.url, issuer);
    if (LOG) {
      // Logged when the status line is written (before the client can see the response; stdout
      // to a file is synchronous in Node), so a test reading the log after a response sees it.
      const writeHead = res.writeHead;
      let logged = false;
      res.writeHead = function (status, ...rest) {
        if (!logged) {
          logged = true;
          console.log(`REQ ${Date.now()} ${req.method} ${pathname} ${status} grant=${req.harmonyGrant || '-'} error=${req.harmonyError || '-'}`);
        }
        return writeHead.call(this, status, ...rest);
      };
    }
    if (pathname.startsWith('/interaction/')) {
      interactions(provider, req, res, pathname).catch((err) => {
        console.error('interaction error:', err.message);
        if (!res.headersSent) page(res, 400, 'Interaction error', `<p id="error">${esc(err.message)}</p>`);
      });
      return;
    }
    callback(req, res);
  });

  const ready = { issuer, client_id: CLIENT_ID, signing_alg: ALG, pid: process.pid };
  if (env.IDP_READY_FILE) fs.writeFileSync(env.IDP_READY_FILE, JSON.stringify(ready));
  console.log(`oidc-provider ready ${JSON.stringify(ready)}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { server.close(); server.closeAllConnections(); process.exit(0); });
}
