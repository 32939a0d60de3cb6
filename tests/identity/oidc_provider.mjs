// Real OpenID providers (panva's oidc-provider, OpenID Certified) for the server's SSO tests:
// one process serves a provider per test, each under its own issuer path, so a test run
// starts node once. Each provider's development login form accepts any login, which becomes
// the account id; an account's email is its login.
//
// POST /providers with {client_id, client_secret, redirect_uri, groups} (groups: JSON
// login -> [group]) creates a provider with that one client and answers {"issuer": …}.
//
// The one addition to a provider: a test can make its token endpoint hand out a spoiled ID
// token (POST <issuer>/__spoil with a body of tamper|audience|nonce|expired|foreign_key|none),
// re-signed with the provider's own key where the spoiling needs a valid signature.
//
// Prints `{"base": …}` when ready.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'k1', use: 'sig', alg: 'RS256' };
const signingKey = await jose.importJWK(signingJwk, 'RS256');
const { privateKey: foreignKey } = await jose.generateKeyPair('RS256');

async function spoiled(idToken, spoil) {
  const claims = jose.decodeJwt(idToken);
  const resign = (key, changes) => new jose.SignJWT({ ...claims, ...changes })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .sign(key);
  switch (spoil) {
    case 'tamper': {
      // Change a claim and keep the original signature.
      const [h, , s] = idToken.split('.');
      const body = Buffer.from(JSON.stringify({ ...claims, email: 'mallory@acme.test' })).toString('base64url');
      return `${h}.${body}.${s}`;
    }
    case 'audience': return resign(signingKey, { aud: 'someone-else' });
    case 'nonce': return resign(signingKey, { nonce: 'not-the-nonce' });
    case 'expired': return resign(signingKey, { iat: claims.iat - 7200, exp: claims.iat - 3600 });
    case 'foreign_key': return resign(foreignKey, {});
    default: return idToken;
  }
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

// Path prefix ("/3") -> { callback, state: { spoil } }.
const providers = new Map();

function create({ client_id, client_secret, redirect_uri, groups = {} }) {
  const prefix = `/${providers.size + 1}`;
  const state = { spoil: 'none' };
  const provider = new Provider(`${base}${prefix}`, {
    clients: [{
      client_id,
      client_secret,
      redirect_uris: [redirect_uri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    jwks: { keys: [signingJwk] },
    claims: { openid: ['sub'], email: ['email', 'email_verified', 'groups'], profile: ['name'] },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: id, email_verified: true, name: id, groups: groups[id] || [] };
        },
      };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: await spoiled(ctx.body.id_token, state.spoil) };
    }
  });
  providers.set(prefix, { callback: provider.callback(), state });
  return `${base}${prefix}`;
}

function body(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.on('data', (c) => { text += c; });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

server.on('request', async (req, res) => {
  if (req.method === 'POST' && req.url === '/providers') {
    try {
      const issuer = create(JSON.parse(await body(req)));
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer }));
    } catch (e) {
      res.writeHead(400).end(String(e));
    }
    return;
  }
  const prefix = req.url.match(/^\/\d+/)?.[0];
  const found = prefix && providers.get(prefix);
  if (!found) {
    res.writeHead(404).end();
    return;
  }
  if (req.method === 'POST' && req.url === `${prefix}/__spoil`) {
    found.state.spoil = (await body(req)).trim();
    res.writeHead(204).end();
    return;
  }
  // Mounted under its prefix: the provider routes on the rest of the path.
  req.originalUrl = req.url;
  req.url = req.url.slice(prefix.length) || '/';
  found.callback(req, res);
});

process.stdout.write(`${JSON.stringify({ base })}\n`);
