import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface SigningKey {
  kid: string;
  privateKey: PrivateKey;
  jwk: JWK;
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** A JWKS endpoint on loopback whose key list the test can change (rotation). */
export async function jwksServer(keys: SigningKey[]): Promise<{ url: string; setKeys(keys: SigningKey[]): void; fetches(): number; close(): Promise<void> }> {
  let current = keys;
  let fetches = 0;
  const server: Server = createServer((_req, res) => {
    fetches += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: current.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    setKeys: (k) => (current = k),
    fetches: () => fetches,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function signEvent(
  key: SigningKey,
  claims: Record<string, unknown>,
  options: { issuer?: string; expiresIn?: string | number } = {},
): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' }).setIssuedAt();
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(key.privateKey);
}
