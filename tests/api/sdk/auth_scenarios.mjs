// Scenarios of sign-in (signed messages, API keys) and smart wallets. Each returns what it observed.

const UPSTREAM_SENTENCE = "Please sign the below text for ownership verification.";

async function auth(p, h) {
  const owner = new h.Wallet(p.key);
  const other = h.Wallet.createRandom();
  const client = new h.Client({ endpoint: p.endpoint, factoryAddress: p.factory });
  const out = {};
  const issue = async () => (await client.getSignatureFormat(owner.address)).message;

  const message = await issue();
  out.message = message;
  const signature = await owner.signMessage(message);
  out.good = await h.attempt(() => client.authWithSignature({ message, signature }));
  out.goodClaims = h.claims(out.good.value?.authKey ?? "");
  out.keyValid = out.good.value ? client.isAuthKeyValid(out.good.value.authKey) : false;
  client.setAuthKey(out.good.value?.authKey);
  out.walletsWithKey = await h.attempt(() => client.getWallets());

  // the same message and signature a second time
  out.replay = await h.attempt(() => client.authWithSignature({ message, signature }));

  // a message we issued for the owner, signed by someone else
  const forOwner = await issue();
  out.wrongSigner = await h.attempt(async () =>
    client.authWithSignature({ message: forOwner, signature: await other.signMessage(forOwner) }));
  // the same message is still good afterwards (a failed attempt does not use it up)
  out.afterWrongSigner = await h.attempt(async () =>
    client.authWithSignature({ message: forOwner, signature: await owner.signMessage(forOwner) }));

  // a message we issued, altered (a later Expire At) and signed by the owner
  const altered = (await issue()).replace(/Expire At: .*/, "Expire At: 2099-01-01T00:00:00.000Z");
  out.altered = await h.attempt(async () =>
    client.authWithSignature({ message: altered, signature: await owner.signMessage(altered) }));

  // upstream's 8 lines, well formed, written by the client itself (never issued by this server)
  const now = new Date();
  const own = [UPSTREAM_SENTENCE, "", "URI: https://app.avaprotocol.org", `Chain ID: ${p.chainId}`, "Version: 1",
               `Issued At: ${now.toISOString()}`, `Expire At: ${new Date(now.getTime() + 3600e3).toISOString()}`,
               `Wallet: ${owner.address}`].join("\n");
  out.notIssued = await h.attempt(async () =>
    client.authWithSignature({ message: own, signature: await owner.signMessage(own) }));

  // an issued message with a nonce of our own making
  const forged = (await issue()).replace(/Nonce: .*/, "Nonce: 00000000000000000000000000000000");
  out.forgedNonce = await h.attempt(async () =>
    client.authWithSignature({ message: forged, signature: await owner.signMessage(forged) }));

  // another chain's id
  const otherChain = (await issue()).replace(/Chain ID: .*/, "Chain ID: 1");
  out.wrongChain = await h.attempt(async () =>
    client.authWithSignature({ message: otherChain, signature: await owner.signMessage(otherChain) }));

  // a signature that is not hex
  out.badSignature = await h.attempt(async () => client.authWithSignature({ message: await issue(),
                                                                            signature: "0xnothex" }));
  out.badWallet = await h.attempt(() => client.getSignatureFormat("0x1234"));

  // RPCs without a key, with a key that is not a token, and with another user's token
  client.setAuthKey(undefined);
  out.noKey = await h.attempt(() => client.getWallets());
  out.garbageKey = await h.attempt(() => client.getWallets({ authKey: "abc.def.ghi" }));
  const otherClient = await h.signIn(p, other);
  out.otherWallets = await h.attempt(() => otherClient.getWallets());
  out.otherAddress = other.address;
  return out;
}

