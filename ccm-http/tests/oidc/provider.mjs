// A real OpenID Connect provider (npm `oidc-provider`) for the login tests (Rust)
// and the dashboard's browser tests. Listens on a free port and prints
// `ready <port>`. Logins complete without a form: the account is the `login_hint`
// (alice: manager, bob: user, root: admin, nobody: no role), and consent is granted
// at once. ID tokens carry Keycloak-style
// `realm_access.roles`; access tokens live ACCESS_TTL seconds; refresh tokens are
// always issued.
import http from 'node:http';
import Provider from 'oidc-provider';

const roles = { alice: ['manager'], bob: ['user'], root: ['admin'], nobody: [] };
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: 'ccm',
      client_secret: 'ccm-secret',
      redirect_uris: [process.env.REDIRECT_URI],
      post_logout_redirect_uris: [process.env.POST_LOGOUT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: { openid: ['sub'], profile: ['preferred_username'], roles: ['realm_access'] },
    scopes: ['openid', 'profile', 'roles', 'offline_access'],
    conformIdTokenClaims: false,
    issueRefreshToken: async () => true,
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        preferred_username: id,
        realm_access: { roles: roles[id] ?? [] },
      }),
    }),
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    ttl: { AccessToken: Number(process.env.ACCESS_TTL ?? 3600), IdToken: 3600, RefreshToken: 3600 },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  provider.use(async (ctx, next) => {
    if (!/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, session } = details;
    let result;
    if (prompt.name === 'login') {
      result = { login: { accountId: params.login_hint ?? 'alice' } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  });
  server.on('request', provider.callback());
  console.log(`ready ${port}`);
});
