// An OpenID Provider for the tests, configured like FranceConnect's
// integration environment (FranceConnect v2). See README.md.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json: { port, issuer, clients, accounts, jwks, cookie_keys,
// pairwise_salt }. Prints "ready <issuer>" on stdout once listening on
// 127.0.0.1 only.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { CompactSign, decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const ACR_LEVELS = ['eidas1', 'eidas2', 'eidas3'];
const TAMPER_MODES = new Set(['aud', 'expired', 'nonce', 'forged', 'none', 'iss']);
const IDENTITY_CLAIMS = [
  'given_name', 'family_name', 'birthdate', 'birthplace', 'birthcountry',
  'gender', 'email', 'preferred_username',
];

// -- accounts ---------------------------------------------------------------
// A login name maps to an account; the account id ("sub" before pairwise) is
// its `sub`. Logins `citizen-<N>` are synthetic adults born in Paris.

const SYNTHETIC = /^citizen-(\d+)$/;

function synthetic(login) {
  const match = SYNTHETIC.exec(login);
  if (!match) return undefined;
  return {
    sub: login,
    given_name: 'Citoyen',
    family_name: match[1],
    birthdate: '1980-01-01',
    birthplace: '75056',
    birthcountry: '99100',
    gender: 'female',
    email: `${login}@example.org`,
    acr: 'eidas2',
  };
}

function accountByLogin(login) {
  const accounts = config.accounts ?? {};
  if (Object.hasOwn(accounts, login)) return { acr: 'eidas1', ...accounts[login] };
  return synthetic(login);
}

function accountById(accountId) {
  const named = Object.keys(config.accounts ?? {})
    .map(accountByLogin)
    .find((account) => account.sub === accountId);
  return named ?? synthetic(accountId);
}

// -- keys -------------------------------------------------------------------

const signingJwk = config.jwks.keys[0];
const signingKey = await importJWK(signingJwk, 'RS256');
// A key that is NOT published: what the "forged" tamper mode signs with.
const { privateKey: forgeryKey } = await generateKeyPair('RS256', { modulusLength: 2048 });

// -- the provider -----------------------------------------------------------

// Each scope is named after the one claim it releases, as at FranceConnect.
const scopeClaims = Object.fromEntries(IDENTITY_CLAIMS.map((claim) => [claim, [claim]]));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: config.cookie_keys },
  scopes: ['openid'], // no offline_access: no refresh tokens, as at FranceConnect
  claims: {
    openid: ['sub'], acr: null, amr: null, auth_time: null, iss: null, sid: null, ...scopeClaims,
  },
  // conformIdTokenClaims stays true: identity claims come from userinfo only.
  acrValues: ACR_LEVELS,
  subjectTypes: ['public', 'pairwise'],
  pairwiseIdentifier: async (ctx, accountId, client) => pairwise(accountId, client.sectorIdentifier),
  responseTypes: ['code'],
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 knows
  clientAuthMethods: ['client_secret_post', 'client_secret_basic'],
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
    subject_type: 'pairwise',
    token_endpoint_auth_method: 'client_secret_post',
  },
  enabledJWA: { idTokenSigningAlgValues: ['RS256'], userinfoSigningAlgValues: ['RS256'] },
  features: {
    devInteractions: { enabled: false },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
  },
  // FranceConnect's access tokens live 60 seconds.
  ttl: {
    AccessToken: 60, AuthorizationCode: 60, IdToken: 60, Interaction: 600, Session: 600, Grant: 600,
  },
  findAccount: async (ctx, accountId) => {
    const account = accountById(accountId);
    if (!account) return undefined;
    return {
      accountId,
      claims: async () => ({
        sub: accountId,
        ...Object.fromEntries(IDENTITY_CLAIMS.filter((c) => c in account).map((c) => [c, account[c]])),
      }),
    };
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    const lines = Object.entries(out).map(([k, v]) => `<p><strong>${k}</strong> : ${escape(v)}</p>`);
    ctx.body = page('Erreur', `<h1>Erreur</h1>${lines.join('')}`);
  },
});

function pairwise(accountId, sector) {
  const salt = config.pairwise_salt ?? '';
  return createHash('sha256').update(`${accountId}\n${sector}\n${salt}`).digest('hex');
}

// RFC 8252 §7.3: a loopback redirect URI registered without a port accepts
// any port, the rest (scheme, host, path, query) being equal. Used for web
// clients too: the service under test listens on a random port.
function loopbackMatch(requested, registered) {
  let got, want;
  try {
    [got, want] = [new URL(requested), new URL(registered)];
  } catch {
    return false;
  }
  return want.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(want.hostname)
    && want.port === '' && got.protocol === want.protocol && got.hostname === want.hostname
    && got.pathname === want.pathname && got.search === want.search
    && got.username === '' && got.password === '' && got.hash === '';
}