async function apikey(p, h) {
  // p.apiKey: admin key (subject p.adminSubject); p.readonlyKey: readonly key of p.readonlySubject;
  // p.revocableKey: an admin key the test revokes after this scenario; p.target: a wallet nobody signs for here
  const client = new h.Client({ endpoint: p.endpoint, factoryAddress: p.factory });
  const out = {};
  const message = (await client.getSignatureFormat(p.target)).message;
  out.admin = await h.attempt(() => client.authWithAPIKey({ message, apiKey: p.apiKey }));
  out.adminClaims = h.claims(out.admin.value?.authKey ?? "");
  client.setAuthKey(out.admin.value?.authKey);
  out.adminWallets = await h.attempt(() => client.getWallets());
  out.adminWallet1 = await h.attempt(() => client.getWallet({ salt: "1" }));
  // the same message cannot mint a second token
  out.adminReplay = await h.attempt(() => client.authWithAPIKey({ message, apiKey: p.apiKey }));

  // the API key itself as the authkey acts as its subject
  out.direct = await h.attempt(() => client.getWallets({ authKey: p.apiKey }));

  // a readonly key for another wallet: refused; for its own subject: accepted
  const forTarget = (await client.getSignatureFormat(p.target)).message;
  out.readonlyOther = await h.attempt(() => client.authWithAPIKey({ message: forTarget, apiKey: p.readonlyKey }));
  const forSubject = (await client.getSignatureFormat(p.readonlySubject)).message;
  out.readonlySelf = await h.attempt(() => client.authWithAPIKey({ message: forSubject, apiKey: p.readonlyKey }));
  out.readonlySelfClaims = h.claims(out.readonlySelf.value?.authKey ?? "");

  // a key whose signature part was tampered with
  const parts = p.apiKey.split(".");
  const flipped = parts[2][0] === "A" ? "B" : "A";
  const tampered = [parts[0], parts[1], flipped + parts[2].slice(1)].join(".");
  const forTampered = (await client.getSignatureFormat(p.target)).message;
  out.tampered = await h.attempt(() => client.authWithAPIKey({ message: forTampered, apiKey: tampered }));

  // a token from the key the test will revoke next
  const forRevocable = (await client.getSignatureFormat(p.target)).message;
  out.revocable = await h.attempt(() => client.authWithAPIKey({ message: forRevocable, apiKey: p.revocableKey }));
  out.revocableWorks = await h.attempt(() => client.getWallets({ authKey: out.revocable.value?.authKey }));
  return out;
}

async function apikeyRevoked(p, h) {
  // after `hourglass api key revoke`: the key mints nothing and what it minted stops working
  const client = new h.Client({ endpoint: p.endpoint, factoryAddress: p.factory });
  const message = (await client.getSignatureFormat(p.target)).message;
  return {
    mint: await h.attempt(() => client.authWithAPIKey({ message, apiKey: p.revocableKey })),
    oldToken: await h.attempt(() => client.getWallets({ authKey: p.revocableToken })),
    keyAsAuthKey: await h.attempt(() => client.getWallets({ authKey: p.revocableKey })),
    // the admin key that was not revoked still works
    admin: await h.attempt(async () => {
      const fresh = (await client.getSignatureFormat(p.target)).message;
      return client.authWithAPIKey({ message: fresh, apiKey: p.apiKey });
    }),
  };
}

async function wallets(p, h) {
  const client = await h.signIn(p, new h.Wallet(p.key));
  const out = {};
  out.initial = await h.attempt(() => client.getWallets());
  out.salt1 = await h.attempt(() => client.getWallet({ salt: "1" }));
  out.salt2 = await h.attempt(() => client.getWallet({ salt: "2" }));
  out.salt1Again = await h.attempt(() => client.getWallet({ salt: "1" }));
  out.salt0 = await h.attempt(() => client.getWallet({ salt: "0" }));
  out.listed = await h.attempt(() => client.getWallets());
  out.hide = await h.attempt(() => client.setWallet({ salt: "2" }, { isHidden: true }));
  out.listedHidden = await h.attempt(() => client.getWallets());
  out.unhide = await h.attempt(() => client.setWallet({ salt: "2" }, { isHidden: false }));
  out.listedUnhidden = await h.attempt(() => client.getWallets());
  out.negativeSalt = await h.attempt(() => client.getWallet({ salt: "-1" }));
  out.wordSalt = await h.attempt(() => client.getWallet({ salt: "abc" }));
  out.badFactory = await h.attempt(() => client.getWallet({ salt: "1", factoryAddress: "0x1234" }));
  out.unknownSetWallet = await h.attempt(() => client.setWallet({ salt: "99" }, { isHidden: true }));
  return out;
}

export const scenarios = { auth, apikey, "apikey-revoked": apikeyRevoked, wallets };
