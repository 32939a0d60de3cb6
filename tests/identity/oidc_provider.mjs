// A real OpenID provider (panva's oidc-provider, OpenID Certified) for the server's SSO tests.
// Its development login form accepts any login, which becomes the account id; an account's
// email is its login and its groups come from NEOFORGE_OIDC_GROUPS (JSON: login -> [group]).
//
// The one addition: a test can make the token endpoint hand out a spoiled ID token
// (POST /__spoil with a body of tamper|audience|nonce|expired|foreign_key|none), re-signed
// with the provider's own key where the spoiling needs a valid signature.
//
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI. Prints `{"issuer": …}` when ready.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
const groups = JSON.parse(process.env.NEOFORGE_OIDC_GROUPS || '{}');

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'k1', use: 'sig', alg: 'RS256' };
const { privateKey: foreignKey } = await jose.generateKeyPair('RS256');

let spoil = 'none';

async function spoiled(idToken) {
  const claims = jose.decodeJwt(idToken);
  const resign = (key, changes) => new jose.SignJWT({ ...claims, ...changes })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .sign(key);
  const key = await jose.importJWK(signingJwk, 'RS256');
  switch (spoil) {
    case 'tamper': {
      // Change a claim and keep the original signature.
      const [h, , s] = idToken.split('.');
      const body = Buffer.from(JSON.stringify({ ...claims, email: 'mallory@acme.test' })).toString('base64url');
      return `${h}.${body}.${s}`;
    }
    case 'audience': return resign(key, { aud: 'someone-else' });
    case 'nonce': return resign(key, { nonce: 'not-the-nonce' });
    case 'expired': return resign(key, { iat: claims.iat - 7200, exp: claims.iat - 3600 });
    case 'foreign_key': return resign(foreignKey, {});
    default: return idToken;
  }
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
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
    ctx.body = { ...ctx.body, id_token: await spoiled(ctx.body.id_token) };
  }
});

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/__spoil') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      spoil = body.trim();
      res.writeHead(204).end();
    });
    return;
  }
  callback(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
