// Signs a simulated resident or official in at the development provider (provider.mjs) as an
// app on their device would: the authorization code flow with PKCE, state and nonce, through
// the provider's real sign-in page, then the code exchanged at its token endpoint. Prints one
// line of JSON: {"login": "...", "id_token": "...", "nonce": "..."}. The ID token is what the
// node takes as `authorization: Bearer <id_token>`. With `--count N`, signs in N residents
// `NAME-0` … `NAME-<N-1>`, one line each (at most 100,000).
//
//   node sign-in.mjs --issuer URL --client-id ID [--client-secret S] --redirect-uri URI --login NAME [--count N]
import { createHash, randomBytes } from 'node:crypto';

function arg(name, required = true) {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (required && !value) {
    console.error(`sign-in: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const issuer = arg('--issuer').replace(/\/$/, '');
const clientId = arg('--client-id');
const clientSecret = arg('--client-secret', false);
const redirectUri = arg('--redirect-uri');
const loginArg = arg('--login');
const count = arg('--count', false);
if (count !== undefined && !(/^\d+$/.test(count) && Number(count) >= 1 && Number(count) <= 100_000)) {
  console.error('sign-in: --count is 1 to 100000');
  process.exit(2);
}

const b64url = (buf) => buf.toString('base64url');

async function signIn(login) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));

  // A cookie jar of one origin (one per sign-in), for the provider's session and interaction.
  const jar = new Map();
  async function go(url, init = {}) {
    const headers = { ...(init.headers ?? {}) };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }
  function fail(step, res, body) {
    console.error(`sign-in: ${step} answered ${res.status} ${body ?? ''}`.trim());
    process.exit(1);
  }

  const auth = new URL(`${issuer}/auth`);
  for (const [k, v] of Object.entries({
    client_id: clientId, response_type: 'code', scope: 'openid vidkryto', redirect_uri: redirectUri,
    state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
  })) auth.searchParams.set(k, v);

  let res = await go(auth);
  let location = res.headers.get('location');
  if (res.status !== 303 || !location?.includes('/interaction/')) fail('authorization', res, await res.text());
  res = await go(location);
  if (res.status !== 200) fail('sign-in page', res, await res.text());
  res = await go(`${location}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login }).toString(),
  });
  // The provider resumes the authorization, then redirects back with the code.
  for (let hops = 0; hops < 5; hops += 1) {
    location = res.headers.get('location');
    if (!location) fail('sign-in', res, await res.text());
    if (location.startsWith(redirectUri)) break;
    res = await go(location);
  }
  const back = new URL(location);
  if (back.searchParams.get('state') !== state) fail('redirect (state)', res, location);
  const code = back.searchParams.get('code');
  if (!code) fail('redirect (no code)', res, location);

  const tokenHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier };
  if (clientSecret) {
    tokenHeaders.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  } else {
    form.client_id = clientId;
  }
  res = await fetch(`${issuer}/token`, { method: 'POST', headers: tokenHeaders, body: new URLSearchParams(form).toString(), signal: AbortSignal.timeout(10_000) });
  const tokens = await res.json();
  if (res.status !== 200 || !tokens.id_token) fail('token', res, JSON.stringify(tokens));
  process.stdout.write(`${JSON.stringify({ login, id_token: tokens.id_token, nonce })}\n`);
}

if (count === undefined) {
  await signIn(loginArg);
} else {
  for (let i = 0; i < Number(count); i += 1) await signIn(`${loginArg}-${i}`);
}
