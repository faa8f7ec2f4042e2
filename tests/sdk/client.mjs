// The Commerce Layer JS SDK's client, unmodified but for the URL: a fetch that sends the SDK's
// https://<organization>.commercelayer.io/api/... requests to API_URL. Its `bundle` entry point
// is the client with every resource on it (version 7's main entry point exports the resources
// one by one).
import { CommerceLayer } from "@commercelayer/sdk/bundle";

const SDK_ROOT = "https://giftcards.commercelayer.io/api";

function ours(url) {
  const text = String(url);
  if (!text.startsWith(SDK_ROOT)) throw new Error(`unexpected URL ${text}`);
  return process.env.API_URL + text.slice(SDK_ROOT.length);
}

export const cl = CommerceLayer({
  organization: "giftcards",
  domain: "commercelayer.io",
  accessToken: process.env.API_KEY,
  fetch: (url, options) => fetch(ours(url), options),
});
