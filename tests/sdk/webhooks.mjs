// The Commerce Layer JS SDK, unmodified, run against this service: only the URL is ours (a
// fetch that sends the SDK's https://<organization>.commercelayer.io/api/... requests to
// API_URL). Its `bundle` entry point is the client with every resource on it (version 7's
// main entry point exports the resources one by one). Prints one JSON object of what each
// step got back; exits 1 on the first error.
//
//   API_URL=http://127.0.0.1:8000/api API_KEY=<key> CARD_ID=<id> CALLBACK_URL=<url> \
//     node webhooks.mjs
import { cl } from "./client.mjs";

const { CARD_ID, CALLBACK_URL } = process.env;

const result = {};
try {
  const webhook = await cl.webhooks.create({
    name: "sdk",
    topic: "gift_cards.activate",
    callback_url: CALLBACK_URL,
    include_resources: ["market"],
  });
  result.webhook = {
    id: webhook.id,
    topic: webhook.topic,
    callback_url: webhook.callback_url,
    circuit_state: webhook.circuit_state,
    has_secret: typeof webhook.shared_secret === "string" && webhook.shared_secret.length > 20,
  };

  const events = await cl.events.list({ filters: { name_start: "gift_cards" }, pageSize: 25 });
  result.events = events.map((event) => event.name);
  result.event_count = events.meta.recordCount;
  const activate = events.find((event) => event.name === "gift_cards.activate");
  result.activate_webhooks = (await cl.events.webhooks(activate.id)).map((hook) => hook.id);

  result.card_events = (await cl.gift_cards.events(CARD_ID)).map((event) => event.name);
  result.card_attachments_before = (await cl.gift_cards.attachments(CARD_ID)).length;

  const attachment = await cl.attachments.create({
    name: "Receipt",
    description: "Order 1001",
    url: "https://shop.example.com/receipts/1001.pdf",
    attachable: cl.gift_cards.relationship(CARD_ID),
  });
  result.attachment = { id: attachment.id, name: attachment.name, url: attachment.url };
  result.card_attachments_after = (await cl.gift_cards.attachments(CARD_ID)).map((a) => a.name);
  const card = await cl.gift_cards.retrieve(CARD_ID, { include: ["attachments"] });
  result.included_attachments = (card.attachments || []).map((a) => a.id);

  const reset = await cl.webhooks._reset_circuit(webhook.id);
  result.reset = {
    circuit_state: reset.circuit_state,
    circuit_failure_count: reset.circuit_failure_count,
  };
  const callbacks = await cl.webhooks.last_event_callbacks(webhook.id);
  result.last_event_callbacks = callbacks.length;
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
