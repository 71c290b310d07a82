// A real OpenID Connect provider (the `oidc-provider` package) for `vidkryto dev` and the
// tests: simulated residents and officials sign in through it as residents sign in through
// ID.gov.ua, Diia or BankID. It is a development tool: every login name is accepted without a
// password, the login name is the subject, and the staff named in the config get their roles
// in the `vidkryto_roles` claim of their ID token. What a real provider attests of a person
// (the standard `birthdate` claim, and the KATOTTG code of their registered residence in
// `vidkryto_residence`) comes from `people`, or from `default_person` for other logins.
//
//   node provider.mjs --config provider.json
//
// provider.json: {
//   "port": 0,                    // 0: a free loopback port; the listening URL is printed
//   "issuer": "",                 // default http://127.0.0.1:<port>
//   "clients": [{ "client_id", "client_secret" (optional: none makes a public client),
//                 "redirect_uris": [...] }],
//   "staff": { "<login>": ["moderator", "official", "coordinator", "administrator"] },
//   "people": { "<login>": { "birthdate": "YYYY-MM-DD", "residence": "UA…" } },
//   "default_person": { "birthdate": …, "residence": … },   // optional
//   "client_residences": { "<client_id>": "UA…" },  // optional: a residence for logins that
//                         // have none, by the client they sign in to (a demo's hromadas)
//   "id_token_ttl_seconds": 600
// }
// When it listens, it prints one line of JSON to stdout: {"issuer": "...", "port": N}.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const ROLES_CLAIM = 'vidkryto_roles';
const RESIDENCE_CLAIM = 'vidkryto_residence';
const LOGIN_MAX = 128;
const FORM_BYTES_MAX = 4096;

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const configPath = arg('--config');
if (!configPath) {
  console.error('usage: node provider.mjs --config provider.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const staff = config.staff ?? {};
const people = config.people ?? {};

const clientResidences = config.client_residences ?? {};

// The claims of `login` signing in to `clientId`: its subject, its roles, and what the
// provider attests of it.
function claimsOf(login, clientId) {
  const claims = { sub: login };
  if (staff[login]) claims[ROLES_CLAIM] = staff[login];
  const person = Object.hasOwn(people, login) ? people[login] : config.default_person;
  if (person?.birthdate) claims.birthdate = person.birthdate;
  const residence = person?.residence
    ?? (Object.hasOwn(clientResidences, clientId) ? clientResidences[clientId] : undefined);
  if (residence) claims[RESIDENCE_CLAIM] = residence;
  return claims;
}

// Listen first, so the issuer can name the port the system chose.
const server = createServer();
await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = config.issuer || `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `dev-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((c) => ({
    client_id: c.client_id,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // A client without a secret is public (an app on a resident's device): PKCE alone.
    ...(c.client_secret
      ? { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
      : { token_endpoint_auth_method: 'none' }),
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'vidkryto'],
  claims: { openid: ['sub'], vidkryto: [ROLES_CLAIM, 'birthdate', RESIDENCE_CLAIM] },
  // The node reads the roles from the ID token itself, not from the userinfo endpoint.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: {
    IdToken: config.id_token_ttl_seconds ?? 600,
    AccessToken: 600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => claimsOf(id, ctx.oidc?.client?.clientId),
  }),
  // Every client here is the project's own: consent is given with the sign-in.
  loadExistingGrant: async (ctx) => {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid vidkryto');
    grant.addOIDCClaims([ROLES_CLAIM, 'birthdate', RESIDENCE_CLAIM]);
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, err) => console.error('provider error:', err));

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > FORM_BYTES_MAX) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// The sign-in page: one field, the login name (any name is accepted: this is a simulation).
async function interaction(req, res, uid, submit) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    res.writeHead(400).end('unknown interaction');
    return;
  }
  if (!submit) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="uk"><head><meta charset="utf-8"><title>Вхід · Sign in</title></head>
<body><main><h1>Вхід (демо) · Sign in (demo)</h1>
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login">Ім'я для входу · Login name</label>
<input id="login" name="login" autocomplete="username" required maxlength="${LOGIN_MAX}">
<button type="submit">Увійти · Sign in</button></form></main></body></html>`);
    return;
  }
  const form = await readForm(req);
  const login = (form.get('login') ?? '').trim();
  if (!login || login.length > LOGIN_MAX) {
    res.writeHead(400).end('a login name of 1 to 128 characters is needed');
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
}

const handler = provider.callback();
server.on('request', async (req, res) => {
  try {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(req.url.split('?')[0]);
    if (m) {
      await interaction(req, res, m[1], req.method === 'POST' && m[2] === '/login');
      return;
    }
    handler(req, res);
  } catch (err) {
    console.error('interaction failed:', err.message);
    if (!res.headersSent) res.writeHead(400).end(err.message);
  }
});

process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