for (const [method, property] of [
  ['redirectUriAllowed', 'redirectUris'],
  ['postLogoutRedirectUriAllowed', 'postLogoutRedirectUris'],
]) {
  const original = provider.Client.prototype[method];
  provider.Client.prototype[method] = function allowed(value) {
    return original.call(this, value) || (this[property] ?? []).some((uri) => loopbackMatch(value, uri));
  };
}

// -- pages ------------------------------------------------------------------

function escape(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>${body}</main></body></html>`;
}

function loginPage(uid, error) {
  const alert = error ? `<p id="login-error" role="alert">${escape(error)}</p>` : '';
  const described = error ? ' aria-describedby="login-error" aria-invalid="true"' : '';
  return page('Connexion – fournisseur d’identité de test', `
<h1>Connexion</h1>${alert}
<form method="post" action="/interaction/${escape(uid)}/login">
  <label for="login">Identifiant</label>
  <input id="login" name="login" autocomplete="username" required${described}>
  <button type="submit">Se connecter</button>
</form>`);
}

async function logoutSource(ctx, form) {
  // Signs out at once (FranceConnect asks nothing): the form posts itself.
  ctx.body = page('Déconnexion', `<h1>Déconnexion</h1>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Se déconnecter</button>
<script>document.querySelector('button[name=logout]').click();</script>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Déconnexion', '<h1>Vous êtes déconnecté.</h1>');
}

// -- interactions: login form, consent granted automatically ---------------

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16384) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function finish(ctx, result, merge) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: merge,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

// As the oidc-provider documentation's example: grant what was asked for.
async function grantConsent(ctx, interaction) {
  const { prompt: { details }, params, session } = interaction;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await finish(ctx, { consent: interaction.grantId ? {} : { grantId } }, true);
}

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, login] = match;
  ctx.set('cache-control', 'no-store');
  try {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== uid) throw new Error('interaction mismatch');
    if (ctx.method === 'GET' && !login) {
      if (interaction.prompt.name === 'consent') return await grantConsent(ctx, interaction);
      ctx.type = 'html';
      ctx.body = loginPage(uid);
      return undefined;
    }
    if (ctx.method === 'POST' && login && interaction.prompt.name === 'login') {
      const name = (await readForm(ctx.req)).get('login')?.trim() ?? '';
      const account = accountByLogin(name);
      if (!account) {
        ctx.status = 400;
        ctx.type = 'html';
        ctx.body = loginPage(uid, `Identifiant inconnu : ${name}`);
        return undefined;
      }
      // The level actually reached, whatever acr_values asked for: the
      // relying party must check it, as with FranceConnect.
      const acr = ACR_LEVELS.includes(account.acr) ? account.acr : 'eidas1';
      return await finish(ctx, { login: { accountId: account.sub, acr } }, false);
    }
    ctx.status = 405;
    ctx.body = page('Erreur', '<h1>Requête invalide</h1>');
  } catch (error) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Erreur', `<h1>Erreur</h1><p>${escape(error.message)}</p>`);
  }
  return undefined;
});

// -- tampering: a man-in-the-middle on the token endpoint's response -------

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function sign(header, payload, key) {
  return new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader(header).sign(key);
}

async function tamper(mode, idToken) {
  const header = decodeProtectedHeader(idToken);
  const payload = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'aud': return sign(header, { ...payload, aud: 'another-client' }, signingKey);
    case 'expired': return sign(header, { ...payload, exp: now - 3600, iat: now - 7200 }, signingKey);
    case 'nonce': return sign(header, { ...payload, nonce: 'not-the-nonce' }, signingKey);
    case 'iss': return sign(header, { ...payload, iss: 'http://evil.example' }, signingKey);
    case 'forged': return sign(header, payload, forgeryKey); // same kid, unpublished key
    case 'none': return `${b64({ alg: 'none' })}.${b64(payload)}.`;
    default: return idToken;
  }
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.method !== 'POST' || ctx.path !== '/token' || ctx.status !== 200) return;
  const idToken = ctx.body?.id_token;
  const accountId = ctx.oidc?.entities?.Account?.accountId;
  const mode = accountId === undefined ? undefined : accountById(accountId)?.tamper;
  if (typeof idToken === 'string' && TAMPER_MODES.has(mode)) {
    ctx.body = { ...ctx.body, id_token: await tamper(mode, idToken) };
  }
});

// -- listen -----------------------------------------------------------------

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
