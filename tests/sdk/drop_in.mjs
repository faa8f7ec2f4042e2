// The Commerce Layer JS SDK, unmodified, as a drop-in client of this service: only the URL is
// ours (client.mjs). It reads a refused create through its own error type, lists cards
// filtered by market and by tag names, and creates a card with tags by relationship. Prints
// one JSON object of what each step got back; exits 1 on the first unexpected error.
//
//   API_URL=http://127.0.0.1:8000/api API_KEY=<key> MARKET_ID=<id> TAG_ID=<id> \
//     node drop_in.mjs
import { CommerceLayerStatic } from "@commercelayer/sdk";
import { cl } from "./client.mjs";

const { MARKET_ID, TAG_ID } = process.env;

const references = (cards) => cards.map((card) => card.reference).sort();

const result = {};
try {
  // (a) A refused create, read through the SDK's own error type.
  try {
    await cl.gift_cards.create({ balance_cents: -100, currency_code: "USD" });
    result.refused = { created: true };
  } catch (error) {
    const first = CommerceLayerStatic.isApiError(error) ? error.first() : null;
    result.refused = {
      is_api_error: CommerceLayerStatic.isApiError(error),
      status: error.status,
      code: first ? first.code : null,
      pointer: first && first.source ? first.source.pointer : null,
    };
  }

  // (b) Lists filtered by a relationship's attribute.
  const byMarket = await cl.gift_cards.list({ filters: { market_id_eq: MARKET_ID } });
  result.by_market = references(byMarket);
  result.by_market_count = byMarket.meta.recordCount;
  const byTags = await cl.gift_cards.list({ filters: { tags_name_in: "vip,summer" } });
  result.by_tags = references(byTags);
  result.by_tags_count = byTags.meta.recordCount;
  const either = await cl.gift_cards.list({
    filters: { reference_or_reference_origin_cont_any: "sdk-a,sdk-c" },
  });
  result.by_or_any = references(either);

  // (c) A card created with tags by relationship, its tags read back.
  const created = await cl.gift_cards.create({
    balance_cents: 2500,
    currency_code: "USD",
    reference: "sdk-tagged",
    tags: [cl.tags.relationship(TAG_ID)],
  });
  const card = await cl.gift_cards.retrieve(created.id, { include: ["tags"] });
  result.created_tags = (card.tags || []).map((tag) => ({ id: tag.id, name: tag.name }));
  result.related_tags = (await cl.gift_cards.tags(created.id)).map((tag) => tag.name);
  // An update's tags linkage replaces the card's tags.
  const vip = (await cl.tags.list({ filters: { name_eq: "vip" } }))[0];
  const retagged = await cl.gift_cards.update(
    { id: created.id, tags: [cl.tags.relationship(vip.id)] },
    { include: ["tags"] },
  );
  result.retagged = (retagged.tags || []).map((tag) => tag.name);
} catch (error) {
  result.error = {
    name: error.name,
    message: error.message,
    status: error.status,
    errors: error.errors,
  };
  console.log(JSON.stringify(result));
  process.exit(1);
}
console.log(JSON.stringify(result));
